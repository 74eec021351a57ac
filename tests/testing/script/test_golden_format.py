"""The golden-file text format: quoting, one step per line, round trips, errors with file:line."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from netserve_testing import Script, ScriptFormatError
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
        "# netserve script 1",
        'send "HELO x\\r\\n"',
        'send "MAIL FROM:<a@b>\\r\\n"',
        'expect "250 hi\\r\\n"',
        'expect "250 ok\\r\\n"',
        'expect_line "caf\\xc3\\xa9"',
        'expect_line "250 ok" newline="\\r\\n"',
        'expect_regex "^250 (\\\\w+)" flags=2 newline="\\n"',
        'expect_until "END\\r\\n" max_size=100',
        'send "HEAD /x HTTP/1.1\\r\\n"',
        'send "Host: localhost\\r\\n"',
        'send "\\r\\n"',
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
    # Multi-line sends and expects come back one line a step: the same bytes, in order.
    assert loaded.dumps() == original.dumps()
    assert Script.loads(loaded.dumps()).steps == loaded.steps
    assert b"".join(s.data for s in loaded.steps[:2]) == original.steps[0].data  # type: ignore[attr-defined]
    assert loaded.origin(1) == f"{path}:2"
    assert loaded.origin(len(loaded)) == f"{path}:18"


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
    ],
)
def test_a_bad_line_names_the_file_and_line(line: str, message: str) -> None:
    with pytest.raises(ScriptFormatError, match=f"^golden.script:2: .*{message}"):
        Script.loads(f"# netserve script 1\n{line}\n", name="golden.script")


def test_steps_without_a_text_form_cannot_be_saved() -> None:
    with pytest.raises(ValueError, match="a body matcher cannot be saved"):
        Script().expect_response(body=re.compile(b"x")).dumps()
    with pytest.raises(ValueError, match="a header matcher cannot be saved"):
        Script().expect_response(headers={"X": len}).dumps()
