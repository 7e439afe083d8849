"""The model registry: registered models, versions, stages, aliases (and their history).

The registry is served by the same stores as tracking (see :mod:`tureen.tracking.stores`), chosen by the
registry URI (``TUREEN_REGISTRY_URI``, default: the tracking URI). Use it through
:class:`tureen.TrackingClient` or :func:`tureen.register_model`.
"""

from __future__ import annotations

__all__: list[str] = []
