"""TLS certificates for tests: one throw-away certificate authority per process, and contexts.

:func:`session_ca` makes a :class:`SessionCA` once per process (so once per pytest
session, and once per pytest-xdist worker) with trustme, with ECDSA keys (fast to
make and to use). Its server certificate names ``localhost``, ``127.0.0.1`` and
``::1``. The live wing serves TLS kinds with it, the memory wing plays in-memory TLS
with it, and the ``netserve_ca`` fixture hands it to tests for their own clients.

trustme (which brings ``cryptography``) is imported only when TLS is first used, so the
kit works without it for everything else.
"""

from __future__ import annotations

import atexit
import os
import shutil
import ssl
import tempfile
import threading
from typing import Any, Dict, Optional, Tuple

from ._errors import NetserveTestingError

__all__ = ["CLIENT_NAME", "SERVER_NAMES", "SessionCA", "TLSUnavailable", "session_ca"]

#: The names the server certificate is valid for.
SERVER_NAMES: Tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
#: The identity in the kit client's certificate (mutual TLS).
CLIENT_NAME = "client@netserve.test"


class TLSUnavailable(NetserveTestingError, RuntimeError):
    """TLS testing needs trustme, which is not installed.

    Example:
        >>> issubclass(TLSUnavailable, RuntimeError)
        True
    """


def _trustme() -> Any:
    try:
        import trustme
    except ImportError:
        raise TLSUnavailable(
            "tls testing needs trustme: pip install trustme (or netserve[test])"
        ) from None
    return trustme


