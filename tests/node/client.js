#!/usr/bin/env node
// Scripted Socket.IO v4 client for the Python realtime tests (tests/realtime/node_client.py).
//
// Usage: node client.js '<json script>'     or     echo '<json script>' | node client.js
//
// Script:
//   {
//     "url": "http://127.0.0.1:5000",      // required, no namespace
//     "namespace": "/leaderboard",         // default "/"
//     "token": "...",                      // optional: sent as auth {token}
//     "auth": {...},                       // optional: raw auth object (overrides token)
//     "transports": ["websocket"],         // optional: default is polling then upgrade
//     "path": "/socket.io",                // optional
//     "query": {...},                      // optional: handshake query parameters
//     "timeoutMs": 10000,                  // optional: default timeout of waitFor/collect
//     "steps": [ ... ]
//   }
//
// Steps, run in order:
//   {"emit": NAME, "data": X}             emit NAME with one argument (no argument if no "data")
//   {"emit": NAME, "args": [A, B]}        emit NAME with several arguments
//   {"emit": NAME, "data": X, "ack": true, "timeoutMs": N}
//                                         emit with an acknowledgement; prints
//                                         {"event":"__ack__","name":NAME,"data":RESPONSE}
//   {"waitFor": NAME, "timeoutMs": N, "match": {...}}
//                                         wait for the next not yet consumed NAME event (also
//                                         "connect", "connect_error", "disconnect"); "match" is
//                                         a partial deep match on its data
//   {"collect": NAME, "count": N, "timeoutMs": N, "match": {...}}
//                                         wait until N more NAME events have been consumed
//   {"print": LABEL}                      prints {"event":"__ready__","label":LABEL}
//   {"sleepMs": N}                        wait N ms (events keep being recorded and printed)
//   {"disconnect": true}                  client-side disconnect
//   {"connect": true}                     connect again after a disconnect (same socket)
//   {"hold": true}                        stay connected until killed
//
// Every event received is buffered from the start, so a waitFor/collect also sees events that
// arrived before the step began; each event is consumed by at most one waitFor/collect.
//
// Output, one JSON object per line on stdout:
//   {"event": NAME, "data": FIRST_ARG}    every server event (socket.onAny); "args" is added
//                                         when the server sent more than one argument
//   {"event": "connect", "data": {"id": ...}}
//   {"event": "connect_error", "data": {"message": ..., "data": ...}}   "data" is what the server
//                                         refused with; transport errors carry "type" and
//                                         "description" instead
//   {"event": "disconnect", "data": {"reason": ...}}
//   {"event": "__transport__", "name": "polling"|"websocket", "via": "open"|"connect"|"upgrade"}
//                                         the engine's transport when it opens, after connect
//                                         and on upgrade
//   {"event": "__ready__", "label": ...}  print steps
//   {"event": "__done__"}                 all steps done: exit code 0
//   {"event": "__timeout__", "waitingFor": ..., ...}             exit code 1
//   {"event": "__error__", "message": ...}                       bad script or crash: exit code 2
"use strict";

const { io } = require("socket.io-client");

const DEFAULT_TIMEOUT_MS = 10000;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function exit(code) {
  // Exit only once everything written so far has reached stdout.
  process.stdout.write("", () => process.exit(code));
}

function fail(message) {
  out({ event: "__error__", message: String(message) });
  exit(2);
}

function readScript() {
  if (process.argv.length > 2) {
    return Promise.resolve(process.argv[2]);
  }
  return new Promise((resolve, reject) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => {
      text += chunk;
    });
    process.stdin.on("end", () => resolve(text));
    process.stdin.on("error", reject);
  });
}

function jsonSafe(value) {
  if (typeof value === "function") return undefined;
  if (value === undefined) return null;
  return value;
}

// A readable text for the `description` of a transport error (an Error, an event or a code).
function describe(description) {
  if (description === undefined || description === null) return undefined;
  if (typeof description !== "object") return String(description);
  if (description.message) return String(description.message);
  if (description.error && description.error.message) return String(description.error.message);
  if (description.type) return String(description.type);
  return undefined;
}

// True when every field of `expected` is in `actual` with an equal value (recursively).
function matches(actual, expected) {
  if (expected === undefined) return true;
  if (expected === null || typeof expected !== "object") return actual === expected;
  if (actual === null || typeof actual !== "object") return false;
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((item, i) => matches(actual[i], item))
    );
  }
  return Object.keys(expected).every((key) => matches(actual[key], expected[key]));
}

