"""Run CPython's own ``test_socketserver`` with netserve in place of ``socketserver``.

The standard library's test suite is the best specification of ``socketserver`` there
is. This script puts ``netserve`` in ``sys.modules["socketserver"]`` before the test
module is imported, so every ``socketserver.X`` the tests touch is netserve's, then runs
the module with unittest and exits 0 only if every test passed (skips allowed).

Run it from any CPython 3.9-3.13 that ships its test package (``test.test_socketserver``)::

    python tests/core/run_stdlib_suite.py            # the running interpreter
    python3.9 tests/core/run_stdlib_suite.py -v      # unittest's verbose output

The repository root is put first on ``sys.path``, so the interpreter needs nothing
installed. Exit status: 0 all passed, 1 a test failed, 3 no ``test.test_socketserver``.

One test is translated, not skipped: ``MiscTestCase.test_all`` checks that the public
objects whose ``__module__`` is the literal ``'socketserver'`` are exactly ``__all__``.
Run against netserve it asks the same of the objects defined in the ``netserve``
package (``netserve`` or ``netserve._x``), and also that ``__all__`` holds every name
of the running interpreter's ``socketserver.__all__``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Exit status when this interpreter has no test package to run.
NO_STDLIB_TESTS = 3


def load_suite() -> unittest.TestSuite:
    """Import ``test.test_socketserver`` against netserve and return its tests.

    Raises:
        ModuleNotFoundError: if this interpreter does not ship ``test.test_socketserver``.
    """
    sys.path.insert(0, str(ROOT))
    import netserve

    if importlib.util.find_spec("test.test_socketserver") is None:
        raise ModuleNotFoundError("no module named 'test.test_socketserver'")
    sys.modules["socketserver"] = netserve
    module = importlib.import_module("test.test_socketserver")
    if module.socketserver is not netserve:
        raise RuntimeError("test.test_socketserver did not import netserve as socketserver")
    module.MiscTestCase.test_all = _test_all_of_netserve
    return unittest.defaultTestLoader.loadTestsFromModule(module)


def _test_all_of_netserve(self: unittest.TestCase) -> None:
    # test_all with the module's real name: objects defined in the package are in __all__.
    import netserve

    defined = [
        name
        for name in dir(netserve)
        if not name.startswith("_")
        and str(getattr(getattr(netserve, name), "__module__", "")).split(".")[0] == "netserve"
    ]
    assert sorted(netserve.__all__) == sorted(defined), (netserve.__all__, defined)
    stdlib = _stdlib_socketserver_all()
    missing = [name for name in stdlib if name not in netserve.__all__]
    assert not missing, f"socketserver.__all__ names missing from netserve.__all__: {missing}"


def _stdlib_socketserver_all() -> list[str]:
    # The real socketserver's __all__, loaded under another name (sys.modules holds netserve).
    saved = sys.modules.pop("socketserver")
    try:
        spec = importlib.util.find_spec("socketserver")
        assert spec is not None
        assert spec.loader is not None
        real = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(real)
        return list(real.__all__)
    finally:
        sys.modules["socketserver"] = saved


def main(argv: list[str]) -> int:
    """Run the suite; return 0 if every test passed."""
    try:
        suite = load_suite()
    except ModuleNotFoundError as exc:
        print(f"cannot run the stdlib suite: {exc}", file=sys.stderr)
        return NO_STDLIB_TESTS
    verbosity = 2 if "-v" in argv else 1
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    print(
        f"python {sys.version.split()[0]}: {result.testsRun} run, "
        f"{len(result.failures)} failures, {len(result.errors)} errors, "
        f"{len(result.skipped)} skipped",
        file=sys.stderr,
    )
    return 0 if result.wasSuccessful() and result.testsRun else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
