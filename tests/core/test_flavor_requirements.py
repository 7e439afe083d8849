"""Requirements a model needs at load time beyond its framework (found by the container end-to-end tests)."""

from __future__ import annotations

import numpy as np


def test_xgboost_wrappers_require_scikit_learn_boosters_do_not(tmp_path):
    import xgboost as xgb

    from tureen import flavors

    X = np.random.default_rng(0).random((20, 3))
    y = (X[:, 0] > 0.5).astype(int)
    flavors.xgboost.save_model(xgb.XGBClassifier(n_estimators=2).fit(X, y), tmp_path / "wrapper")
    flavors.xgboost.save_model(xgb.train({}, xgb.DMatrix(X, y), 2), tmp_path / "booster")
    wrapper = (tmp_path / "wrapper" / "requirements.txt").read_text().split()
    booster = (tmp_path / "booster" / "requirements.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in wrapper)
    assert not any(r.startswith("scikit-learn") for r in booster)


def test_module_to_distribution_lookup():
    from tureen.env import _dists_for_module

    assert _dists_for_module("sklearn") == ["scikit-learn"]      # known alias
    assert _dists_for_module("numpy") == ["numpy"]               # named like its module
    assert _dists_for_module("xgboost") == ["xgboost-cpu"]       # found through the full map
    assert _dists_for_module("no_such_module_xyz") == []
