"""The memory wing: handlers run on in-memory sockets, with no socket, thread or real time.

Fake stream and datagram sockets and their peer, chunking, the fake server,
:func:`run_handler` / :func:`run_datagram_handler` and the lockstep script
player. It imports the script wing (to play scripts) and nothing live. On import
it registers :func:`run_handler` as the way ``Script.run(HandlerClass)`` plays.
"""

from __future__ import annotations

from ..script._script import register_handler_runner
from ._chunks import Chunking, ChunkingLike
from ._datagram import FakeDatagramSocket
from ._peer import FakePeer
from ._run import DatagramRun, HandlerRun, run_datagram_handler, run_handler
from ._server import FakeServer
from ._stream import FakeStreamSocket

register_handler_runner(run_handler)

__all__ = [
    "Chunking",
    "ChunkingLike",
    "DatagramRun",
    "FakeDatagramSocket",
    "FakePeer",
    "FakeServer",
    "FakeStreamSocket",
    "HandlerRun",
    "run_datagram_handler",
    "run_handler",
]
