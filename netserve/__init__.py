"""netserve: a drop-in replacement for :mod:`socketserver` that shuts down at once."""

from __future__ import annotations

__all__: list[str] = []
