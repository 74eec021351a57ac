"""Inner pytest runs (``pytester``) load the plugins they need, not whatever the machine has.

A plugin installed beside the suite (pytest-randomly reorders and reseeds, others add
options or output) would change what an inner run prints; autoloading is off for them
and the needed plugins are named. The environment of a CI machine changes it too
(with ``CI`` or ``BUILD_NUMBER`` set, pytest repeats every failure's full message in its
short summary), so inner runs print as they would on a developer's machine.
"""

from __future__ import annotations

import pytest

#: Plugins inner runs load: the one under test, and those its tests use. By entry point
#: name, but pytest-socket's by module: its entry point name is the standard library's
#: "socket", which -p would try to mark for assertion rewriting (a warning, an error here).
#: Faker's plugin is left out: importing it doubles the start-up of an inner run, and only
#: the tests that use its ``faker`` fixture load it (``-p faker``).
INNER_PLUGINS = (
    "netserve",
    "xdist",
    "pytest_socket",
    "pytest_cov",
    "hypothesispytest",
)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The ``pytester`` fixture, its runs insulated from the machine's plugins."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    options = [f"-p {name}" for name in INNER_PLUGINS]
    monkeypatch.setenv("PYTEST_ADDOPTS", " ".join([*options, "-p no:randomly"]))
    return pytester
