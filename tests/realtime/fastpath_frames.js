#!/usr/bin/env node
// Records the raw text of every WebSocket message the official socket.io-client receives, for
// tests/realtime/test_fastpath.py (byte-for-byte comparison with python-socketio's encoder).
//
// Usage: node fastpath_frames.js URL NAMESPACE EVENT COUNT
// Prints one JSON line per message received after `connect`: {"raw": TEXT}; then
// {"ready": true} once `joined` arrives (the test broadcasts then), and {"done": true} after COUNT
// EVENT events. Exits 1 after 20 s without them.
"use strict";

const { io } = require("socket.io-client");

const [url, namespace, eventName, count] = [
  process.argv[2],
  process.argv[3],
  process.argv[4],
  Number(process.argv[5]),
];
const out = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const socket = io(url + namespace, { transports: ["websocket"], forceNew: true, reconnection: false });
let received = 0;

socket.on("connect", () => {
  const transport = socket.io.engine.transport;
  const onData = transport.onData.bind(transport);
  transport.onData = (data) => {
    out({ raw: typeof data === "string" ? data : null });
    onData(data);
  };
  socket.emit("join:tv-display");
});
socket.on("joined", () => out({ ready: true }));
socket.on(eventName, () => {
  if (++received === count) {
    out({ done: true });
    socket.close();
    process.exit(0);
  }
});
socket.on("connect_error", (error) => {
  out({ error: String(error && error.message) });
  process.exit(1);
});
setTimeout(() => {
  out({ timeout: true, received });
  process.exit(1);
}, 20000);
