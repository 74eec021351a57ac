"""The netserve pytest plugin (registered as ``netserve`` through the pytest11 entry point)."""

from __future__ import annotations
