"""The examples in the docstrings of every public class of ``netserve`` run and pass."""

from __future__ import annotations

import doctest
import io
import sys

import pytest

import netserve

from .conftest import FORK_IN_THREAD_WARNING


def _param(name: str) -> object:
    # The Forking* examples fork while pytest-xdist's threads run (a warning on 3.12+).
    if name.startswith("Forking"):
        return pytest.param(name, marks=pytest.mark.filterwarnings(FORK_IN_THREAD_WARNING))
    return name


@pytest.mark.parametrize("name", [_param(name) for name in netserve.__all__])
def test_public_name_docstring_examples_run(name: str) -> None:
    # The examples of the class and of its own methods, with the globals of the module that
    # defines it (as doctest.testmod gives them). Every one runs: none is marked +SKIP.
    obj = getattr(netserve, name)
    module = sys.modules[obj.__module__]
    tests = doctest.DocTestFinder().find(obj, name, module=module)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    assert runner.tries > 0, f"netserve.{name}: no example ran"
    assert runner.failures == 0, report.getvalue()
