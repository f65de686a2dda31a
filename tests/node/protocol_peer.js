#!/usr/bin/env node
// The official engine.io-client and socket.io-client as peers of the protocol conformance tests
// (tests/realtime/test_protocol_socketio.py): the same script runs against Accolade and against
// the Node reference server, and the summaries it prints must be the same.
//
// Usage: node protocol_peer.js '{"url": "http://127.0.0.1:5000", "transports": ["polling",
//                                "websocket"], "pings": 2}'
// Prints one JSON line, the summary:
//   {"engine": {...}, "socket": {...}}
//   engine: engine.io-client on /socket.io/: opened on which transport, upgraded to which, the
//     Socket.IO packets it received (text, or {"binary": [bytes]}), how many pings it answered
//     before closing, and why it closed;
//   socket: socket.io-client on /leaderboard: an acknowledged emit, a binary emit, the `joined`
//     events, and the `connect_error` message of a namespace that does not exist.
// Exits 1 (with {"error": ...}) when a step does not happen within 10 s.
"use strict";

const { Socket } = require("engine.io-client");
const { io } = require("socket.io-client");

const options = JSON.parse(process.argv[2]);
const TIMEOUT_MS = 10000;

function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function shown(data) {
  if (typeof data === "string") {
    return data.replace(/"sid":"[^"]+"/g, '"sid":"<sid>"');
  }
  return { binary: Array.from(new Uint8Array(data)) };
}

// Engine.IO, packets by hand above it: CONNECT, a BINARY_EVENT with an ack, an EVENT with an ack.
async function engine() {
  const socket = new Socket(options.url, {
    path: "/socket.io/",
    transports: options.transports,
  });
  const summary = { opened: null, upgradedTo: null, received: [], pings: 0, closed: null };
  const waiting = [];
  const next = (predicate, what) =>
    within(new Promise((resolve) => waiting.push({ predicate, resolve })), what);
  socket.on("message", (data) => {
    summary.received.push(shown(data));
    for (const wait of waiting.splice(0)) {
      if (wait.predicate(data)) wait.resolve(data);
      else waiting.push(wait);
    }
  });
  const upgraded = new Promise((resolve) => socket.on("upgrade", resolve));
  const closed = new Promise((resolve) => socket.on("close", resolve));
  await within(new Promise((resolve) => socket.on("open", resolve)), "open");
  summary.opened = socket.transport.name;

  socket.send("0/leaderboard,");
  await next((data) => String(data).startsWith("0/leaderboard,"), "CONNECT answer");
  socket.send('51-/leaderboard,1["join:tv-display",{"_placeholder":true,"num":0}]');
  socket.send(Uint8Array.from([1, 2, 3]));
  await next((data) => data === "3/leaderboard,1[]", "binary event ack");
  if (options.transports.includes("polling") && options.transports.includes("websocket")) {
    summary.upgradedTo = (await within(upgraded, "upgrade")).name;
  }
  socket.send('2/leaderboard,2["join:tv-display"]');
  await next((data) => data === "3/leaderboard,2[]", "event ack");
  if (options.pings) {
    await within(
      new Promise((resolve) =>
        socket.on("ping", () => {
          summary.pings += 1;
          if (summary.pings >= options.pings) resolve();
        }),
      ),
      `${options.pings} pings`,
    );
  }
  socket.close();
  summary.closed = await within(closed, "close");
  return summary;
}

// Socket.IO with the official client.
async function socketio() {
  const summary = { ack: null, binaryAck: null, joined: [], invalidNamespace: null };
  const client = { transports: options.transports, forceNew: true, reconnection: false };
  const socket = io(options.url + "/leaderboard", client);
  socket.on("joined", (data) => summary.joined.push(data));
  await within(new Promise((resolve) => socket.on("connect", resolve)), "connect");
  summary.ack = (await within(socket.emitWithAck("join:tv-display"), "ack")) ?? null;
  summary.binaryAck =
    (await within(socket.emitWithAck("join:tv-display", Buffer.from([1, 2, 3])), "binary ack")) ??
    null;
  socket.disconnect();
  const nope = io(options.url + "/nope", client);
  const error = await within(new Promise((resolve) => nope.on("connect_error", resolve)), "error");
  summary.invalidNamespace = error.message;
  nope.disconnect();
  return summary;
}

Promise.all([engine(), socketio()])
  .then(([engineSummary, socketSummary]) => {
    process.stdout.write(JSON.stringify({ engine: engineSummary, socket: socketSummary }) + "\n");
    process.exit(0);
  })
  .catch((error) => {
    process.stdout.write(JSON.stringify({ error: String(error && error.message) }) + "\n");
    process.exit(1);
  });
