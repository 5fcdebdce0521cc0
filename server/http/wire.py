"""The messages between the front and its query processes: length-prefixed pickles on a Unix socket.

Both ends are this program's own processes, connected by a private ``socketpair``.

>>> import socket
>>> a, b = socket.socketpair()
>>> send(a, ("ready", 42)); receive(b)
('ready', 42)
"""
from __future__ import annotations

import asyncio
import pickle
import socket
import struct

_LENGTH = struct.Struct(">Q")


def pack(message: object) -> bytes:
    """``message`` as one frame: its length, then its pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def send(sock: socket.socket, message: object) -> None:
    """Send one frame (blocking)."""
    sock.sendall(pack(message))


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> object:
    """Receive one frame (blocking); :class:`EOFError` when the peer has gone."""
    (size,) = _LENGTH.unpack(_exactly(sock, _LENGTH.size))
    return pickle.loads(_exactly(sock, size))


async def receive_async(reader: asyncio.StreamReader) -> object:
    """Receive one frame from an asyncio stream; :class:`asyncio.IncompleteReadError` when the peer has gone."""
    (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return pickle.loads(await reader.readexactly(size))
