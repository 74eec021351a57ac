"""A Hypothesis state machine drives a conversation with a handler in memory, against a model.

Each rule is one command of the client; the conversation so far is a
:class:`Script` that the invariant replays in lockstep with the handler, split by a
drawn chunking, after every step. A handler that strays from the model fails with
the fewest commands that show it.
"""

from __future__ import annotations

import socketserver
from typing import Dict, Type

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from netserve_testing import Chunking, ExpectationFailed, Script, run_handler
from netserve_testing.strategies import chunkings

KEYS = st.sampled_from(["a", "b"])
VALUES = st.sampled_from(["x", "y", "z"])


class KeyValue(socketserver.StreamRequestHandler):
    """SET k v / GET k / DEL k, a command a line; answers OK, the value, DELETED or NONE."""

    def handle(self) -> None:
        store: Dict[str, str] = {}
        for line in self.rfile:
            command, _, rest = line.decode().strip().partition(" ")
            key, _, value = rest.partition(" ")
            if command == "SET":
                self.set(store, key, value)
                reply = "OK"
            elif command == "GET":
                reply = store.get(key, "NONE")
            else:
                reply = "DELETED" if store.pop(key, None) is not None else "NONE"
            self.wfile.write(reply.encode() + b"\n")

    def set(self, store: Dict[str, str], key: str, value: str) -> None:
        store[key] = value


class FirstWriteWins(KeyValue):
    """A bug: a second SET of a key keeps the first value."""

    def set(self, store: Dict[str, str], key: str, value: str) -> None:
        store.setdefault(key, value)


def conversation_machine(handler: Type[KeyValue]) -> Type[RuleBasedStateMachine]:
    class Conversation(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model: Dict[str, str] = {}
            self.script = Script()
            self.chunking = Chunking.at()

        @initialize(chunking=chunkings(max_offset=40))
        def split_with(self, chunking: Chunking) -> None:
            self.chunking = chunking

        @rule(key=KEYS, value=VALUES)
        def set(self, key: str, value: str) -> None:
            value += str(len(self.script))  # a new value each time: every SET changes the key
            self.script.send_line(f"SET {key} {value}").expect_line("OK")
            self.model[key] = value

        @rule(key=KEYS)
        def get(self, key: str) -> None:
            self.script.send_line(f"GET {key}").expect_line(self.model.get(key, "NONE"))

        @rule(key=KEYS)
        def delete(self, key: str) -> None:
            reply = "DELETED" if self.model.pop(key, None) is not None else "NONE"
            self.script.send_line(f"DEL {key}").expect_line(reply)

        @invariant()
        def the_handler_agrees_with_the_model(self) -> None:
            # The conversation so far, replayed in memory: microseconds a step.
            run_handler(handler, self.script, chunking=self.chunking)

    Conversation.__name__ = f"ConversationWith{handler.__name__}"
    return Conversation


def test_a_correct_handler_keeps_up_with_the_model() -> None:
    run_state_machine_as_test(conversation_machine(KeyValue))


def test_a_state_machine_finds_the_fewest_commands_that_show_a_bug() -> None:
    machine = conversation_machine(FirstWriteWins)
    thorough = settings(settings.default, max_examples=300, stateful_step_count=10)
    with pytest.raises(ExpectationFailed) as caught:
        run_state_machine_as_test(machine, settings=thorough)
    steps = "\n".join(getattr(caught.value, "__notes__", []))
    # Set a key twice with different values, then read it: three commands, no split needed.
    assert steps.count("state.set(") == 2, steps
    assert steps.count("state.get(") == 1, steps
    assert "state.delete(" not in steps
    assert "chunking=Chunking.at()" in steps
    assert "script step 6 of 6 (expect line" in str(caught.value)
