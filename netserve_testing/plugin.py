"""The netserve pytest plugin: real servers per test, kind parametrization, seeded payloads.

Registered as ``netserve`` through the ``pytest11`` entry point (disable it with
``-p no:netserve``). The work is done by :class:`~netserve_testing.ServerFactory`;
this module only wires it into pytest:

- ``netserve`` fixture: a :class:`~netserve_testing.ServerFactory` per test.
  Handler errors nobody marked handled fail the test; leaks fail its teardown.
- ``server_kind`` fixture and ``@pytest.mark.netserve_kinds(...)``: run a test
  across server kinds, with ids such as ``tcp-threading``.
- ``netserve_faker`` fixture: a ``faker.Faker`` with the netserve provider,
  seeded from the test's node id and the session seed.
- ``netserve_golden`` fixture and ``--netserve-record``: golden scripts, recorded
  or replayed; ``netserve_redact`` (override it) replaces secrets before saving.
- ``netserve_ca`` fixture: the session certificate authority of the TLS kinds, for a
  test's own TLS clients (a CA bundle path, ready client contexts).
- pytest-socket: a test whose sockets it blocks fails saying what to add.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Generator,
    Iterator,
    List,
    Optional,
    Tuple,
    TypeVar,
)

import pytest

from .live._factory import ServerFactory
from .live._harness import DEFAULT_TEARDOWN_TIMEOUT
from .live._kinds import ServerKind, select_kinds
from .live._records import HandlerError, format_problems
from .script._golden import RECORD_MODES, GoldenScript
from .script._recording import Redactor

if TYPE_CHECKING:
    from faker import Faker

    from ._tls import SessionCA

__all__ = ["SETTINGS_KEY", "NetserveSettings"]

_T = TypeVar("_T")

# One help text per setting, shared by the command-line option and the ini key.
_HELP = {
    "netserve_timeout": "seconds a scripted client or wait_for_requests() waits before "
    "failing (default: 5)",
    "netserve_teardown_timeout": "seconds teardown waits for handler threads and forked "
    "children (default: 5)",
    "netserve_leak_check": "after each test, fail on leaked threads, processes, sockets "
    "and socket files: on or off (default: on)",
    "netserve_seed": "session seed of the netserve_faker fixture, printed in failing "
    "reports; pass it to replay a run (default: random)",
    "netserve_backend": "server classes of the kinds: netserve or socketserver (the "
    "standard library) (default: netserve)",
    "netserve_kinds": "narrow the server kinds of every test using server_kind, on top of "
    "its netserve_kinds marker: selectors as in the marker, separated by spaces to narrow, "
    "'a,b' for either, e.g. 'stream threading' or 'tcp,udp-sync' (default: all)",
    "netserve_record": "golden scripts of the netserve_golden fixture: none (replay only), "
    "new (record those that do not exist yet) or all (re-record) (default: none)",
}
# Python 3.12+ warns on a fork in a multi-threaded process. A forking server forks
# from its serving thread, so it always is: the warning is hidden where the forking
# mix-ins fork (the module that calls fork() is the warning's), nowhere else.
_FORK_WARNING = (
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning:"
    r"(netserve\._mixins|socketserver)$"
)


@dataclass(frozen=True)
class NetserveSettings:
    """The plugin's settings for this run, in ``config.stash[SETTINGS_KEY]``.

    Example:
        >>> settings = request.config.stash[SETTINGS_KEY]  # doctest: +SKIP
        >>> settings.timeout  # doctest: +SKIP
        5.0
    """

    timeout: float = 5.0
    teardown_timeout: float = DEFAULT_TEARDOWN_TIMEOUT
    leak_check: bool = True
    seed: int = 0
    backend: Optional[str] = None
    kinds: Tuple[str, ...] = ()
    record: str = "none"


#: Where the plugin keeps its settings: ``config.stash[SETTINGS_KEY]``.
SETTINGS_KEY = pytest.StashKey[NetserveSettings]()
_FACTORIES_KEY = pytest.StashKey[List[ServerFactory]]()
_TEST_SEED_KEY = pytest.StashKey[int]()
_FAKER_KEY = pytest.StashKey["Faker"]()
_INTERRUPTED_KEY = pytest.StashKey[bool]()
# Handler threads teardown abandoned that are not daemons, with the test of each: the
# interpreter would join them at exit, so pytest_unconfigure ends the process instead.
_HELD_KEY = pytest.StashKey[List[Tuple[threading.Thread, str]]]()
_SESSION_KEY = pytest.StashKey[pytest.Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netserve", "netserve: real servers for request handler tests")
    for name, text in _HELP.items():
        parser.addini(name, help=text, default="")
        option = "--" + name.replace("_", "-")
        group.addoption(option, dest=name, default=None, metavar="VALUE", help=text)


def _setting(config: pytest.Config, name: str, convert: Callable[[str], _T], expected: str) -> Any:
    value = config.getoption(name)
    source = "--" + name.replace("_", "-")
    if value is None:
        value = config.getini(name)
        source = f"ini option {name}"
    if value is None or str(value).strip() == "":
        return None
    try:
        return convert(str(value).strip())
    except _BadValue as exc:
        raise pytest.UsageError(f"{source}: expected {expected}: {exc}") from None
    except ValueError:
        raise pytest.UsageError(f"{source}: expected {expected}, got {value!r}") from None


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError(text)
    return value


def _switch(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("on", "yes", "true", "1"):
        return True
    if lowered in ("off", "no", "false", "0"):
        return False
    raise ValueError(text)


def _backend(text: str) -> str:
    if text not in ("netserve", "socketserver"):
        raise ValueError(text)
    return text


class _BadValue(ValueError):
    """A setting's value is wrong in a way its message explains better than "got <value>"."""


