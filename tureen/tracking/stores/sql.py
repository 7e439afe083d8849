"""The SQL tracking store (``tureen.tracking.stores.sql:SqlStore``, the import string of the sqlite, postgresql
and mysql schemes); it lives in :mod:`tureen.store.sql`, beneath both tracking and the registry."""

from __future__ import annotations

from tureen.store.sql import LOGGED_MODELS_TAG, RUN_NAME_TAG, SqlStore, upgrade_database

__all__ = ["SqlStore", "upgrade_database", "RUN_NAME_TAG", "LOGGED_MODELS_TAG"]
