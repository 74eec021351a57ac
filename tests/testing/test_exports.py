"""The public surface of ``netserve_testing``: what is exported, documented, and kept private."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Tuple, Union

import pytest

import netserve_testing
from netserve_testing import plugin

#: Public names of the private modules that are deliberately not re-exported, and why.
#: A new public class or function in a private module must be added to
#: ``netserve_testing.__all__`` or here.
NOT_REEXPORTED: Dict[str, str] = {
    "memory._chunks.ChunkingLike": "type alias of the chunking= arguments",
    "script._report.FailureDetails": "the parts of ExpectationFailed.details",
    "script._report.details_of": "the one shape of a failed expectation",
    "script._report.expected_text": "the one shape of a failed expectation",
    "script._report.format_failure": "the one shape of a failed expectation",
    "script._report.nearest_arrival": "the one shape of a failed expectation",
    "script._report.script_failure": "the one shape of a failed expectation",
    "script._report.unmet_details": "the one shape of a failed expectation",
    "live._closing.close_gracefully": "how teardown and a client's with block end a connection",
    "live._clients.DEFAULT_TIMEOUT": "set with --netserve-timeout or the timeout= arguments",
    "live._harness.DEFAULT_TEARDOWN_TIMEOUT": "set with --netserve-teardown-timeout",
    "live._recorder.DEFAULT_POOL_SIZE": "set with serve(max_workers=...); in the README",
    "live._recorder.MIN_LISTEN_BACKLOG": "set with serve(request_queue_size=...); in the README",
    "live._forked.STACK_SIGNAL": "how teardown asks a stuck forked child for its stack",
    "live._forked.describe_exit": "words a child's exit status in a ChildProcessDied",
    "live._forked.install_stack_dump": "the forked child's answer to STACK_SIGNAL",
    "live._forked.isolate_child": "the forked child's cut of inherited connections",
    "live._forked.leave_ctrl_c_to_main_thread": "kit threads leave SIGINT to the main thread",
    "live._forked.register_address": "the addresses forked children cut connections to",
    "live._forked.take_ctrl_c": "a forked child takes SIGINT back",
    "live._forked.unregister_address": "the addresses forked children cut connections to",
    "live._leaks.wait_for_any_child": "the harness's reaping of children at max_children",
    "live._stacks.abandoned": "teardown's report of a stuck handler thread",
    "live._stacks.frame_stack": "the stack of a stuck handler in teardown's report",
    "live._stacks.indent": "teardown's report",
    "live._recorder.name_key": "matches a handler's client address to a kit client",
    "live._stacks.thread_stack": "the stack of a stuck handler in teardown's report",
    "live._harness.STDLIB_POLL_INTERVAL": "set with serve(poll_interval=...)",
    "live._kinds.CONCURRENCIES": "spelled out in the select_kinds() docs",
    "live._kinds.TRANSPORTS": "spelled out in the select_kinds() docs",
    "live._faults.Shaping": "what the fault proxy's thread hands a fault",
    "live._leaks.LeakCheck": "the harness's leak check",
    "live._leaks.kill_child": "the harness's teardown",
    "live._leaks.open_sockets": "the harness's leak check",
    "live._leaks.private_socket_dir": "the harness's socket directories",
    "live._leaks.remove_socket_dir": "the harness's socket directories",
    "live._leaks.running_children": "the harness's leak check",
    "live._leaks.wait_for_children": "the harness's teardown",
    "live._proxy_links.DatagramLink": "the fault proxy's client sessions",
    "live._proxy_links.Link": "the fault proxy's connections",
    "live._proxy_links.StreamLink": "the fault proxy's connections",
    "live._proxy_loop.Loop": "the fault proxy's thread",
    "live._proxy_loop.tracked_accept": "the fault proxy's fork-safe sockets",
    "live._proxy_loop.tracked_socket": "the fault proxy's fork-safe sockets",
    "memory._connection.StreamConnection": "base class of FakeStreamSocket (ends, resets)",
    "memory._lockstep.ScriptPlayer": "how run_handler plays a Script",
    "memory._server.prepare_server": "how run_handler readies a real server= class",
    "_payloads.UNICODE_EDGE_CASES": "reached through unicode_edge_case()",
    "_payloads.NETWORK_EDGE_CASES": "reached through network_edge_case() and strategies",
    "_payloads.derive_seed": "how the netserve_faker fixture seeds each test",
    "live._recorder.Recorder": "the harness's request and error log",
    "live._recorder.instrument": "the harness's server subclass",
    "live._records.ChecksOnExit": "base class of ServerHandle and ServerFactory",
    "live._records.format_problems": "the plugin's failure report",
    "memory._socket_base.FakeSocketBase": "base class of the fake sockets",
    "memory._socket_base.default_address": "the fakes' default addresses",
    "memory._socket_base.os_error": "the fakes' OSError factory",
    "script._script.register_handler_runner": "how the memory wing plays Script.run(Handler)",
    "live._stream_verbs.StreamProtocolVerbs": "mix-in of StreamClient (its protocol verbs)",
    "script._http.HeadersLike": "type alias of the headers= of send_request()",
    "script._http.build_request": "the bytes of send_request()",
    "script._http.parse_response": "how ExpectResponse reads a response",
    "script._http_steps.BodyMatcher": "type alias of the body= of expect_response()",
    "script._http_steps.HeaderMatcher": "type alias of the headers= of expect_response()",
    "script._http_steps.NO_JSON": "the default of json=: not given",
    "script._steps.NEWLINES": "spelled out in the newline= docs",
    "script._steps.check_newline": "checks the newline= arguments",
    "script._steps.client_verb": "how steps find their verb on a client",
    "script._until.DEFAULT_MAX_SIZE": "the default of max_size=",
    "script._until.as_delimiter": "checks the delimiter= arguments",
    "script._until.shorten": "shortens bytes in failure messages",
    "script._golden.RECORD_MODES": "spelled out in the --netserve-record help",
    "script._golden_format.HEADER": "the first line of a saved script",
    "script._golden_format.VERSION": "the version in HEADER",
    "script._golden_format.dump_steps": "Script.dumps()",
    "script._golden_format.parse_steps": "Script.loads()",
    "script._golden_format.quote": "how saved scripts write bytes",
    "script._golden_format.unquote": "how saved scripts read bytes",
    "script._recording.Redactor": "type alias of the redact= arguments",
    "script._recording.VOLATILE_HEADERS": "the default of ignore_headers=",
    "script._recording.steps_from_transcript": "Script.from_transcript()",
    "_tls.CLIENT_NAME": "spelled out in the SessionCA docs",
    "_tls.SERVER_NAMES": "spelled out in the SessionCA docs",
    "live._harness.TLS_CLIENT_MODES": "spelled out in the ServerHandle.connect() docs",
    "live._liveness.STALLS": "spelled out in the check_liveness() docs",
}

#: The plugin's fixtures, as ``pytest --fixtures`` lists them.
FIXTURES = [
    "netserve",
    "server_kind",
    "netserve_faker",
    "netserve_redact",
    "netserve_golden",
    "netserve_ca",
]

ROOT = Path(__file__).resolve().parents[2]

#: The public names that can hold a docstring, and so an example: constants and type
#: aliases are documented by a comment where they are defined.
PUBLIC_CLASSES_AND_FUNCTIONS = [
    name
    for name in netserve_testing.__all__
    if inspect.isclass(getattr(netserve_testing, name))
    or inspect.isfunction(getattr(netserve_testing, name))
]


def _isort_key(name: str) -> Tuple[int, List[Union[int, str]]]:
    # The order ruff's RUF022 keeps __all__ in: CONSTANTS, then Classes, then functions,
    # each in natural order (digits compare as numbers).
    group = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return group, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _private_modules() -> List[ModuleType]:
    # Every private module, in the wings too ("memory._chunks").
    infos = pkgutil.walk_packages(netserve_testing.__path__, prefix="netserve_testing.")
    names = [info.name for info in infos if info.name.rpartition(".")[2].startswith("_")]
    return [importlib.import_module(name) for name in names]


def _public_names_of(module: ModuleType) -> List[str]:
    # Its __all__, and every public class or function it defines.
    names = set(getattr(module, "__all__", []))
    for name, value in vars(module).items():
        defined_here = getattr(value, "__module__", None) == module.__name__
        if not name.startswith("_") and defined_here and callable(value):
            names.add(name)
    return sorted(names)


def _own_docstring(value: object) -> str:
    # A class's own docstring: inspect.getdoc() would return a base class's, and a
    # dataclass without one gets its signature as __doc__.
    if not inspect.isclass(value):
        return inspect.getdoc(value) or ""
    doc = value.__dict__.get("__doc__") or ""
    if dataclasses.is_dataclass(value) and doc.startswith(f"{value.__name__}("):
        return ""
    return inspect.cleandoc(doc)


def _has_example(doc: str) -> bool:
    # A Google-style "Example:" (or "Examples:") section with at least one doctest line.
    section = re.search(r"^Examples?:$(.*)", doc, re.MULTILINE | re.DOTALL)
    return section is not None and ">>> " in section.group(1)


def test_all_is_sorted_without_duplicates() -> None:
    names = netserve_testing.__all__
    assert len(names) == len(set(names)), "duplicates in netserve_testing.__all__"
    assert names == sorted(names, key=_isort_key)


@pytest.mark.parametrize("name", netserve_testing.__all__)
def test_public_name_is_importable_and_documented(name: str) -> None:
    value = getattr(netserve_testing, name)
    if inspect.isclass(value) or inspect.isfunction(value):
        assert value.__module__.startswith("netserve_testing."), value.__module__
        assert _own_docstring(value), f"netserve_testing.{name} has no docstring"
    else:  # constants and type aliases: documented where they are defined
        assert name.isupper() or name[0].isupper(), f"{name}: neither a CONSTANT nor an Alias"


@pytest.mark.parametrize("name", PUBLIC_CLASSES_AND_FUNCTIONS)
def test_public_class_or_function_has_an_example(name: str) -> None:
    # The examples run in test_fakes_docs.py.
    value = getattr(netserve_testing, name)
    assert _has_example(_own_docstring(value)), (
        f"netserve_testing.{name} has no 'Example:' section with doctest lines"
    )


def test_star_import_gives_exactly_all() -> None:
    namespace: Dict[str, object] = {}
    exec("from netserve_testing import *", namespace)
    assert sorted(set(namespace) - {"__builtins__"}) == sorted(netserve_testing.__all__)


def test_every_public_name_of_a_private_module_is_exported_or_listed_private() -> None:
    exported = set(netserve_testing.__all__)
    unlisted = []
    for module in _private_modules():
        short = module.__name__.partition(".")[2]
        for name in _public_names_of(module):
            key = f"{short}.{name}"
            if name in exported:
                assert getattr(module, name) is getattr(netserve_testing, name), key
                assert key not in NOT_REEXPORTED, f"{key} is exported: remove it from the list"
            elif key not in NOT_REEXPORTED:
                unlisted.append(key)
    assert unlisted == [], "export these in netserve_testing.__all__ or list them as private"


@pytest.mark.parametrize("key", sorted(NOT_REEXPORTED))
def test_listed_private_name_still_exists(key: str) -> None:
    module, _, name = key.rpartition(".")
    assert hasattr(importlib.import_module(f"netserve_testing.{module}"), name), key


def test_exceptions_share_one_base_class() -> None:
    # One root for everything the kit raises. Ordinary errors are Exceptions under
    # NetserveTestingError; HandlerWouldBlock is the one deliberate BaseException (a
    # handler's `except Exception:` must not swallow it), and it is listed by name here.
    root = netserve_testing.NetserveTestingBaseException
    exceptions = [
        value
        for value in map(vars(netserve_testing).get, netserve_testing.__all__)
        if inspect.isclass(value) and issubclass(value, BaseException)
    ]
    assert netserve_testing.NetserveTestingError in exceptions
    assert [e.__name__ for e in exceptions if not issubclass(e, root)] == []
    not_exceptions = [e.__name__ for e in exceptions if not issubclass(e, Exception)]
    assert sorted(not_exceptions) == ["HandlerWouldBlock", "NetserveTestingBaseException"]
    strays = [
        e.__name__
        for e in exceptions
        if issubclass(e, Exception) and not issubclass(e, netserve_testing.NetserveTestingError)
    ]
    assert strays == []


def test_plugin_module_surface() -> None:
    assert plugin.__all__ == sorted(set(plugin.__all__), key=_isort_key)
    assert plugin.SETTINGS_KEY is not None
    assert _own_docstring(plugin.NetserveSettings)
    for fixture in FIXTURES:
        assert inspect.getdoc(getattr(plugin, fixture)), f"fixture {fixture} has no docstring"


def test_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    assert result.ret == 0
    lines = ["*fixtures defined from netserve_testing.plugin*"]
    for fixture in FIXTURES:
        first_line = (inspect.getdoc(getattr(plugin, fixture)) or "").splitlines()[0]
        lines += [f"{fixture} *-- *plugin.py:*", f"    {first_line}"]  # "[session scope] --"
    result.stdout.fnmatch_lines(lines, consecutive=False)


def test_import_needs_neither_pytest_nor_faker() -> None:
    # The fakes, clients and harness work from unittest or a script: only the plugin
    # module imports pytest, and only make_faker() imports Faker.
    code = (
        "import sys, netserve_testing; "
        "print(sorted(m for m in ('pytest', '_pytest', 'faker') if m in sys.modules))"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    assert result.stdout.strip() == "[]"
