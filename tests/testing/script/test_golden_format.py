"""The golden-file text format: quoting, one step per line, round trips, errors with file:line."""

from __future__ import annotations

import random
import re
import socketserver
from pathlib import Path

import pytest

from netserve_testing import Script, ScriptFormatError, Send, SendRequest
from netserve_testing.script._golden_format import quote, unquote


def test_quote_round_trips_every_byte() -> None:
    every = bytes(range(256))
    text = quote(every)
    assert "\n" not in text
    assert "\r" not in text
    assert unquote(text) == (every, len(text))
    rng = random.Random(1)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(20)))
        assert unquote(quote(data))[0] == data


def test_quote_is_readable() -> None:
    assert quote(b"GET / HTTP/1.1\r\n") == '"GET / HTTP/1.1\\r\\n"'
    assert quote(b'say "hi" \\ \t\x00\xff') == '"say \\"hi\\" \\\\ \\t\\x00\\xff"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"abc', "not closed"),
        ('"\\q"', "unknown escape"),
        ('"\\x4"', "bad escape"),
        ("abc", "expected a quoted string"),
        ('"é"', "must be escaped"),
    ],
)
def test_unquote_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unquote(text)


def every_step_script() -> Script:
    return (
        Script()
        .send(b"HELO x\r\nMAIL FROM:<a@b>\r\n")
        .expect(b"250 hi\r\n250 ok\r\n")
        .expect_line("caf\u00e9")
        .expect_line("250 ok", newline="\r\n")
        .expect_regex(rb"^250 (\w+)", re.IGNORECASE, newline="\n")
        .expect_until(b"END\r\n", max_size=100)
        .send_request("HEAD", "/x")
        .expect_response(200, headers={"Content-Type": "text/html", "X-Gone": None}, body=b"")
        .expect_response(201, json={"id": [1, "two"]}, version="HTTP/1.0")
        .pause(1.5)
        .go_quiet()
        .close()
        .expect_closed()
    )


def test_dumps_one_step_per_line() -> None:
    text = every_step_script().dumps()
    assert text.splitlines() == [
        "# netserve script 2",
        'send "HELO x\\r\\n"',
        '   + "MAIL FROM:<a@b>\\r\\n"',
        'expect "250 hi\\r\\n"',
        '     + "250 ok\\r\\n"',
        'expect_line "caf\\xc3\\xa9"',
        'expect_line "250 ok" newline="\\r\\n"',
        'expect_regex "^250 (\\\\w+)" flags=2 newline="\\n"',
        'expect_until "END\\r\\n" max_size=100',
        'send "HEAD /x HTTP/1.1\\r\\n"',
        '   + "Host: localhost\\r\\n"',
        '   + "\\r\\n"',
        'expect_response status=200 method=HEAD header.Content-Type="text/html" '
        'header.X-Gone=absent body=""',
        'expect_response status=201 version=HTTP/1.0 json={"id": [1, "two"]}',
        "pause 1.5",
        "go_quiet",
        "close",
        "expect_closed",
    ]


def test_load_gives_the_same_conversation(tmp_path: Path) -> None:
    original = every_step_script()
    path = tmp_path / "sub" / "every.script"
    original.save(path)
    loaded = Script.load(path)
    # Multi-line sends and expects come back as one step each: the same steps (a
    # send_request's bytes come back as a plain send; its method is in expect_response).
    assert loaded.steps == tuple(
        Send(step.data) if isinstance(step, SendRequest) else step for step in original.steps
    )
    assert loaded.dumps() == original.dumps()
    assert (loaded.origin(1), loaded.origin(2), loaded.origin(3)) == (
        f"{path}:2",
        f"{path}:4",
        f"{path}:6",
    )
    assert loaded.origin(len(loaded)) == f"{path}:18"


class LengthReply(socketserver.BaseRequestHandler):
    """Answers one read with its length: a handler that sees how the client wrote."""

    def handle(self) -> None:
        self.request.sendall(b"%d\n" % len(self.request.recv(1024)))


def test_a_multi_line_send_replays_as_one_write_after_save_and_load(tmp_path: Path) -> None:
    script = Script().send(b"a\nb\n").expect(b"4\n")
    script.run(LengthReply)
    script.save(tmp_path / "length.script")
    assert (tmp_path / "length.script").read_text().splitlines()[1:] == [
        'send "a\\n"',
        '   + "b\\n"',
        'expect "4\\n"',
    ]
    loaded = Script.load(tmp_path / "length.script")
    assert loaded.steps == script.steps
    assert loaded.run(LengthReply).sent == b"4\n"


