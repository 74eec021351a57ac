"""Tests of the core ``netserve`` package, run with plain sockets, threads and fork."""
