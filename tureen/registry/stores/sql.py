"""The registry half of the SQL store lives in :mod:`tureen.store._registry` (beneath tracking and registry)."""

from __future__ import annotations

from tureen.store._registry import RegistrySqlMixin

__all__ = ["RegistrySqlMixin"]
