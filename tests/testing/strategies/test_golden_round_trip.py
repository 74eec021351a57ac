"""Saving a Script and loading it back gives the same steps: a property over many scripts.

A multi-line send is one write, and a replay depends on that (a handler's single
``recv`` gets it all), so the golden file must not cut it into several steps.
"""

from __future__ import annotations

from typing import List, Tuple

from hypothesis import given
from hypothesis import strategies as st

from netserve_testing import Script
from netserve_testing.strategies import payloads, scripts

# Bytes a protocol holds: lines with either ending, NUL, non-UTF-8, quotes, escapes.
_PIECES = st.sampled_from(
    [b"", b"\n", b"\r\n", b"\r", b"a", b"HELO x", b"\x00", b"\xff\xfe", b'"', b"\\", b"\t", b"+ "]
)
_DATA = st.one_of(
    st.lists(_PIECES, max_size=8).map(b"".join),
    st.binary(max_size=40),
    payloads(max_parts=4, long_line_size=100),
)
_STEP = st.one_of(
    st.tuples(st.sampled_from(["send", "expect"]), _DATA),
    st.tuples(st.just("expect_line"), st.text(st.characters(blacklist_characters="\r\n"))),
    st.tuples(st.just("go_quiet"), st.none()),
)
# How a conversation ends: nothing is sent after a close or a reset.
_ENDING = st.lists(
    st.tuples(st.sampled_from(["close", "reset", "expect_closed"]), st.none()), max_size=2
)


def _script(steps: List[Tuple[str, object]]) -> Script:
    script = Script()
    for verb, argument in steps:
        script = getattr(script, verb)() if argument is None else getattr(script, verb)(argument)
    return script


@given(st.builds(lambda body, end: _script(body + end), st.lists(_STEP, max_size=12), _ENDING))
def test_Script_loads_dumps_gives_the_same_steps(script: Script) -> None:
    assert list(Script.loads(script.dumps()).steps) == list(script.steps)


@given(
    scripts(
        payloads(max_parts=4, long_line_size=100),
        reply=bytes.upper,
        endings=("close", "reset", "quiet"),
    )
)
def test_Script_loads_dumps_gives_the_same_steps_for_drawn_scripts(script: Script) -> None:
    assert list(Script.loads(script.dumps()).steps) == list(script.steps)


@given(st.lists(_DATA, min_size=1, max_size=6))
def test_consecutive_sends_stay_apart_and_a_multi_line_send_stays_one(sent: List[bytes]) -> None:
    script = Script()
    for data in sent:
        script = script.send(data)
    loaded = Script.loads(script.dumps())
    assert [step.data for step in loaded.steps] == sent  # type: ignore[attr-defined]
