"""Helpers of the autologging tests, importable under a unique name (other test folders have a ``conftest``
too, and importing one by that name picks whichever was loaded last)."""

from __future__ import annotations


def runs(experiment_id: str = "0") -> list:
    import tureen

    return tureen.search_runs([experiment_id], output_format="list")


def artifacts(run_id: str) -> list[str]:
    import tureen

    return sorted(f.path for f in tureen.TrackingClient().list_artifacts(run_id))
