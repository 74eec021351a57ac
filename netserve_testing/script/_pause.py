"""Time in a conversation: the client waits before its next step.

On a real connection :class:`Pause` waits for real (reading what arrives
meanwhile). In memory it is instant on the fake clock: a handler's read with a
timeout shorter than the pause times out at once, as it would after that long
on a network, so a script that tests an idle timeout runs at once in memory and
for real on a server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._steps import ScriptClient, Step, client_verb

__all__ = ["Pause"]


@dataclass(frozen=True)
class Pause(Step):
    """The client sends nothing for ``seconds``, then goes on with the next step.

    Example:
        >>> import socket, socketserver
        >>> from netserve_testing import Script, run_handler
        >>> class Idle(socketserver.StreamRequestHandler):
        ...     timeout = 30
        ...     def handle(self):
        ...         try:
        ...             self.rfile.readline()
        ...         except socket.timeout:
        ...             self.wfile.write(b"idle, bye\\n")
        >>> run_handler(Idle, Script().pause(60).expect_line("idle, bye")).sent
        b'idle, bye\\n'
        >>> run_handler(Idle, Script().pause(10).send_line("hi")).sent  # 10 s < 30 s
        b''
    """

    seconds: float

    def __post_init__(self) -> None:
        seconds = self.seconds
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(f"pause() takes seconds as a number, not {seconds!r}")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"pause() seconds must be finite and >= 0, not {seconds!r}")

    def apply(self, client: ScriptClient) -> Any:
        return client_verb(client, "pause", self)(self.seconds)

    def describe(self) -> str:
        return f"pause {self.seconds:g} s"
