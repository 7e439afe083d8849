"""Registry stores. The SQL store serves tracking and the registry from one database, so registry URIs
are resolved by :func:`tureen.tracking.stores.get_store` (same schemes); :mod:`.sql` holds the registry half
of that store.
"""

from __future__ import annotations

from tureen.tracking.stores import get_store, register_store

__all__ = ["get_store", "register_store"]