def test_consecutive_send_lines_are_separate_writes() -> None:
    text = '# netserve script 2\nsend "a\\n"\nsend "b\\n"\nexpect "2\\n"\n'
    script = Script.loads(text)
    assert script.steps == Script().send(b"a\n").send(b"b\n").expect(b"2\n").steps
    assert script.dumps() == text


def test_a_continuation_may_follow_comments_and_keeps_the_first_line() -> None:
    text = 'send "a\\n"\n# the second line\n\n  + "b"\nexpect "A"\n+ "B"\n'
    script = Script.loads(text, name="x")
    assert script.steps == Script().send(b"a\nb").expect(b"AB").steps
    assert (script.origin(1), script.origin(2)) == ("x:1", "x:5")


def test_a_version_1_file_loads_when_its_meaning_is_plain() -> None:
    text = (
        '# netserve script 1\nsend "HELO x\\r\\n"\nexpect "250 hi\\r\\n"\n'
        'send "a"\nsend "b\\n"\nexpect_line "ok"\nclose\n'
    )
    script = Script.loads(text, name="old.script")
    assert (
        script.steps
        == (Script().send(b"HELO x\r\n").expect(b"250 hi\r\n").send(b"a").send(b"b\n"))
        .expect_line("ok")
        .close()
        .steps
    )


@pytest.mark.parametrize("keyword", ["send", "expect"])
def test_a_version_1_file_that_may_hold_a_multi_line_step_is_refused(keyword: str) -> None:
    # Version 1 wrote send(b"a\nb\n") and send(b"a\n").send(b"b\n") alike.
    text = f'# netserve script 1\n{keyword} "a\\n"\n# c\n{keyword} "b\\n"\n'
    with pytest.raises(ScriptFormatError) as failed:
        Script.loads(text, name="old.script")
    assert str(failed.value) == (
        f"old.script:4: format 1 cannot tell if this {keyword} is part of the one on line 2:"
        " change the header to '# netserve script 2', mark a part with + \"...\""
    )


def test_an_unknown_format_version_is_refused() -> None:
    with pytest.raises(ScriptFormatError, match=r"^new\.script:2: unknown format version '3'"):
        Script.loads('\n# netserve script 3\nsend "a"\n', name="new.script")


def test_comments_blank_lines_and_spacing_are_ignored() -> None:
    script = Script.loads('\n# a comment\n   send "a"  \n\nexpect   "A"\n', name="x")
    assert [step.describe() for step in script.steps] == ["send b'a'", "expect b'A'"]
    assert (script.origin(1), script.origin(2)) == ("x:3", "x:5")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('sned "x"', "unknown step 'sned'"),
        ("send", "takes one quoted string, not 0"),
        ('send "a" "b"', "takes one quoted string, not 2"),
        ('send "a" newline="\\n"', "unknown options"),
        ("close now", "close takes no arguments"),
        ("pause soon", "could not convert"),
        ('expect_response "x"', "name=value options only"),
        ("expect_response colour=red", "unknown options \\['colour'\\]"),
        ('expect_line "x', "not closed"),
        ('+ "x"', "a '\\+' line continues a send or an expect, not the start of the script"),
        ('+ "x" "y"', "a continuation takes one quoted string"),
    ],
)
def test_a_bad_line_names_the_file_and_line(line: str, message: str) -> None:
    with pytest.raises(ScriptFormatError, match=f"^golden.script:2: .*{message}"):
        Script.loads(f"# netserve script 2\n{line}\n", name="golden.script")


def test_a_continuation_of_another_step_names_it() -> None:
    with pytest.raises(ScriptFormatError, match=r"^g:2: .* not close \(EOF\)$"):
        Script.loads('close\n   + "x"\n', name="g")


def test_steps_without_a_text_form_cannot_be_saved() -> None:
    with pytest.raises(ValueError, match="a body matcher cannot be saved"):
        Script().expect_response(body=re.compile(b"x")).dumps()
    with pytest.raises(ValueError, match="a header matcher cannot be saved"):
        Script().expect_response(headers={"X": len}).dumps()