def _kind_selectors(text: str) -> Tuple[str, ...]:
    selectors = tuple(text.split())
    try:
        kinds = select_kinds(*selectors)
    except ValueError as exc:
        raise _BadValue(str(exc)) from None
    if not kinds:
        raise _BadValue(f"{text!r} selects no server kind{_either_hint(selectors)}")
    return selectors


def _either_hint(selectors: Tuple[str, ...]) -> str:
    # How to say "either": several selectors narrow, one "a,b" selector means either.
    if len(selectors) < 2:
        return ""
    either = ",".join(selectors)
    return f": several selectors narrow (a kind must match each); for either, write {either!r}"


def _read_settings(config: pytest.Config) -> NetserveSettings:
    timeout = _setting(config, "netserve_timeout", _seconds, "seconds > 0")
    teardown = _setting(config, "netserve_teardown_timeout", _seconds, "seconds > 0")
    leak_check = _setting(config, "netserve_leak_check", _switch, "on or off")
    seed = _setting(config, "netserve_seed", int, "an integer")
    backend = _setting(config, "netserve_backend", _backend, "netserve or socketserver")
    kinds = _setting(config, "netserve_kinds", _kind_selectors, "server kind selectors")
    record = _setting(config, "netserve_record", _record_mode, "none, new or all")
    if seed is None:
        # pytest-xdist workers take the seed their controller drew, so all agree.
        workerinput = getattr(config, "workerinput", {})
        seed = workerinput.get("netserve_seed")
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 32)
    return NetserveSettings(
        timeout=5.0 if timeout is None else timeout,
        teardown_timeout=DEFAULT_TEARDOWN_TIMEOUT if teardown is None else teardown,
        leak_check=True if leak_check is None else leak_check,
        seed=seed,
        backend=backend,
        kinds=kinds or (),
        record=record or "none",
    )


