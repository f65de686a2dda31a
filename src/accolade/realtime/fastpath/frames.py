"""WebSocket frames as the server sends them, built once and written to many connections.

Server-to-client frames are never masked (RFC 6455, 5.1), so one frame's bytes serve every member
of a room. The framing itself is `websockets`' (sans-I/O); nothing here parses what clients send.
"""

from __future__ import annotations

from websockets.frames import Close, Frame, Opcode

# Engine.IO v4 packet types sent on the fast path, as the first character of a text frame.
EIO_PING = "2"
EIO_MESSAGE = "4"


def text_frame(text: str) -> bytes:
    """One unmasked, final text frame carrying `text`."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def binary_frame(data: bytes) -> bytes:
    """One unmasked, final binary frame carrying `data`."""
    return Frame(Opcode.BINARY, data).serialize(mask=False)


def close_frame(code: int, reason: str = "") -> bytes:
    """The close frame that starts the closing handshake with `code` and `reason`."""
    return Frame(Opcode.CLOSE, Close(code, reason).serialize()).serialize(mask=False)


def engineio_message(encoded: str) -> bytes:
    """An Engine.IO message packet (`4` + a Socket.IO packet such as `2/ns,[...]`) as a frame."""
    return text_frame(EIO_MESSAGE + encoded)


PING_FRAME = text_frame(EIO_PING)
