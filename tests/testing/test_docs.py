"""The examples in the docstrings run, and every public name of ours is documented."""

from __future__ import annotations

import doctest
import importlib
import inspect
import io
import sys

import pytest

import netserve_testing

MODULES = [
    "netserve_testing.conformance._datagram",
    "netserve_testing.conformance._stream",
    "netserve_testing.memory._chunks",
    "netserve_testing.memory._datagram",
    "netserve_testing.memory._peer",
    "netserve_testing.memory._run",
    "netserve_testing.memory._server",
    "netserve_testing.memory._stream",
    "netserve_testing.script._golden",
    "netserve_testing.script._golden_format",
    "netserve_testing.script._http",
    "netserve_testing.script._http_steps",
    "netserve_testing.script._pause",
    "netserve_testing.script._recording",
    "netserve_testing.script._script",
    "netserve_testing.script._steps",
    "netserve_testing.script._until",
    "netserve_testing.live._stream_verbs",
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


#: Every public class and function: their examples (methods' included) must run.
PUBLIC_CLASSES_AND_FUNCTIONS = [
    name
    for name in netserve_testing.__all__
    if inspect.isclass(getattr(netserve_testing, name))
    or inspect.isfunction(getattr(netserve_testing, name))
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


@pytest.mark.parametrize("name", PUBLIC_CLASSES_AND_FUNCTIONS)
def test_public_name_docstring_examples_run(name: str) -> None:
    # The examples of the object and of its methods, with the globals of the module that
    # defines it (as doctest.testmod gives them). Examples marked +SKIP need a running
    # server and are only counted.
    obj = getattr(netserve_testing, name)
    module = sys.modules[obj.__module__]
    tests = doctest.DocTestFinder().find(obj, name, module=module)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    assert sum(len(test.examples) for test in tests) > 0, f"netserve_testing.{name}: no examples"
    assert runner.failures == 0, report.getvalue()
