"""The registry tests share the tracking tests' fixtures: one store contract, every backend."""

from __future__ import annotations

from tracking.conftest import _fresh_tracking_state, client, store_uri  # noqa: F401
