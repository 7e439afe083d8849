"""The MLmodel file: MLflow's layout, unknown keys preserved, corrupt files refused clearly."""

from __future__ import annotations

import yaml
import pytest

from tureen.exceptions import ModelFormatError
from tureen.models import Model


def test_round_trip_preserves_unknown_keys_and_sorts(tmp_path):
    data = {"flavors": {"python_function": {"loader_module": "m", "future_key": [1, 2]}},
            "model_uuid": "abc", "utc_time_created": "2026-01-01 00:00:00", "mlflow_version": "3.17.2",
            "resources": {"x": 1}, "some_new_mlflow_key": {"nested": True}, "run_id": "r1"}
    (tmp_path / "MLmodel").write_text(yaml.safe_dump(data))
    m = Model.load(tmp_path)
    m.save(tmp_path)
    back = yaml.safe_load((tmp_path / "MLmodel").read_text())
    for key, value in data.items():
        assert back[key] == value
    assert back["model_id"] is None and back["prompts"] is None  # MLflow always writes these
    keys = [ln.split(":")[0] for ln in (tmp_path / "MLmodel").read_text().splitlines() if not ln.startswith(" ")]
    assert keys == sorted(keys)


def test_new_model_has_mlflow_fields():
    d = Model(flavors={"x": {}}).to_dict()
    assert len(d["model_uuid"]) == 32
    assert d["utc_time_created"].count(":") == 2 and "T" not in d["utc_time_created"]


@pytest.mark.parametrize("content, match", [
    (None, "No MLmodel file"),
    ("flavors: [unclosed", "not valid YAML"),
    ("- a list", "mapping at the top level"),
    ("model_uuid: x\n", "no 'flavors'"),
    ("flavors:\n  sklearn: 3\n", "flavor 'sklearn' must be a mapping"),
])
def test_corrupt_mlmodel_is_refused(tmp_path, content, match):
    if content is not None:
        (tmp_path / "MLmodel").write_text(content)
    with pytest.raises(ModelFormatError, match=match):
        Model.load(tmp_path)


def test_get_flavor_names_what_exists():
    with pytest.raises(ModelFormatError, match="has no 'sklearn' flavor; it has: python_function"):
        Model(flavors={"python_function": {}}).get_flavor("sklearn")
