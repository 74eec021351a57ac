"""The TLS conformance checks pass on FakeTLSSocket and on a real TLS connection alike."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from netserve_testing import (
    FakeTLSSocket,
    PairFactory,
    check_tls_send_recv,
    check_tls_socket,
    fake_tls_pair,
    tls_stream_pair,
)
from netserve_testing.conformance._tls import TLS_CHECKS

PAIRS = [pytest.param(fake_tls_pair, id="fake"), pytest.param(tls_stream_pair, id="tls")]


@pytest.mark.parametrize("make_pair", PAIRS)
@pytest.mark.parametrize("check", TLS_CHECKS, ids=lambda check: check.__name__)
def test_tls_conformance_check_passes(check: Callable[[PairFactory], None], make_pair: Any) -> None:
    check(make_pair)


def test_check_tls_socket_runs_every_check() -> None:
    check_tls_socket(fake_tls_pair)


def test_tls_conformance_check_fails_on_a_fake_that_differs() -> None:
    import contextlib

    class Downgraded(FakeTLSSocket):
        def version(self) -> str:
            return "TLSv1.2"

    @contextlib.contextmanager
    def downgraded_pair() -> Any:
        sock = Downgraded()
        with sock:
            yield sock, sock.peer

    with pytest.raises(AssertionError, match=r"check_tls_send_recv: version\(\) is 'TLSv1.2'"):
        check_tls_socket(downgraded_pair)
    with pytest.raises(AssertionError, match=r"version\(\) is 'TLSv1.2'"):
        check_tls_send_recv(downgraded_pair)
