"""A script fails with one message shape in memory and against a real server.

Each failing script runs twice: in memory (``run_handler``) and over a real
connection to a kit server (``serve()``). The two messages share their step
header, their ``expected:`` and ``received:`` lines and the nearest-arrival
hint; only the notes under them (the in-memory chunking, the real timeout) and
the transcript differ.
"""

from __future__ import annotations

import socketserver
from typing import Any, List

import pytest

from netserve_testing import ExpectationFailed, Script, run_handler

pytest_plugins = ["pytester"]


class Hello(socketserver.StreamRequestHandler):
    """Answers every line with HELLO, whatever it was."""

    def handle(self) -> None:
        self.rfile.readline()
        self.wfile.write(b"HELLO\nHI THERE\n")
        self.rfile.readline()  # until the client is done


class Ho(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.rfile.readline()
        self.wfile.write(b"HO there")
        self.rfile.readline()


class Partial(socketserver.StreamRequestHandler):
    """Sends part of a line, then waits for the client: the client's read times out."""

    def handle(self) -> None:
        self.rfile.readline()
        self.wfile.write(b"HEL")
        self.rfile.readline()


class Early(socketserver.StreamRequestHandler):
    """Ends the conversation half way through a line."""

    def handle(self) -> None:
        self.rfile.readline()
        self.wfile.write(b"HE")


class NotFound(socketserver.StreamRequestHandler):
    """Answers any request with a 404 (no Date header: both runs see the same bytes)."""

    def handle(self) -> None:
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        self.wfile.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 4\r\n\r\nnope")


CASES = {
    "wrong line": (Hello, Script().send_line("hi").expect_line("HI THERE!")),
    "wrong bytes": (Ho, Script().send_line("hi").expect(b"HI")),
    "timeout with partial data": (Partial, Script().send_line("hi").expect_line("HELLO")),
    "eof early": (Early, Script().send_line("hi").expect_line("HELLO").expect_closed()),
    "http response": (NotFound, Script().send_request("GET", "/").expect_response(200)),
}


def _in_memory(handler: type, script: Script) -> str:
    with pytest.raises(ExpectationFailed) as info:
        run_handler(handler, script)
    return str(info.value)


def _live(netserve: Any, handler: type, script: Script) -> str:
    server = netserve.serve(handler)
    with server.connect(timeout=0.5) as client, pytest.raises(ExpectationFailed) as info:
        script.play(client)
    return str(info.value)


def _shape(message: str) -> List[str]:
    # The header, expected, received (all its lines) and nearest lines: up to the notes.
    lines = message.split("\n")
    end = next(i for i, line in enumerate(lines) if line.startswith("nearest: "))
    return lines[: end + 1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_Script_fails_with_one_shape_in_memory_and_on_a_real_server(netserve, case):
    handler, script = CASES[case]
    memory = _in_memory(handler, script)
    live = _live(netserve, handler, script)
    assert _shape(memory) == _shape(live), f"in memory:\n{memory}\n\nlive:\n{live}"
    head = _shape(live)
    assert head[0].startswith("script step ")
    assert head[0].endswith(" failed")
    assert head[1].startswith("expected: ")
    assert head[2].startswith("received: ")
    assert "\n\ntranscript:\n" in memory
    assert "\n\ntranscript:\n" in live


def test_the_nearest_arrival_is_the_closest_line_or_the_unconsumed_bytes(netserve):
    names = ("wrong line", "timeout with partial data", "wrong bytes")
    hello, partial, ho = (_live(netserve, *CASES[name]) for name in names)
    assert "nearest: b'HI THERE\\n' (the closest line received, " in hello
    assert "received: b'HEL'\nnearest: b'HEL' (the closest line received" in partial
    assert "timed out after 0.5 s waiting for line 'HELLO'" in partial
    assert "received: b'HO'\nnearest: b'HO there' (received, not consumed)" in ho


def test_a_client_timeout_with_nothing_received_says_nothing(netserve):
    class Silent(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()

    client = netserve.serve(Silent).connect(timeout=0.2)
    with pytest.raises(ExpectationFailed) as info:
        client.expect_line("HI")
    assert str(info.value).startswith(
        "expected: b'HI\\n'\nreceived: nothing\n"
        "nearest: nothing (no bytes received and not consumed)\n"
        "timed out after 0.2 s waiting for line 'HI'\n"
    )


def test_a_client_verb_fails_in_the_shape_without_the_step_header(netserve):
    with netserve.serve(Hello).connect(timeout=2) as client:
        client.send_line("hi")
        with pytest.raises(ExpectationFailed) as info:
            client.expect_line("HI THERE!")
    message = str(info.value)
    assert message.startswith("expected: b'HI THERE!\\n'\nreceived: b'HELLO\\n'\nnearest: ")
    assert info.value.details is not None
    assert info.value.details.received == "b'HELLO\\n'"


def test_a_golden_scripts_failure_names_its_file_and_line(netserve):
    script = Script.loads('send "hi\\n"\nexpect_line "HI THERE!"\n', name="hello.script")
    memory = _in_memory(Hello, script)
    live = _live(netserve, Hello, script)
    header = "script step 2 of 2 (expect line 'HI THERE!') at hello.script:2 failed"
    assert memory.startswith(header + "\n")
    assert live.startswith(header + "\n")


USER_TESTS = """
import socketserver

from netserve_testing import Script, run_handler

class Hello(socketserver.StreamRequestHandler):
    def handle(self):
        self.rfile.readline()
        self.wfile.write(b"HELLO\\nHI THERE\\n")
        self.rfile.readline()

def test_in_memory():
    run_handler(Hello, Script().send_line("hi").expect_line("HI THERE!"))

def test_live(netserve):
    Script().send_line("hi").expect_line("HI THERE!").run(netserve.serve(Hello))

def test_client_verb(netserve):
    netserve.serve(Hello).connect().send_line("hi").expect_line("HI THERE!")
"""


def test_a_user_sees_the_shape_at_their_own_line(pytester):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(failed=3)
    step = [
        "E       *ExpectationFailed: script step 2 of 2 (expect line 'HI THERE!') failed",
        "E       expected: b'HI THERE!\\n'",
        "E       received: b'HELLO\\n'",
        "E       nearest: b'HI THERE\\n' (the closest line received, *% alike)",
    ]
    result.stdout.fnmatch_lines(
        [
            '>       run_handler(Hello, Script().send_line("hi").expect_line("HI THERE!"))',
            *step,
            '>       Script().send_line("hi").expect_line("HI THERE!").run(netserve.serve(Hello))',
            *step,
            '>       netserve.serve(Hello).connect().send_line("hi").expect_line("HI THERE!")',
            "E       *ExpectationFailed: expected: b'HI THERE!\\n'",
            "E       received: b'HELLO\\n'",
            "E       nearest: b'HI THERE\\n' (the closest line received, *% alike)",
        ]
    )
    out = result.stdout.str()
    for source in ("_lockstep.py", "_run.py", "_clients.py", "_script.py", "_report.py"):
        assert source not in out
