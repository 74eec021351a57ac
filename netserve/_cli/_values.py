"""Command-line values, one each: addresses, the pool size, ``--attr``, TLS files, imports.

Every function takes the text of one argument and returns its value, or raises
:class:`argparse.ArgumentTypeError` with a message naming the text, which argparse
turns into a usage error (exit status 2).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import ssl
from typing import Any, Optional

from .._handlers import BaseRequestHandler

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9999


def load_tls_context(certfile: str, keyfile: Optional[str] = None) -> ssl.SSLContext:
    """Make a server :class:`ssl.SSLContext` from a PEM certificate chain and its key.

    Args:
        certfile: the certificate chain; it holds the private key too unless ``keyfile``
            is given.
        keyfile: the private key, when it is in a file of its own.

    Returns:
        A context made with ``ssl.PROTOCOL_TLS_SERVER``, TLS 1.2 at least.

    Raises:
        argparse.ArgumentTypeError: naming the file when it cannot be read or holds no
            usable certificate and key.

    Example:
        >>> load_tls_context("missing.pem")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: cannot load certificate 'missing.pem': No such file or directory
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        files = repr(certfile) if keyfile is None else f"{certfile!r} with key {keyfile!r}"
        raise argparse.ArgumentTypeError(
            f"cannot load certificate {files}: "
            f"{exc.reason or 'no pem certificate chain with its private key'}"
        ) from None
    except OSError as exc:
        name = exc.filename if exc.filename is not None else certfile
        raise argparse.ArgumentTypeError(
            f"cannot load certificate {name!r}: {exc.strerror or exc}"
        ) from None
    return context