async function main() {
  let script;
  try {
    script = JSON.parse(await readScript());
  } catch (err) {
    fail(`cannot parse the script: ${err.message}`);
    return;
  }
  if (!script || typeof script.url !== "string") {
    fail('the script needs "url"');
    return;
  }
  const steps = Array.isArray(script.steps) ? script.steps : [];
  const defaultTimeout = script.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  // Every received event, in order; `consumed` once a waitFor/collect took it.
  const received = [];
  const waiters = new Set();

  function record(name, data) {
    received.push({ name, data, consumed: false });
    for (const waiter of [...waiters]) waiter();
  }

  // Consume up to `count` unconsumed events named `name` matching `match`; resolves with how
  // many were consumed (== count unless the timeout struck first).
  function consume(name, count, match, timeoutMs) {
    let got = 0;
    const take = () => {
      for (const entry of received) {
        if (got >= count) break;
        if (!entry.consumed && entry.name === name && matches(entry.data, match)) {
          entry.consumed = true;
          got += 1;
        }
      }
      return got >= count;
    };
    if (take()) return Promise.resolve(got);
    return new Promise((resolve) => {
      const waiter = () => {
        if (take()) {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(got);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        resolve(got);
      }, timeoutMs);
      waiters.add(waiter);
    });
  }

  const options = { reconnection: false, forceNew: true };
  if (script.transports) options.transports = script.transports;
  if (script.path) options.path = script.path;
  if (script.query) options.query = script.query;
  if (script.auth) options.auth = script.auth;
  else if (script.token) options.auth = { token: script.token };

  const namespace = script.namespace ?? "/";
  const url = script.url.replace(/\/+$/, "") + (namespace.startsWith("/") ? "" : "/") + namespace;
  const socket = io(url, options);

  const manager = socket.io;
  const watchEngine = () => {
    const engine = manager.engine;
    if (engine && !engine.__accoladeWatched) {
      engine.__accoladeWatched = true;
      engine.on("upgrade", (transport) =>
        out({ event: "__transport__", name: transport.name, via: "upgrade" }),
      );
    }
  };
  watchEngine();
  manager.on("open", () => {
    watchEngine();
    const engine = manager.engine;
    if (engine && engine.transport) {
      out({ event: "__transport__", name: engine.transport.name, via: "open" });
    }
  });

  socket.on("connect", () => {
    out({ event: "connect", data: { id: socket.id } });
    record("connect", { id: socket.id });
    watchEngine();
    const engine = manager.engine;
    if (engine && engine.transport) {
      out({ event: "__transport__", name: engine.transport.name, via: "connect" });
    }
  });
  socket.on("connect_error", (err) => {
    const data = { message: err.message };
    if (err.data !== undefined) data.data = err.data;
    if (err.type !== undefined) data.type = err.type;
    const description = describe(err.description);
    if (description !== undefined) data.description = description;
    out({ event: "connect_error", data });
    record("connect_error", data);
  });
  socket.on("disconnect", (reason, details) => {
    const data = { reason };
    const description = describe(details && details.description);
    if (description !== undefined) data.description = description;
    out({ event: "disconnect", data });
    record("disconnect", data);
  });
  socket.onAny((name, ...args) => {
    const values = args.map(jsonSafe).filter((value) => value !== undefined);
    const line = { event: name, data: values.length > 0 ? values[0] : null };
    if (values.length > 1) line.args = values;
    out(line);
    record(name, line.data);
  });

  const finish = (code, last) => {
    socket.offAny();
    socket.off("disconnect");
    socket.off("connect_error");
    socket.disconnect();
    out(last);
    exit(code);
  };

  for (const step of steps) {
    if (step.emit !== undefined) {
      let args = [];
      if (Array.isArray(step.args)) args = step.args;
      else if (Object.prototype.hasOwnProperty.call(step, "data")) args = [step.data];
      if (step.ack) {
        const timeoutMs = step.timeoutMs ?? defaultTimeout;
        try {
          const response = await socket.timeout(timeoutMs).emitWithAck(step.emit, ...args);
          out({ event: "__ack__", name: step.emit, data: jsonSafe(response) });
        } catch (err) {
          finish(1, { event: "__timeout__", waitingFor: `ack:${step.emit}`, timeoutMs });
          return;
        }
      } else {
        socket.emit(step.emit, ...args);
      }
    } else if (step.waitFor !== undefined || step.collect !== undefined) {
      const name = step.waitFor ?? step.collect;
      const count = step.waitFor !== undefined ? 1 : (step.count ?? 1);
      const timeoutMs = step.timeoutMs ?? defaultTimeout;
      const got = await consume(name, count, step.match, timeoutMs);
      if (got < count) {
        const line = { event: "__timeout__", waitingFor: name, count, got, timeoutMs };
        if (step.match !== undefined) line.match = step.match;
        finish(1, line);
        return;
      }
    } else if (step.print !== undefined) {
      out({ event: "__ready__", label: step.print });
    } else if (step.sleepMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, step.sleepMs));
    } else if (step.disconnect) {
      socket.disconnect();
    } else if (step.connect) {
      socket.connect();
    } else if (step.hold) {
      await new Promise(() => setInterval(() => {}, 1 << 30));
    } else {
      finish(2, { event: "__error__", message: `unknown step: ${JSON.stringify(step)}` });
      return;
    }
  }
  if (socket.connected) socket.disconnect();
  finish(0, { event: "__done__" });
}

main().catch((err) => fail(err && err.stack ? err.stack : err));