class SessionCA:
    """A throw-away certificate authority with a server and a client certificate.

    Made with trustme and ECDSA keys. Contexts are made on first use and shared (an
    ``ssl.SSLContext`` may serve many connections at once); do not change them, make
    your own with :meth:`client_context` instead, which returns a new context each call.
    Files (the CA bundle, the key and certificate chains ``ssl`` loads from a path) are
    written at most once, in a private temporary directory removed when the process exits.

    Attributes:
        ca: The ``trustme.CA``, to issue more certificates (``ca.issue_cert(...)``).

    Example:
        >>> ca = session_ca()
        >>> context = ca.client_context()
        >>> context.check_hostname, context.verify_mode == ssl.CERT_REQUIRED
        (True, True)
    """

    def __init__(self) -> None:
        trustme = _trustme()
        self._key_type = trustme.KeyType.ECDSA
        self.ca = trustme.CA(key_type=self._key_type)
        self._server_cert = self.ca.issue_cert(*SERVER_NAMES, key_type=self._key_type)
        self._client_cert = self.ca.issue_cert(CLIENT_NAME, key_type=self._key_type)
        self._lock = threading.RLock()  # _private_file() runs under it, and takes it too
        self._server_contexts: Dict[bool, ssl.SSLContext] = {}
        self._shared_clients: Dict[bool, ssl.SSLContext] = {}
        self._stranger: Any = None
        self._untrusting: Optional[ssl.SSLContext] = None
        self._directory: Optional[str] = None
        self._files: Dict[str, str] = {}

    @property
    def ca_bundle(self) -> str:
        """The path of a PEM file holding the CA certificate, for ``cafile=`` or requests.

        Written once, in a private temporary directory removed when the process exits.

        Example:
            >>> import ssl
            >>> context = ssl.create_default_context(cafile=session_ca().ca_bundle)
        """
        return self._private_file("ca.pem", self.ca.cert_pem)

    def _private_file(self, name: str, blob: Any) -> str:
        # Invariant: each name is written once, in a private (0700) directory that is
        # removed at exit; later calls return the path without touching the disk.
        with self._lock:
            path = self._files.get(name)
            if path is None:
                if self._directory is None:
                    self._directory = tempfile.mkdtemp(prefix="netserve-ca-")
                    atexit.register(shutil.rmtree, self._directory, True)
                path = os.path.join(self._directory, name)
                blob.write_to_path(path)
                self._files[name] = path
            return path

    def _load_cert(self, context: ssl.SSLContext, cert: Any, name: str) -> None:
        # ssl loads a key only from a file: written once per session, not per context
        # (trustme's configure_cert() writes and removes a temporary file each time).
        context.load_cert_chain(self._private_file(name, cert.private_key_and_cert_chain_pem))

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        """The server context (shared): the certificate for localhost, 127.0.0.1 and ::1.

        It sends no TLS 1.3 session tickets (``num_tickets = 0``): a ticket the client
        never reads is unread data on its socket, and closing a socket with unread data
        sends a reset, which a correct handler's next read would see as
        ``ConnectionResetError`` (or not, depending on timing and Python version).
        A client of your own that writes right after its handshake should set
        ``TCP_NODELAY`` (``http.client``, urllib3 and the kit's clients do), or its
        first write waits for the server's delayed ACK.

        Args:
            require_client_cert: Mutual TLS: clients must present a certificate from
                this CA (``verify_mode = CERT_REQUIRED``).

        Example:
            >>> session_ca().server_context().protocol == ssl.PROTOCOL_TLS_SERVER
            True
        """
        with self._lock:
            context = self._server_contexts.get(require_client_cert)
            if context is None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.num_tickets = 0
                self._load_cert(context, self._server_cert, "server.pem")
                if require_client_cert:
                    self.ca.configure_trust(context)
                    context.verify_mode = ssl.CERT_REQUIRED
                self._server_contexts[require_client_cert] = context
            return context

    def client_context(self, *, with_cert: bool = False) -> ssl.SSLContext:
        """A new client context that trusts this CA and checks host names.

        Args:
            with_cert: Present the kit's client certificate (for mutual TLS); its
                subject alternative name is :data:`CLIENT_NAME`.

        Example:
            >>> import http.client
            >>> context = session_ca().client_context()
            >>> connection = http.client.HTTPSConnection("localhost", 8443, context=context)
        """
        # Not ssl.create_default_context(): loading the system's CA store costs tens of
        # milliseconds, and only this CA is to be trusted. The settings are the same
        # (PROTOCOL_TLS_CLIENT verifies the certificate and the host name).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ca.configure_trust(context)
        if with_cert:
            self._load_cert(context, self._client_cert, "client.pem")
        return context

    def shared_client_context(self, *, with_cert: bool = False) -> ssl.SSLContext:
        """The client context the kit's own clients share (made once); do not change it.

        Example:
            >>> session_ca().shared_client_context() is session_ca().shared_client_context()
            True
        """
        with self._lock:
            context = self._shared_clients.get(with_cert)
        if context is None:
            context = self.client_context(with_cert=with_cert)
            with self._lock:
                context = self._shared_clients.setdefault(with_cert, context)
        return context

    def untrusting_client_context(self) -> ssl.SSLContext:
        """A new client context that trusts another CA: it refuses this CA's server.

        Example:
            >>> context = session_ca().untrusting_client_context()
        """
        trustme = _trustme()
        with self._lock:
            if self._stranger is None:
                self._stranger = trustme.CA(key_type=self._key_type)
            stranger = self._stranger
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        stranger.configure_trust(context)
        return context

    def _shared_untrusting_client_context(self) -> ssl.SSLContext:
        # The kit's "untrusted" clients share one (made once, never changed).
        with self._lock:
            context = self._untrusting
        if context is None:
            context = self.untrusting_client_context()
            with self._lock:
                if self._untrusting is None:
                    self._untrusting = context
                context = self._untrusting
        return context


_session_lock = threading.Lock()
_session: Optional[SessionCA] = None


def session_ca() -> SessionCA:
    """Return this process's :class:`SessionCA`, making it on first use.

    A forked child keeps its parent's; each pytest-xdist worker (a process) makes its own.

    Raises:
        TLSUnavailable: trustme is not installed.

    Example:
        >>> session_ca() is session_ca()
        True
    """
    global _session
    with _session_lock:
        if _session is None:
            _session = SessionCA()
        return _session
