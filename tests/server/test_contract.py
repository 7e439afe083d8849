"""One store contract, three backends: the tracking and registry contract tests of the SQL store, run
unchanged over the SQL store, over the REST store against ``tureen server`` and over the REST store against
``mlflow server`` 3.17.2 (see ``store_uri`` in this directory's conftest)."""

from __future__ import annotations

from registry.test_registry_contract import *  # noqa: F401,F403
from tracking.test_store_contract import *  # noqa: F401,F403