def parse_host_port(value: str) -> tuple[str, int]:
    """Parse ``HOST:PORT``, ``[IPV6]:PORT`` or a bare ``PORT`` (host 127.0.0.1).

    Args:
        value: the text given on the command line.

    Returns:
        ``(host, port)`` with the brackets of an IPv6 host removed.

    Raises:
        argparse.ArgumentTypeError: naming the value when it is malformed or the port is
            out of range.

    Example:
        >>> parse_host_port("[::1]:8000")
        ('::1', 8000)
        >>> parse_host_port("9999")
        ('127.0.0.1', 9999)
    """
    host, colon, port_text = value.rpartition(":")
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise argparse.ArgumentTypeError(f"expected [IPV6]:PORT, got {value!r}")
        port_text = rest[1:]
    elif not colon:
        host, port_text = DEFAULT_HOST, value
    elif ":" in host:
        raise argparse.ArgumentTypeError(
            f"put an ipv6 host in brackets, as in [::1]:{port_text}: {value!r}"
        )
    if not host:
        raise argparse.ArgumentTypeError(
            f"missing host before the port (0.0.0.0 serves every interface): {value!r}"
        )
    if not (port_text.isascii() and port_text.isdigit()):
        raise argparse.ArgumentTypeError(f"port is not a number: {port_text!r} in {value!r}")
    port = int(port_text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0-65535: {port} in {value!r}")
    return host, port


def parse_unix_path(value: str) -> str:
    """Parse a Unix socket path; a leading ``@`` names a Linux abstract socket.

    Args:
        value: the text given on the command line.

    Returns:
        The path, or the abstract name with a leading NUL in place of the ``@``.

    Raises:
        argparse.ArgumentTypeError: when the path is empty.

    Example:
        >>> parse_unix_path("@netserve-demo")
        '\\x00netserve-demo'
    """
    if not value or value == "@":
        raise argparse.ArgumentTypeError(f"empty unix socket path: {value!r}")
    if value.startswith("@"):
        return "\0" + value[1:]
    return value


def parse_pool_size(value: str) -> int:
    """Parse the ``--pool`` worker count: a whole number, at least 1.

    Raises:
        argparse.ArgumentTypeError: naming the value.

    Example:
        >>> parse_pool_size("8")
        8
    """
    if not (value.isascii() and value.isdigit()):
        raise argparse.ArgumentTypeError(f"pool size is not a whole number: {value!r}")
    size = int(value)
    if size < 1:
        raise argparse.ArgumentTypeError(f"pool size must be at least 1: {value!r}")
    return size


def parse_attribute(value: str) -> tuple[str, object]:
    """Parse ``--attr NAME=VALUE``: a Python literal if it is one, else the text as a string.

    Raises:
        argparse.ArgumentTypeError: naming the value when NAME is not an identifier.

    Example:
        >>> parse_attribute("max_children=8"), parse_attribute("hub=main")
        (('max_children', 8), ('hub', 'main'))
    """
    name, equals, text = value.partition("=")
    name = name.strip()
    if not equals or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME an identifier: {value!r}")
    try:
        parsed: object = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parsed = text
    return name, parsed


def _import_attribute(spec: str, what: str) -> object:
    # MODULE:QUALNAME -> the object, or a usage error naming spec.
    module_name, colon, qualname = spec.partition(":")
    if not colon or not module_name or not qualname:
        raise argparse.ArgumentTypeError(f"expected MODULE:{what}, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise argparse.ArgumentTypeError(f"cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001  # the module's own code failed: a usage error
        raise argparse.ArgumentTypeError(
            f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    found: Any = module
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise argparse.ArgumentTypeError(
                f"module {module_name!r} has no attribute {qualname!r}"
            ) from None
    return found


def load_server_class(spec: str) -> type:
    """Import ``MODULE:CLASS`` and check that it is a socketserver-style server class.

    Any class with ``serve_forever()`` and ``server_close()`` that is called as
    ``Class(server_address, RequestHandlerClass)`` is accepted: netserve's, the
    standard library's, or a subclass of either.

    Raises:
        argparse.ArgumentTypeError: naming ``spec`` when it cannot be imported or is not
            a server class.

    Example:
        >>> load_server_class("netserve:ForkingTCPServer").__name__
        'ForkingTCPServer'
    """
    found = _import_attribute(spec, "CLASS")
    if not isinstance(found, type):
        raise argparse.ArgumentTypeError(
            f"{spec!r} is a {type(found).__name__}, not a server class"
        )
    missing = [
        name
        for name in ("serve_forever", "server_close")
        if not callable(getattr(found, name, None))
    ]
    if missing:
        raise argparse.ArgumentTypeError(
            f"{spec!r} is not a server class: it has no {missing[0]}() method"
        )
    return found


def load_handler(spec: str) -> type:
    """Import ``MODULE:HANDLER`` and check that it is a request handler class.

    ``HANDLER`` may be dotted (``pkg.mod:Outer.Handler``). Any class that can be called as
    ``Handler(request, client_address, server)`` and has a ``handle`` method is accepted, so
    the standard library's ``socketserver`` handlers serve as well as netserve's.

    Args:
        spec: ``MODULE:HANDLER`` as given on the command line.

    Returns:
        The handler class.

    Raises:
        argparse.ArgumentTypeError: naming ``spec`` when the module cannot be imported, has
            no such attribute, or the attribute is not a handler class.

    Example:
        >>> load_handler("netserve:StreamRequestHandler").__name__
        'StreamRequestHandler'
    """
    found = _import_attribute(spec, "HANDLER")
    _check_handler_class(found, spec)
    assert isinstance(found, type)  # checked just above
    return found


def _check_handler_class(found: object, spec: str) -> None:
    if not isinstance(found, type):
        raise argparse.ArgumentTypeError(
            f"{spec!r} is a {type(found).__name__}, not a request handler class"
        )
    if issubclass(found, BaseRequestHandler):
        return
    try:
        inspect.signature(found).bind(None, None, None)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{spec!r} is not a request handler class: "
            f"it cannot be called as {found.__qualname__}(request, client_address, server)"
        ) from None
    if not callable(getattr(found, "handle", None)):
        raise argparse.ArgumentTypeError(
            f"{spec!r} is not a request handler class: it has no handle() method"
        )
