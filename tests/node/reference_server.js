#!/usr/bin/env node
// The Node Socket.IO 4.8 server as the reference for the protocol conformance tests
// (tests/realtime/test_protocol_engineio.py, test_protocol_socketio.py): the same raw exchanges
// run against it and against Accolade must get the same answers.
//
// Usage: node reference_server.js '{"pingIntervalMs": 25000, "pingTimeoutMs": 20000,
//                                    "maxHttpBufferSize": 1048576, "connectTimeoutMs": 45000}'
// Prints {"port": N} once listening on 127.0.0.1 (a free port), then serves until killed.
//
// It speaks the slice of Accolade's surface the exchanges use, with no rule behind it:
// namespaces /leaderboard, /training and /; any `join:{kind}` is answered `joined {room: kind}`
// (`join:tv-display` -> {room: "tv-display"}, as Accolade answers it without `since`), and every
// event that asks for an acknowledgement is acknowledged with no arguments once handled, as
// python-socketio acknowledges a handler that returns nothing. Accolade's own rules (tokens,
// `error` events) are not modelled: the tests assert those differences explicitly.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const options = JSON.parse(process.argv[2] || "{}");

const server = http.createServer((req, res) => {
  res.writeHead(404).end();
});

const io = new Server(server, {
  pingInterval: options.pingIntervalMs ?? 25000,
  pingTimeout: options.pingTimeoutMs ?? 20000,
  maxHttpBufferSize: options.maxHttpBufferSize ?? 1e6,
  connectTimeout: options.connectTimeoutMs ?? 45000,
  // Accolade serves every origin on the same port without CORS settings: no CORS headers here.
});

function serve(socket) {
  socket.onAny((event, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (event.startsWith("join:")) {
      const room = event.slice("join:".length);
      socket.join(room);
      socket.emit("joined", { room });
    }
    if (ack) {
      ack();
    }
  });
}

for (const namespace of ["/leaderboard", "/training", "/"]) {
  io.of(namespace).on("connection", serve);
}

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});

process.on("SIGTERM", () => process.exit(0));
