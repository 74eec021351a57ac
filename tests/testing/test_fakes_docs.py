"""The examples in the fakes' docstrings run, and every public name of ours is documented."""

from __future__ import annotations

import doctest
import importlib

import pytest

import netserve_testing

MODULES = [
    "netserve_testing._chunks",
    "netserve_testing._conformance",
    "netserve_testing._datagram_conformance",
    "netserve_testing._fake_datagram",
    "netserve_testing._fake_server",
    "netserve_testing._fakes",
    "netserve_testing._run",
    "netserve_testing._script",
]

OUR_NAMES = [
    "Chunking",
    "DatagramRun",
    "FakeDatagramSocket",
    "FakePeer",
    "FakeServer",
    "FakeStreamSocket",
    "HandlerRun",
    "Script",
    "check_datagram_socket",
    "check_stream_socket",
    "fake_datagram_pair",
    "fake_stream_pair",
    "run_datagram_handler",
    "run_handler",
    "socketpair_stream_pair",
    "tcp_stream_pair",
    "udp_datagram_pair",
    "unix_datagram_pair",
]


@pytest.mark.parametrize("name", MODULES)
def test_fakes_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0
    assert attempted > 0


@pytest.mark.parametrize("name", OUR_NAMES)
def test_fakes_public_names_have_docstring_examples(name: str) -> None:
    obj = getattr(netserve_testing, name)
    assert name in netserve_testing.__all__
    assert obj.__doc__
    assert "Example" in obj.__doc__
