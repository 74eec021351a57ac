"""Script: pure matchers, lockstep play against the fakes, failure messages, run() dispatch."""

from __future__ import annotations

import importlib
import re
import socket
import socketserver
from types import ModuleType
from typing import Any, List, Optional

import pytest

from netserve_testing import (
    Expect,
    ExpectationFailed,
    ExpectClosed,
    ExpectLine,
    ExpectRegex,
    FakeStreamSocket,
    HandlerWouldBlock,
    Matched,
    Mismatch,
    Script,
    run_datagram_handler,
    run_handler,
    serve,
)


@pytest.fixture(params=["socketserver", "netserve"])
def ss(request: pytest.FixtureRequest) -> ModuleType:
    """The handler base classes' module: the stdlib's socketserver or netserve."""
    return importlib.import_module(request.param)


def upper_lines(ss: ModuleType) -> Any:
    class UpperLines(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            for line in self.rfile:
                if line.strip() == b"QUIT":
                    self.wfile.write(b"bye\r\n")
                    return
                self.wfile.write(line.upper())

    return UpperLines


# -- pure matchers -----------------------------------------------------------------------------


def test_Expect_match() -> None:
    assert Expect(b"abc").match(b"abcdef", False) == Matched(3, b"abc")
    assert Expect(b"abc").match(b"ab", False) is None
    assert Expect(b"abc").match(b"ab", True) == Mismatch("b'abc'", "b'ab' then EOF")
    assert Expect(b"abc").match(b"abx", False) == Mismatch("b'abc'", "b'abx'")


def test_ExpectLine_match() -> None:
    assert ExpectLine("hi").match(b"hi\r\nrest", False) == Matched(4, "hi")
    assert ExpectLine("hi").match(b"h", False) is None
    assert ExpectLine("hi").match(b"ho", False) == Mismatch("b'hi\\n'", "b'ho'")
    assert ExpectLine("hi").match(b"hi", True) == Mismatch("b'hi\\n'", "b'hi' then EOF")


def test_ExpectRegex_match_returns_the_match() -> None:
    outcome = ExpectRegex.of(r"(\d+) ok").match(b"250 ok\r\n", False)
    assert isinstance(outcome, Matched)
    assert outcome.value.group(1) == b"250"
    assert ExpectRegex.of(b"x").match(b"y\n", False) == Mismatch("a line matching b'x'", "b'y\\n'")
    assert ExpectRegex.of(re.compile("A", re.I)).match(b"a\n", False) is not None
    with pytest.raises(TypeError, match="pattern must be str or bytes"):
        ExpectRegex.of(3)  # type: ignore[arg-type]


def test_ExpectClosed_match() -> None:
    assert ExpectClosed().match(b"", True) == Matched(0)
    assert ExpectClosed().match(b"", False) is None
    assert ExpectClosed().match(b"x", True) == Mismatch("EOF", "b'x' then EOF")


def test_Script_builder_checks_types() -> None:
    with pytest.raises(TypeError, match="send\\(\\) takes bytes"):
        Script().send("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="send_line\\(\\) takes str"):
        Script().send_line(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expect\\(\\) takes bytes"):
        Script().expect("text")  # type: ignore[arg-type]
    script = Script().send_line("a", newline="\r\n").expect_line("A").close().reset().go_quiet()
    assert len(script) == 5
    assert "send b'a\\r\\n'" in repr(script)


# -- lockstep against the fakes ------------------------------------------------------------


def test_Script_run_lockstep_conversation(ss: ModuleType) -> None:
    script = (
        Script()
        .send_line("hello")
        .expect_line("HELLO")
        .send_line("world")
        .expect_regex(r"^WOR(LD)$")
        .send_line("QUIT")
        .expect(b"bye\r\n")
        .expect_closed()
    )
    result = script.run(upper_lines(ss))
    assert result.sent == b"HELLO\nWORLD\nbye\r\n"
    assert result.values[0] == "HELLO"
    assert result.values[1].group(1) == b"LD"
    lines = result.transcript.format().splitlines()
    assert lines.index(">>> b'hello\\n'") < lines.index("<<< b'HELLO\\n'")
    assert lines.index("<<< b'HELLO\\n'") < lines.index(">>> b'world\\n'")


@pytest.mark.parametrize("chunking", ["bytewise", 2, "random"])
def test_Script_run_with_chunking(ss: ModuleType, chunking: Any) -> None:
    script = Script().send_line("one").send_line("two").expect_line("ONE").expect_line("TWO")
    assert run_handler(upper_lines(ss), script, chunking=chunking).lines == ["ONE", "TWO"]


def test_Script_close_gives_eof_and_script_end_closes(ss: ModuleType) -> None:
    class CountLines(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            count = sum(1 for _ in self.rfile)
            self.wfile.write(b"%d\n" % count)

    explicit = Script().send(b"a\nb\n").close().expect_line("2").expect_closed()
    assert explicit.run(CountLines).sent == b"2\n"
    implicit = Script().send(b"a\n")
    assert implicit.run(CountLines).sent == b"1\n"


def test_Script_go_quiet_times_out_a_handler_with_a_timeout(ss: ModuleType) -> None:
    class Prompt(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        timeout = 10

        def handle(self) -> None:
            while True:
                try:
                    line = self.rfile.readline()
                except socket.timeout:
                    self.wfile.write(b"still there?\n")
                    self.rfile = self.connection.makefile("rb")  # a timed-out file is dead
                    continue
                if not line:
                    return
                self.wfile.write(b"got " + line)

    script = (
        Script()
        .go_quiet()
        .expect_line("still there?")
        .send_line("yes")
        .expect_line("got yes")
        .close()
        .expect_closed()
    )
    result = script.run(Prompt)
    assert result.socket.timeouts == 1
    assert "fake clock" in result.transcript.format()


def test_Script_go_quiet_without_timeout_would_block(ss: ModuleType) -> None:
    with pytest.raises(HandlerWouldBlock, match="would block forever"):
        Script().send_line("hi").expect_line("HI").go_quiet().run(upper_lines(ss))


def test_Script_reset_reaches_the_handler(ss: ModuleType) -> None:
    class Reads(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.request.recv(10)
            try:
                self.request.recv(10)
            except ConnectionResetError as exc:
                self.error = exc

    result = Script().send(b"x").reset().run(Reads)
    assert result.handler.error.errno == 104
    assert result.reset


def test_Script_failure_is_an_assertion_with_transcript(ss: ModuleType) -> None:
    script = Script().send_line("hello").expect_line("HELLO!")
    with pytest.raises(AssertionError) as info:
        script.run(upper_lines(ss))
    assert isinstance(info.value, ExpectationFailed)
    message = str(info.value)
    assert message.startswith("script step 2 of 2 (expect line 'HELLO!') failed")
    assert "expected: b'HELLO!\\n'" in message
    assert "received: b'HELLO\\n'" in message
    assert "chunking: exact (each chunk as sent)" in message
    transcript = message.split("transcript:\n", 1)[1].splitlines()
    assert transcript[-3:] == [
        ">>> b'hello\\n'",
        "<<< b'HELLO\\n'",
        "!!! expected b'HELLO!\\n', received b'HELLO\\n'",
    ]


def test_Script_failure_shows_chunks_and_seed_for_replay(ss: ModuleType) -> None:
    script = Script().send(b"abcdefgh\n").expect_line("nope")
    with pytest.raises(ExpectationFailed) as info:
        run_handler(upper_lines(ss), script, chunking="random", seed=99)
    message = str(info.value)
    assert "chunking: random (seed=99; replay with chunking='random', seed=99)" in message
    inbound = [line for line in message.splitlines() if line.startswith(">>> ")]
    joined = b"".join(eval(line[4:]) for line in inbound)
    assert joined == b"abcdefgh\n"


def test_Script_wrong_byte_fails_inside_the_send_that_wrote_it(ss: ModuleType) -> None:
    class Greeter(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.request.sendall(b"220 hello\r\n")
            self.request.sendall(b"oops")

    with pytest.raises(ExpectationFailed) as info:
        Script().expect_line("220 hello").expect_closed().run(Greeter)
    assert "expected: EOF" in str(info.value)
    assert "received: b'oops'" in str(info.value)
    assert any(entry.name == "handle" for entry in info.traceback)


def test_Script_handler_reading_instead_of_answering_fails_clearly(ss: ModuleType) -> None:
    class Deaf(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            while self.rfile.readline():
                pass

    with pytest.raises(ExpectationFailed) as info:
        Script().send_line("ping").expect_line("pong").run(Deaf)
    message = str(info.value)
    assert "received: nothing" in message
    assert "the handler read again before sending it" in message


def test_Script_handler_finishing_early_fails(ss: ModuleType) -> None:
    class Short(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.request.sendall(b"par")

    with pytest.raises(ExpectationFailed) as info:
        Script().expect(b"partial answer").run(Short)
    message = str(info.value)
    assert "received: b'par' then EOF" in message
    assert "expected: b'partial answer'" in message


def test_Script_failure_is_raised_even_if_the_handler_swallows_it(ss: ModuleType) -> None:
    class Swallower(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            try:
                self.request.sendall(b"wrong")
            except Exception:
                self.swallowed = True

    with pytest.raises(ExpectationFailed):
        Script().expect(b"right").run(Swallower)


def test_Script_sends_after_the_handler_finished_are_noted(ss: ModuleType) -> None:
    class OneLine(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.wfile.write(self.rfile.readline())

    script = Script().send_line("a").expect_line("a").send_line("b").expect_closed()
    result = script.run(OneLine)
    assert "client sent b'b\\n' after the handler had finished (never read)" in str(
        result.transcript
    )


def test_Script_send_after_close_is_a_script_error() -> None:
    # One check, one exception type, whether the steps come one by one or as a list.
    with pytest.raises(ValueError, match=r"step 3 \(send b'b\\n'\) comes after step 2 \(close"):
        Script().send_line("a").close().send_line("b")
    with pytest.raises(ValueError, match=r"step 2 \(send b'x'\) comes after step 1 \(reset\)"):
        Script().reset().send(b"x")
    steps = Script().close().steps + Script().send(b"late").steps
    with pytest.raises(ValueError, match=r"step 2 \(send b'late'\) comes after step 1"):
        Script(list(steps))


def test_Script_rejects_then_and_foreign_steps() -> None:
    with pytest.raises(ValueError, match="does not apply to a Script"):
        run_handler(socketserver.BaseRequestHandler, Script(), then="eof")
    with pytest.raises(TypeError, match="script step 1 is not a known step"):
        FakeStreamSocket(Script([object()]))  # type: ignore[list-item]


def test_FakeStreamSocket_with_a_script_outside_a_handler() -> None:
    sock = FakeStreamSocket(Script().send_line("ping").expect_line("pong"))
    assert sock.recv(100) == b"ping\n"
    sock.sendall(b"pong\n")
    assert sock.player is not None
    assert sock.player.done
    assert sock.recv(100) == b""  # the script is over: the client closes


# -- run() against other targets -----------------------------------------------------------


class RecordingClient:
    """A ScriptClient that records the calls, as a real client would receive them."""

    def __init__(self) -> None:
        self.calls: List[Any] = []
        self.entered = self.exited = False

    def __enter__(self) -> RecordingClient:
        self.entered = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.exited = True

    def send(self, data: bytes) -> None:
        self.calls.append(("send", data))

    def expect(self, data: bytes) -> None:
        self.calls.append(("expect", data))

    def expect_line(self, text: str) -> None:
        self.calls.append(("expect_line", text))

    def expect_regex(self, pattern: Any) -> None:
        self.calls.append(("expect_regex", pattern.pattern))

    def expect_closed(self) -> None:
        self.calls.append(("expect_closed",))

    def close(self) -> None:
        self.calls.append(("close",))

    def reset(self) -> None:
        self.calls.append(("reset",))

    def go_quiet(self) -> None:
        self.calls.append(("go_quiet",))


class FakeServerHandle:
    def __init__(self) -> None:
        self.client = RecordingClient()

    def connect(self) -> RecordingClient:
        return self.client


SCRIPT = Script().send(b"x").expect(b"y").expect_line("z").expect_regex("r").close().reset()


def test_Script_run_with_a_connected_client_plays_each_step() -> None:
    client = RecordingClient()
    assert SCRIPT.run(client) is client
    assert client.calls == [
        ("send", b"x"),
        ("expect", b"y"),
        ("expect_line", "z"),
        ("expect_regex", b"r"),
        ("close",),
        ("reset",),
    ]
    assert not client.entered


def test_Script_run_with_a_server_connects_plays_and_closes() -> None:
    handle = FakeServerHandle()
    client = SCRIPT.run(handle)
    assert client is handle.client
    assert client.entered
    assert client.exited
    assert len(client.calls) == 6
    with pytest.raises(TypeError, match="only apply when running against a handler class"):
        SCRIPT.run(handle, chunking="random")


def test_Script_same_script_runs_in_memory_and_on_a_real_server(ss: ModuleType) -> None:
    script = Script().send_line("hi").expect_line("HI").send_line("QUIT").expect(b"bye\r\n").close()
    script = script.expect_closed()
    handler = upper_lines(ss)
    assert script.run(handler).sent == b"HI\nbye\r\n"
    with serve(handler, backend=ss.__name__) as server:
        client = script.run(server)
    assert b"bye" in str(client.transcript).encode()


# -- datagram scripts ------------------------------------------------------------------------


def datagram_upper(ss: ModuleType) -> Any:
    class DatagramUpper(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            data, sock = self.request
            if data == b"twice":
                sock.sendto(b"ONE", self.client_address)
                sock.sendto(b"elsewhere", ("127.0.0.1", 9))  # the client never sees it
            sock.sendto(data.upper(), self.client_address)

    return DatagramUpper


def test_Expectation_match_datagram_checks_all_of_it() -> None:
    assert Expect(b"HI").match_datagram(b"HI") == Matched(2, b"HI")
    assert Expect(b"HI").match_datagram(b"HI\n") == Mismatch("b'HI'", "b'HI\\n'")
    assert ExpectLine("HI").match_datagram(b"HI").value == "HI"
    assert ExpectLine("HI").match_datagram(b"HI\r\n").value == "HI"
    assert ExpectLine("HI").match_datagram(b"HI\nX") == Mismatch("line 'HI'", "b'HI\\nX'")
    found = ExpectRegex.of(r"^(\d+)$").match_datagram(b"250")
    assert isinstance(found, Matched)
    assert found.value.group(1) == b"250"
    with pytest.raises(NotImplementedError, match="no connection to close"):
        ExpectClosed().match_datagram(b"")


def test_run_datagram_handler_plays_a_script(ss: ModuleType) -> None:
    script = (
        Script()
        .send(b"hi")
        .expect(b"HI")
        .send(b"twice")
        .expect(b"ONE")
        .expect_line("TWICE")
        .send(b"code 250\n")
        .expect_regex(rb"CODE (\d+)")
        .close()
    )
    result = run_datagram_handler(datagram_upper(ss), script)
    assert len(result.handlers) == 3  # one handler a datagram, as a server runs them
    assert result.handler is result.handlers[-1]
    assert result.values[:3] == [b"HI", b"ONE", "TWICE"]
    assert result.values[3].group(1) == b"250"
    assert (b"elsewhere", ("127.0.0.1", 9)) in result.replies
    assert "--- client closed" in result.transcript.format()


def test_run_datagram_handler_script_failure_message(ss: ModuleType) -> None:
    script = Script().send(b"hi").expect(b"HI!")
    with pytest.raises(ExpectationFailed) as info:
        run_datagram_handler(datagram_upper(ss), script)
    message = str(info.value)
    assert message.startswith("script step 2 of 2 (expect b'HI!') failed")
    assert (
        "expected: the datagram b'HI!'\nreceived: b'HI'\n"
        "nearest: b'HI' (received, not consumed)\none datagram"
    ) in message
    assert "!!! expected b'HI!', received b'HI' (one datagram)" in message
    missing = Script().send(b"hi").expect(b"HI").expect_line("MORE")
    no_more = r"received: nothing\nnearest: nothing .*\nthe handlers sent no more"
    with pytest.raises(ExpectationFailed, match=no_more):
        run_datagram_handler(datagram_upper(ss), missing)


def test_run_datagram_handler_script_refuses_connection_steps(ss: ModuleType) -> None:
    with pytest.raises(NotImplementedError, match=r"step 2 \(reset\) has no meaning"):
        run_datagram_handler(datagram_upper(ss), Script().send(b"x").reset())
    with pytest.raises(NotImplementedError, match=r"step 3 \(expect the connection to close\)"):
        run_datagram_handler(datagram_upper(ss), Script().send(b"x").expect(b"X").expect_closed())
    with pytest.raises(ValueError, match="needs at least one send"):
        run_datagram_handler(datagram_upper(ss), Script().go_quiet())


def test_run_datagram_handler_script_keeps_going_after_an_error(ss: ModuleType) -> None:
    class Picky(ss.BaseRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            data, sock = self.request
            if data == b"bad":
                raise ValueError("bad datagram")
            sock.sendto(b"ok", self.client_address)

    script = Script().send(b"bad").send(b"good").expect(b"ok")
    result = run_datagram_handler(Picky, script, raise_errors=False)
    assert isinstance(result.error, ValueError)
    assert len(result.handlers) == 2
    with pytest.raises(ValueError, match="bad datagram"):
        run_datagram_handler(Picky, script)


def test_Script_same_datagram_script_in_memory_and_on_a_real_udp_server(ss: ModuleType) -> None:
    script = Script().send(b"hi").expect(b"HI").send(b"there\n").expect_line("THERE").close()
    handler = datagram_upper(ss)
    assert run_datagram_handler(handler, script).values == [b"HI", "THERE"]
    with serve(handler, "udp-sync", backend=ss.__name__) as server:
        client = script.run(server)
    assert "THERE" in str(client.transcript)


def test_Script_output_after_the_last_expectation_fails(ss: ModuleType) -> None:
    class Extra(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        def handle(self) -> None:
            self.rfile.readline()
            self.wfile.write(b"HI\nGARBAGE\n")

    with pytest.raises(ExpectationFailed) as info:
        run_handler(Extra, Script().send_line("hi").expect_line("HI"))
    message = str(info.value)
    assert "the handler sent b'GARBAGE\\n' after the last expectation" in message
    assert "<<< b'HI\\nGARBAGE\\n'" in message
    # An expectation for the rest, or a script with none, accepts it.
    run_handler(Extra, Script().send_line("hi").expect_line("HI").expect_line("GARBAGE"))
    assert run_handler(Extra, Script().send_line("hi")).sent == b"HI\nGARBAGE\n"


def upper_lines_with_timeout(ss: ModuleType, idle_reply: Optional[bytes]) -> Any:
    class UpperLines(ss.StreamRequestHandler):  # type: ignore[name-defined, misc]
        timeout = 5

        def handle(self) -> None:
            try:
                for line in self.rfile:
                    self.wfile.write(line.upper())
            except socket.timeout:
                if idle_reply is None:
                    raise
                self.wfile.write(idle_reply)

    return UpperLines


def test_Script_expect_closed_mid_script_with_a_timeout_is_an_expectation_failure(
    ss: ModuleType,
) -> None:
    script = Script().send_line("a").expect_line("A").expect_closed().send_line("b")
    with pytest.raises(ExpectationFailed) as info:
        run_handler(upper_lines_with_timeout(ss, None), script)
    message = str(info.value)
    assert message.startswith("script step 3 of 4 (expect the connection to close) failed\n"), (
        message
    )
    assert "the handler read again" in message
    assert isinstance(info.value.__cause__, socket.timeout)


def test_Script_handler_that_acts_on_its_idle_timeout_meets_the_expectations(
    ss: ModuleType,
) -> None:
    script = Script().send_line("a").expect_line("A").expect_line("idle").expect_closed()
    run = run_handler(upper_lines_with_timeout(ss, b"idle\n"), script)
    assert run.socket.timeouts == 1
