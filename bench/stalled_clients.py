"""Hold N Socket.IO clients (websocket transport) in a room that never read what they are sent.

Used by bench/stalled.sh. Each client speaks Engine.IO/Socket.IO by hand over `websockets`, joins
`tv-display` on /leaderboard, then stops reading (a tiny receive buffer and a one-message queue,
so the server's unsent bytes pile up at once). Prints `ready N` when all have joined. On SIGTERM
or after --hold-s, reads what is left and prints one JSON line: how many were cut off by the
server with close code 1013 (the fast path's "too slow") and how many are still open.

Usage: python bench/stalled_clients.py URL N [--hold-s 600]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection

NS = "/leaderboard"


async def connect(host: str, port: int) -> ClientConnection:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.setblocking(False)
    url = f"ws://{host}:{port}/socket.io/?EIO=4&transport=websocket"
    ws = await websockets.connect(url, sock=sock, max_queue=1, max_size=None)
    await ws.recv()  # Engine.IO open
    await ws.send(f"40{NS},")
    await ws.recv()  # Socket.IO connect
    await ws.send(f'42{NS},["join:tv-display"]')
    while True:
        frame = await ws.recv()
        if isinstance(frame, str) and frame.startswith(f'42{NS},["joined"'):
            return ws


async def outcome(ws: ClientConnection) -> str:
    """Read to the end (for at most 10 s): "cut" (1013), "closed" or "open"."""
    try:
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as closed:
        return "cut" if closed.rcvd is not None and closed.rcvd.code == 1013 else "closed"
    except TimeoutError:
        return "open"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("n", type=int)
    parser.add_argument("--hold-s", type=float, default=600)
    args = parser.parse_args()
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    clients = await asyncio.gather(*(connect(host, port) for _ in range(args.n)))
    print(f"ready {len(clients)}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.hold_s)
    outcomes = await asyncio.gather(*(outcome(ws) for ws in clients))
    counts = {kind: outcomes.count(kind) for kind in ("cut", "closed", "open")}
    print(json.dumps({"stalled": len(clients), **counts}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
