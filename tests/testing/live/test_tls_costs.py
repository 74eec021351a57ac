"""What a TLS server per test costs: contexts and key files made once per session,
verification kept on, and a teardown that ends TLS before TCP."""

from __future__ import annotations

import queue
import socketserver
import ssl
from typing import Any, Callable, Dict

import pytest
import trustme

import netserve_testing._tls as tls_module
from netserve_testing import TLSClient, check_liveness, serve
from netserve_testing.live._tls_client import client_hello


class Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(self.rfile.readline().upper())


@pytest.fixture
def fresh_ca(monkeypatch: pytest.MonkeyPatch) -> Dict[str, int]:
    """A new session CA for this test, and counts of what is expensive to build with it.

    ``trust`` counts ``load_verify_locations`` (trustme's ``configure_trust``), ``key``
    counts ``load_cert_chain``, ``written`` the files written, ``tempfile`` trustme's
    per-call temporary files.
    """
    counts = {"trust": 0, "key": 0, "written": 0, "tempfile": 0}

    def counting(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return function(*args, **kwargs)

        return wrapper

    for owner, attribute, name in (
        (trustme.CA, "configure_trust", "trust"),
        (trustme.Blob, "write_to_path", "written"),
        (trustme.Blob, "tempfile", "tempfile"),
        (tls_module.SessionCA, "_load_cert", "key"),
    ):
        monkeypatch.setattr(owner, attribute, counting(name, getattr(owner, attribute)))
    monkeypatch.setattr(tls_module, "_session", tls_module.SessionCA())
    return counts


def _a_round_of_tests() -> None:
    # What a suite's TLS tests do, each with a fresh server: every kit client mode.
    with serve(Upper, "tls-threading") as server:
        server.connect().send_line("hi").expect_line("HI")
        server.connect(tls="no-cert").send_line("no").expect_line("NO")
        with pytest.raises(ssl.SSLCertVerificationError):
            server.connect(tls="untrusted")
        server.connect(tls="mid-handshake")
        check_liveness(server, stalls=["silent"])
    with serve(Upper, "tls-sync", mtls=True) as server:
        server.connect().send_line("mtls").expect_line("MTLS")


def test_session_ca_builds_contexts_and_key_files_once_per_session(
    fresh_ca: Dict[str, int],
) -> None:
    _a_round_of_tests()
    first = dict(fresh_ca)
    assert first["trust"] >= 3  # the mTLS server, the kit clients, the untrusting client
    assert first["key"] == 3  # server, mTLS server, kit client with a certificate
    for _ in range(3):
        _a_round_of_tests()
    assert fresh_ca == first  # no context, key load or file more per server or client
    assert fresh_ca["tempfile"] == 0
    ca = tls_module.session_ca()
    assert ca.server_context() is ca.server_context()
    assert ca.shared_client_context(with_cert=True) is ca.shared_client_context(with_cert=True)
    assert ca._shared_untrusting_client_context() is ca._shared_untrusting_client_context()


def test_SessionCA_client_context_is_new_each_call_and_writes_its_key_once(
    fresh_ca: Dict[str, int],
) -> None:
    ca = tls_module.session_ca()
    contexts = [ca.client_context(with_cert=True) for _ in range(3)]
    assert len({id(context) for context in contexts}) == 3  # callers may change theirs
    assert contexts[0] is not ca.shared_client_context(with_cert=True)
    assert (fresh_ca["key"], fresh_ca["written"], fresh_ca["tempfile"]) == (4, 1, 0)
    assert ca.untrusting_client_context() is not ca.untrusting_client_context()


def test_client_hello_without_a_context_reuses_one() -> None:
    from netserve_testing.live._tls_client import _hello_context

    assert _hello_context() is _hello_context()
    assert client_hello()[:1] == b"\x16"


def test_shared_client_context_still_refuses_a_server_of_another_ca(
    fresh_ca: Dict[str, int],
) -> None:
    stranger = trustme.CA(key_type=trustme.KeyType.ECDSA)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    stranger.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.ECDSA).configure_cert(
        context
    )
    with serve(Upper, "tls-threading", ssl_context=context) as server:
        for _ in range(2):  # the shared context is not weakened by its first use
            with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
                server.connect()


def test_shared_client_context_still_checks_the_host_name(fresh_ca: Dict[str, int]) -> None:
    shared = tls_module.session_ca().shared_client_context()
    assert (shared.check_hostname, shared.verify_mode) == (True, ssl.CERT_REQUIRED)
    with serve(Upper, "tls-threading") as server:
        with pytest.raises(ssl.SSLCertVerificationError, match=r"example\.org"):
            TLSClient(server.address, shared, server_hostname="example.org")
        server.connect().send_line("ok").expect_line("OK")


@pytest.mark.parametrize("kind", ["tls-sync", "tls-threading", "tls-pool"])
def test_teardown_sends_a_tls_clients_close_notify_before_its_fin(kind: str) -> None:
    seen: queue.Queue[str] = queue.Queue()

    class Unwrap(socketserver.BaseRequestHandler):
        # Reads to the end, then ends TLS: that works only after the client's close_notify.
        def handle(self) -> None:
            self.request.sendall(b"ready\n")
            while self.request.recv(1024):
                pass
            try:
                self.request.unwrap()
                seen.put("close_notify")
            except (ssl.SSLError, OSError) as exc:
                seen.put(f"no close_notify: {exc!r}")

    with serve(Unwrap, kind) as server:
        server.connect().expect_line("ready")  # the test leaves the client to teardown
    assert seen.get(timeout=10) == "close_notify"