def _record_mode(text: str) -> str:
    if text not in RECORD_MODES:
        raise ValueError(text)
    return text


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SETTINGS_KEY] = _read_settings(config)
    config.addinivalue_line(
        "markers",
        "netserve_kinds(*selectors): run the test once per server kind it selects, through "
        "the server_kind fixture; selectors: 'all', 'stream', 'datagram', 'inet', 'unix', "
        "a transport ('tcp', 'udp', 'unix_stream', 'unix_dgram', 'tcp6', 'udp6', 'tls', 'tls6'), a "
        "concurrency ('sync', 'threading', 'forking', 'pool') or a kind id ('udp-pool'); "
        "'a,b' means either, several arguments narrow; --netserve-kinds narrows further",
    )
    config.addinivalue_line(
        "markers",
        "netserve_leak_check(enabled): False turns the netserve leak checks off for this test "
        "(as --netserve-leak-check=off does for all), e.g. for a test whose own code starts a "
        "thread that outlives it",
    )
    # An ini line, not warnings.filterwarnings(): pytest resets the filters for each test.
    config.addinivalue_line("filterwarnings", _FORK_WARNING)
    config.pluginmanager.register(_Interruption(config), "netserve-interruption")


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SESSION_KEY] = session


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> Generator[None, None, None]:
    # After every other plugin's unconfigure (reports written, coverage saved): if an
    # abandoned handler thread that is not a daemon still runs, the interpreter would
    # wait for it forever at exit, so the process ends here with pytest's exit status.
    yield
    alive = [(t, nodeid) for t, nodeid in config.stash.get(_HELD_KEY, []) if t.is_alive()]
    if not alive:
        return
    thread, nodeid = alive[0]
    session = config.stash.get(_SESSION_KEY, None)
    status = int(session.exitstatus) if session is not None else int(pytest.ExitCode.TESTS_FAILED)
    more = f" (and {len(alive) - 1} more)" if len(alive) > 1 else ""
    message = (
        f"netserve: handler thread {thread.name!r} of {nodeid}{more} is still running and is "
        "not a daemon (the test's server class sets daemon_threads=False): ending the process "
        f"with exit status {status} instead of waiting for it"
    )
    for stream in (sys.stdout, sys.stderr, sys.__stdout__):
        with contextlib.suppress(Exception):
            stream.flush()  # type: ignore[union-attr]  # (None: nothing to flush)
    with contextlib.suppress(Exception):
        os.write(sys.__stderr__.fileno() if sys.__stderr__ else 2, (message + "\n").encode())
    os._exit(status)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand the session seed to a pytest-xdist worker (called in the controller)."""
    node.workerinput["netserve_seed"] = node.config.stash[SETTINGS_KEY].seed


class _Interruption:
    # Notes Ctrl-C in config.stash: teardown after it runs in pytest_sessionfinish,
    # where a failure would be a traceback through pluggy, not a report.

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_keyboard_interrupt(self) -> None:
        self._config.stash[_INTERRUPTED_KEY] = True


def pytest_report_header(config: pytest.Config) -> str:
    settings = config.stash[SETTINGS_KEY]
    return (
        f"netserve: client timeout {settings.timeout:g} s, teardown timeout "
        f"{settings.teardown_timeout:g} s, leak checks {'on' if settings.leak_check else 'off'}, "
        f"backend {settings.backend or 'netserve'}, seed {settings.seed}"
        + (f", kinds {' '.join(settings.kinds)!r}" if settings.kinds else "")
        + (f", record {settings.record}" if settings.record != "none" else "")
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server_kind" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("netserve_kinds")
    selectors = marker.args if marker is not None else ()
    # A bad marker fails the collection of its file with one line (a CollectError is
    # shown as its message alone), not a traceback through pytest and this plugin.
    try:
        kinds = select_kinds(*selectors)
    except (TypeError, ValueError) as exc:
        raise pytest.Collector.CollectError(
            f"{metafunc.definition.nodeid}: {_marker_text(selectors)}: {exc}"
        ) from None
    if not kinds:
        raise pytest.Collector.CollectError(
            f"{metafunc.definition.nodeid}: {_marker_text(selectors)} selects no server kind"
            + _either_hint(tuple(map(str, selectors)))
        )
    settings = metafunc.config.stash[SETTINGS_KEY]
    if settings.kinds:
        kinds = select_kinds(*selectors, *settings.kinds)
        if not kinds:
            narrowing = " ".join(settings.kinds)
            reason = f"--netserve-kinds {narrowing!r} leaves none of the kinds of this test"
            _parametrize_skipped(metafunc, reason)
            return
    # Kinds the backend has no class for (the standard library has no thread pool) are
    # left out, as --netserve-kinds leaves out what it excludes.
    served = [kind for kind in kinds if _has_class(kind, settings.backend)]
    if not served:
        missing = ", ".join(kind.id for kind in kinds)
        reason = (
            f"--netserve-backend {settings.backend} has no server class for the kinds of "
            f"this test ({missing})"
        )
        _parametrize_skipped(metafunc, reason)
        return
    metafunc.parametrize("server_kind", served, ids=[kind.id for kind in served], indirect=True)


def _marker_text(selectors: Tuple[Any, ...]) -> str:
    return f"@pytest.mark.netserve_kinds({', '.join(map(repr, selectors))})"


def _parametrize_skipped(metafunc: pytest.Metafunc, reason: str) -> None:
    skipped = pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-kind")
    metafunc.parametrize("server_kind", [skipped], indirect=True)


def _has_class(kind: ServerKind, backend: Optional[str]) -> bool:
    try:
        kind.server_class(backend)
    except ValueError:
        return False
    return True


# What a test blocked by pytest-socket needs (sockets on loopback: TCP, UDP and Unix).
_PYTEST_SOCKET_FIX = (
    "mark the test @pytest.mark.enable_socket (or request the socket_enabled fixture), or "
    "allow loopback for the whole run instead of --disable-socket: "
    "--allow-hosts=127.0.0.1,::1 --allow-unix-socket"
)


def _sockets_blocked() -> bool:
    # Whether pytest-socket blocks every socket for this test (--disable-socket without
    # --allow-unix-socket, and no enable_socket): then no server of the fixture can work.
    if "pytest_socket" not in sys.modules:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pytest-socket warns as it raises
        try:
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
        except RuntimeError:  # pytest_socket.SocketBlockedError
            return True
    return False


def _pytest_socket_help(exc: BaseException) -> Optional[str]:
    # What to add when pytest-socket blocked a socket of a test using the netserve fixture.
    name = type(exc).__name__
    text = str(exc)
    if name == "SocketConnectBlockedError" or text.startswith(
        "A test tried to use socket.socket.connect()"
    ):
        host = getattr(exc, "_host", None)
        if host is None and 'host "None"' in text:
            return (
                "netserve: pytest-socket blocked a Unix socket connection: add --allow-unix-socket"
            )
        return (
            "netserve: pytest-socket blocked a connection to a loopback server: allow it with "
            "--allow-hosts=127.0.0.1,::1 (or @pytest.mark.allow_hosts(['127.0.0.1', '::1']))"
        )
    if name == "SocketBlockedError" or text.startswith("A test tried to use socket."):
        return f"netserve: pytest-socket blocked a socket: {_PYTEST_SOCKET_FIX}"
    return None


def _add_note(exc: BaseException, note: str) -> None:
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        notes.append(note)
        return
    try:
        exc.__notes__ = [note]
    except AttributeError:  # an exception type with __slots__: leave it as it is
        return


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    # Errors recorded while the test ran fail the test itself; later ones fail teardown.
    # Ctrl-C (KeyboardInterrupt) passes through untouched, whenever it comes.
    try:
        yield
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if _FACTORIES_KEY in item.stash:
            help_text = _pytest_socket_help(exc)
            if help_text is not None:
                _add_note(exc, help_text)
        errors = _take_unhandled(item)
        if errors:
            item.add_report_section("call", "netserve handler errors", format_problems(errors, []))
        raise
    errors = _take_unhandled(item)
    if errors:
        raise pytest.fail.Exception(format_problems(errors, []), pytrace=False)


def _take_unhandled(item: pytest.Item) -> List[HandlerError]:
    return [e for f in item.stash.get(_FACTORIES_KEY, []) for e in f.take_unhandled_errors()]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    seed = item.stash.get(_TEST_SEED_KEY, None)
    if seed is not None and report.failed:
        session_seed = item.config.stash[SETTINGS_KEY].seed
        report.sections.append(
            (
                "netserve_faker",
                f"netserve_faker seed {seed} (session seed {session_seed}); "
                f"replay with --netserve-seed={session_seed}",
            )
        )
    return report


@pytest.fixture
def netserve(request: pytest.FixtureRequest) -> Iterator[ServerFactory]:
    """Start real servers for this test; all are stopped and checked when it ends.

    Scope: function. Type: :class:`netserve_testing.ServerFactory`.

    ``netserve.serve(handler_class, kind="tcp-threading", **options)`` starts a
    server on an ephemeral loopback address (a private Unix path for Unix kinds)
    and returns a :class:`netserve_testing.ServerHandle` with ``.address``,
    ``.connect()`` (a scripted client), ``.errors``, ``.requests`` and
    ``.wait_for_requests(n)``. Options: ``server_class=`` (any socketserver-style
    class), ``address=``, ``attrs=``, and server class attributes such as
    ``daemon_threads`` or ``max_children``.

    Handler errors not marked handled (``server.errors.expect(ValueError)``) fail
    the test, each with its traceback and client address; so does a forked child
    that dies without reporting (``ChildProcessDied``). A handler still running at
    the teardown deadline is abandoned and reported with its stack, never waited
    for. At teardown every server
    is shut down, closed, its threads joined and children reaped, and what is left
    fails the test: threads started during the test, child processes, socket files,
    and the sockets and pipes a server opened or accepted (its listening socket, a
    connection a handler kept). Sockets the test's own code opens, such as a client
    made on first use and kept for later tests, are not checked. Turn the checks
    off for one test with ``@pytest.mark.netserve_leak_check(False)`` (a test that
    starts a thread of its own that outlives it), for all with
    ``--netserve-leak-check=off``.

    Under pytest-socket, run with ``--allow-hosts=127.0.0.1,::1 --allow-unix-socket``;
    with ``--disable-socket``, a test using this fixture needs
    ``@pytest.mark.enable_socket``, or it fails at once saying so.
    """
    if _sockets_blocked():
        pytest.fail(
            f"the netserve fixture needs sockets, and pytest-socket blocks them for "
            f"{request.node.nodeid}: {_PYTEST_SOCKET_FIX}",
            pytrace=False,
        )
    settings = request.config.stash[SETTINGS_KEY]
    factory = ServerFactory(
        client_timeout=settings.timeout,
        teardown_timeout=settings.teardown_timeout,
        check_leaks=settings.leak_check and _leak_check_marker(request.node),
        backend=settings.backend,
    )
    request.node.stash.setdefault(_FACTORIES_KEY, []).append(factory)
    yield factory
    errors, leaks = factory.close()
    held = request.config.stash.setdefault(_HELD_KEY, [])
    for server in factory.servers:
        held.extend((t, request.node.nodeid) for t in server.reported_threads if not t.daemon)
    if not (errors or leaks):
        return
    if request.config.stash.get(_INTERRUPTED_KEY, False):
        # After Ctrl-C the servers are torn down all the same; what teardown found is
        # told, not raised (pytest ends with its "interrupted" summary).
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"{request.node.nodeid}: " + format_problems(errors, leaks))
        return
    pytest.fail(format_problems(errors, leaks), pytrace=False)


def _leak_check_marker(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("netserve_leak_check")
    if marker is None:
        return True
    values = [*marker.args, *marker.kwargs.values()]
    if len(values) != 1 or not isinstance(values[0], bool) or set(marker.kwargs) - {"enabled"}:
        raise pytest.UsageError(
            f"@pytest.mark.netserve_leak_check takes True or False, not {marker.args!r} "
            f"{marker.kwargs!r} ({item.nodeid})"
        )
    return values[0]


@pytest.fixture
def server_kind(request: pytest.FixtureRequest) -> ServerKind:
    """The server kind this run of the test uses; the test runs once per kind.

    Scope: function. Type: :class:`netserve_testing.ServerKind`. Default: every
    kind of the matrix (TCP, UDP, Unix stream, Unix datagram x sync, threading,
    forking, pool), ids such as ``tcp-threading``; narrow with
    ``@pytest.mark.netserve_kinds("stream")``, and for the whole run with
    ``--netserve-kinds`` (a test whose kinds it excludes all is skipped). Kinds
    the ``--netserve-backend`` has no class for (``socketserver`` has no thread
    pool) are left out the same way. The TLS kinds (``tls-sync``, ``tls-threading``,
    ``tls-forking``, ``tls-pool``) and IPv6 kinds are opt-in: a selector naming
    ``tls`` (``"tcp,tls"``), ``tls6``, ``tcp6`` or ``udp6`` adds them. Pass it
    on: ``netserve.serve(Handler, server_kind)``; ``server_kind.is_stream`` tells
    which handler to use, ``server_kind.is_tls`` whether it speaks TLS.
    """
    kind: ServerKind = request.param
    return kind


@pytest.fixture
def netserve_faker(request: pytest.FixtureRequest) -> Faker:
    """A ``faker.Faker`` with the netserve payload provider, seeded for this test.

    Scope: function. Type: ``faker.Faker``. Seed: derived from the session seed
    (``--netserve-seed``, random by default) and the test's node id, so each test
    gets its own stable data; a failing test's report prints the seed to replay.
    Adds ``text_line()``, ``text_lines(n)``, ``payload(size)``,
    ``payload_without(forbidden)``, ``unicode_edge_case()``,
    ``network_edge_case()`` and ``client_address(kind)``. Distinct from Faker's own
    ``faker`` fixture.
    """
    from ._payloads import derive_seed, make_faker

    config = request.config
    seed = derive_seed(config.stash[SETTINGS_KEY].seed, request.node.nodeid)
    request.node.stash[_TEST_SEED_KEY] = seed
    fake = config.stash.get(_FAKER_KEY, None)
    if fake is None:
        fake = config.stash[_FAKER_KEY] = make_faker()
    fake.seed_instance(seed)
    fake.unique.clear()
    return fake


@pytest.fixture
def netserve_redact() -> Optional[Redactor]:
    """How recordings hide secrets before ``netserve_golden`` saves them; override it.

    Scope: function. Type: ``Callable[[bytes], bytes]`` or ``None``. Default:
    ``None`` (nothing is replaced). Override it in a ``conftest.py`` to return a
    function that takes the bytes of each run of one direction and returns them
    with secrets replaced, e.g. ``lambda data: data.replace(b"s3cret", b"******")``.
    """
    return None


@pytest.fixture
def netserve_golden(
    request: pytest.FixtureRequest, netserve_redact: Optional[Redactor]
) -> Callable[..., GoldenScript]:
    """Golden scripts of this test: ``netserve_golden("name.script")`` is a ``GoldenScript``.

    Scope: function. Type: ``Callable[..., netserve_testing.GoldenScript]``.
    A relative name lives in the ``golden/`` folder beside the test file. The mode
    is ``--netserve-record`` (``none``: replay only, the default; ``new``: record
    the files that do not exist; ``all``: re-record). Each call takes
    ``redact=`` to override ``netserve_redact`` for one file. In a test:
    ``if golden.recording: ...talk through a kit client...; golden.record(client.transcript)``,
    then ``golden.replay(server)`` and ``golden.replay(Handler)``.
    """
    mode = request.config.stash[SETTINGS_KEY].record
    folder = Path(str(request.path)).parent / "golden"

    def golden(name: str, *, redact: Optional[Redactor] = netserve_redact) -> GoldenScript:
        return GoldenScript(folder / name, mode, redact)

    return golden


@pytest.fixture(scope="session")
def netserve_ca() -> SessionCA:
    """The certificate authority the TLS kinds (``tls-*``) serve with, for your own clients.

    Scope: session (one per pytest-xdist worker). Type: :class:`netserve_testing.SessionCA`,
    made with trustme (ECDSA keys) on first use. The server certificate names
    ``localhost``, ``127.0.0.1`` and ``::1``. ``.ca_bundle`` is the path of the CA's PEM
    file (``cafile=``, ``requests``' ``verify=``); ``.client_context()`` a new client
    ``ssl.SSLContext`` that trusts it (``with_cert=True`` adds the kit's client
    certificate, for mutual TLS); ``.server_context()`` the servers' context;
    ``.ca`` the ``trustme.CA``, to issue more certificates.
    """
    from ._tls import session_ca

    return session_ca()
