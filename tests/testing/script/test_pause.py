"""pause(seconds): instant on the fake clock, a real wait on a real connection."""

from __future__ import annotations

import socket
import socketserver
from typing import ClassVar, List

import pytest

from netserve_testing import ExpectationFailed, Pause, Script, run_datagram_handler, run_handler


class IdleTimeout(socketserver.StreamRequestHandler):
    """Answers lines; says goodbye after ``timeout`` seconds without one."""

    timeout: ClassVar[float] = 30

    def handle(self) -> None:
        try:
            for line in self.rfile:
                self.wfile.write(line.upper())
        except socket.timeout:
            self.wfile.write(b"idle, bye\r\n")


class PatientCounter(socketserver.BaseRequestHandler):
    """Counts the read timeouts before the first bytes come."""

    timeouts: ClassVar[List[int]] = []

    def handle(self) -> None:
        self.request.settimeout(2)
        count = 0
        while True:
            try:
                data = self.request.recv(100)
                break
            except socket.timeout:
                count += 1
        self.timeouts.append(count)
        self.request.sendall(data.upper())


def test_pause_longer_than_the_idle_timeout_in_memory() -> None:
    script = (
        Script(newline="\r\n")
        .send_line("hi")
        .expect_line("HI")
        .pause(3600)  # an hour, on the fake clock
        .expect_line("idle, bye")
        .expect_closed()
    )
    run = run_handler(IdleTimeout, script)
    assert "client paused 3600 s (fake clock)" not in run.transcript.format()
    assert run.socket.timeouts == 1


def test_pause_shorter_than_the_timeout_in_memory() -> None:
    script = Script().send_line("a").expect_line("A").pause(29).send_line("b").expect_line("B")
    run = run_handler(IdleTimeout, script)
    assert run.socket.timeouts == 0
    assert "client paused 29 s (fake clock)" in run.transcript.format()


def test_the_fake_clock_moves_by_each_timeout_within_a_pause() -> None:
    PatientCounter.timeouts = []
    run = run_handler(PatientCounter, Script().pause(5).send(b"x").expect(b"X"))
    assert PatientCounter.timeouts == [2]  # 5 s: two reads of 2 s time out, the third waits 1 s
    assert run.sent == b"X"
    run_handler(PatientCounter, Script().pause(1).send(b"y").expect(b"Y"))
    assert PatientCounter.timeouts == [2, 0]


def test_pause_in_a_failing_script_names_the_step() -> None:
    script = Script().send_line("hi").pause(60).expect_line("still here")
    with pytest.raises(ExpectationFailed, match=r"script step 3 of 3 \(expect line 'still here'\)"):
        run_handler(IdleTimeout, script)


def test_Pause_checks_its_seconds() -> None:
    assert Pause(1.5).describe() == "pause 1.5 s"
    with pytest.raises(ValueError, match="finite and >= 0"):
        Script().pause(-1)
    with pytest.raises(TypeError, match="seconds as a number"):
        Pause("1")  # type: ignore[arg-type]


class QuickIdle(IdleTimeout):
    """Answers the first line whenever it comes, then gives up after 0.2 s without one."""

    def handle(self) -> None:
        self.wfile.write(self.rfile.readline().upper())
        self.connection.settimeout(0.2)
        super().handle()


def test_pause_waits_on_a_real_connection(netserve) -> None:
    script = (
        Script(newline="\r\n")
        .send_line("hi")
        .expect_line("HI")
        .pause(0.6)  # longer than the handler's 0.2 s timeout
        .expect_line("idle, bye")
        .expect_closed()
    )
    client = script.run(netserve.serve(QuickIdle))
    text = client.transcript.format()
    assert "client pauses 0.6 s" in text
    # The goodbye arrived during the pause and was kept for the expectation.
    assert text.index("client pauses") < text.index("idle, bye")
    script.run(QuickIdle)  # the same script, at once, in memory


def test_a_short_pause_on_a_real_connection(netserve) -> None:
    script = Script().send_line("a").expect_line("A").pause(0.01).send_line("b").expect_line("B")
    script.run(netserve.serve(IdleTimeout))


class DatagramUpper(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)


def test_pause_between_datagrams(netserve) -> None:
    script = Script().send(b"a").pause(0.01).expect(b"A").send(b"b").expect(b"B")
    assert run_datagram_handler(DatagramUpper, script).values == [b"A", b"B"]
    script.run(netserve.serve(DatagramUpper, "udp-threading"))


class Poller(socketserver.BaseRequestHandler):
    """Polls with a 1 s timeout (to check a stop flag, say) until a line comes."""

    def handle(self) -> None:
        self.request.settimeout(1)
        while True:
            try:
                data = self.request.recv(100)
                break
            except socket.timeout:
                continue
        self.request.sendall(data.upper())


def test_a_long_pause_is_no_idle_loop_for_a_polling_handler() -> None:
    run = run_handler(Poller, Script().pause(5000).send(b"go").expect(b"GO"))
    assert run.socket.timeouts == 4999


def test_a_pause_is_recorded() -> None:
    run = run_handler(Poller, Script().pause(0.5).send(b"go").expect(b"GO"))
    assert Script.from_transcript(run.transcript).steps[0] == Pause(0.5)
