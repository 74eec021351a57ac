"""The memory wing: handlers run on in-memory sockets, with no socket, thread or real time.

Fake stream, TLS and datagram sockets and their peer, chunking, the fake server,
:func:`run_handler` / :func:`run_datagram_handler` and the lockstep script
player. It imports the script wing (to play scripts), the session CA of ``_tls`` (for
in-memory TLS) and nothing live. On import
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
from ._tls import FakeTLSSocket

register_handler_runner(run_handler)

__all__ = [
    "Chunking",
    "ChunkingLike",
    "DatagramRun",
    "FakeDatagramSocket",
    "FakePeer",
    "FakeServer",
    "FakeStreamSocket",
    "FakeTLSSocket",
    "HandlerRun",
    "run_datagram_handler",
    "run_handler",
]
