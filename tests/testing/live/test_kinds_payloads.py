"""The server kind matrix and the Faker payload provider."""

from __future__ import annotations

import socketserver

import pytest

import netserve as core
from netserve_testing import ALL_KINDS, ServerKind, make_faker, select_kinds
from netserve_testing._payloads import UNICODE_EDGE_CASES, derive_seed


def test_ServerKind_matrix_ids_and_classes():
    assert len(ALL_KINDS) == 16
    assert [kind.id for kind in ALL_KINDS[:4]] == [
        "tcp-sync",
        "tcp-threading",
        "tcp-forking",
        "tcp-pool",
    ]
    for kind in ALL_KINDS:
        assert kind.server_class() is getattr(core, kind.class_name)
    assert ServerKind.parse("unix_dgram-forking").server_class("socketserver").__name__ == (
        "ForkingUnixDatagramServer"
    )
    assert ServerKind.parse("udp").id == "udp-threading"


def test_select_kinds_narrows():
    assert [k.id for k in select_kinds("stream", "pool")] == ["tcp-pool", "unix_stream-pool"]
    assert len(select_kinds("datagram")) == 8
    assert [k.id for k in select_kinds("tcp6")] == [
        "tcp6-sync",
        "tcp6-threading",
        "tcp6-forking",
        "tcp6-pool",
    ]
    assert [k.id for k in select_kinds("udp-sync,unix_stream-forking")] == [
        "udp-sync",
        "unix_stream-forking",
    ]


def test_ServerKind_errors_name_the_value():
    with pytest.raises(ValueError, match="unknown server kind selector 'streams'"):
        select_kinds("streams")
    with pytest.raises(ValueError, match="unknown server kind 'sctp-sync'"):
        ServerKind.parse("sctp-sync")
    with pytest.raises(ValueError, match="needs ThreadPoolTCPServer, not in socketserver"):
        ServerKind.parse("tcp-pool").server_class("socketserver")
    with pytest.raises(ValueError, match="unknown backend 'twisted'"):
        ServerKind.parse("tcp-sync").server_class("twisted")
    assert ServerKind.parse("tcp-sync").server_class("socketserver") is socketserver.TCPServer


@pytest.mark.netserve_kinds("unix", "sync")
def test_netserve_kinds_marker_parametrizes_server_kind(request, server_kind):
    assert request.node.callspec.id == server_kind.id
    assert server_kind.id in ("unix_stream-sync", "unix_dgram-sync")


def test_NetserveProvider_is_seeded_and_sized():
    fake, again = make_faker(11), make_faker(11)
    assert fake.payload(5000) == again.payload(5000)
    assert len(fake.payload(min_size=3, max_size=3)) == 3
    assert b"\n" not in fake.payload_without(b"\r\n", 2000)
    line = fake.text_line(max_chars=20)
    assert 0 < len(line) <= 20
    assert "\n" not in line
    assert fake.text_lines(4).count(b"\n") == 4
    assert fake.unicode_edge_case() in UNICODE_EDGE_CASES
    assert fake.client_address("tcp6")[0] == "::1"
    assert fake.client_address("unix_dgram").startswith(b"\x00")
    with pytest.raises(ValueError, match="payload size must be >= 0, not -1"):
        fake.payload(-1)


def test_netserve_faker_fixture_is_seeded_from_the_node_id(request, netserve_faker):
    from netserve_testing.plugin import SETTINGS_KEY

    seed = derive_seed(request.config.stash[SETTINGS_KEY].seed, request.node.nodeid)
    assert netserve_faker.payload(16) == make_faker(seed).payload(16)
