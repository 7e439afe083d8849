"""Class 5: bounded decompression. A zip inside a model is checked from its central directory before a
byte is inflated: a bomb costs kilobytes of reading, never its declared gigabytes.

Memory is measured in a fresh process (peak RSS, ``VmHWM``) around the load alone; disk by giving that
process an empty TMPDIR and checking it stays empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.security._hostile_models import deflate_bomb, overlap_bomb, write_mlmodel, write_zip
from tureen.exceptions import ArchiveLimitError, InvalidSettingError, ModelFormatError
from tureen.flavors._gate import ZipLimits, check_zip, zip_limits

REPO = Path(__file__).resolve().parents[2]
GiB = 1 << 30


@pytest.fixture(scope="module")
def gig_bomb(tmp_path_factory):
    """A real deflate bomb: 1 GiB of zeros in about a megabyte, built once for the module."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    deflate_bomb(path, "payload.bin", GiB, extra={"schema.json": b"{}"})
    assert path.stat().st_size < 2 << 20
    return path


def _sklearn_skops_model(root: Path, archive: Path) -> Path:
    root.mkdir(parents=True)
    (root / "model.skops").write_bytes(archive.read_bytes())
    return write_mlmodel(root, {
        "python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.skops"},
        "sklearn": {"pickled_model": "model.skops", "serialization_format": "skops", "code": None}})


_MEASURE = """
import json, os, sys, warnings
warnings.filterwarnings("ignore")
import sklearn, sklearn.pipeline  # the framework's own memory is not the bomb's
from tureen import pyfunc
from tureen.flavors import _skops
_skops.import_skops_io()
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
before = hwm()
try:
    pyfunc.load_model(sys.argv[1], allow_pickle=True)
    outcome = "loaded"
except Exception as exc:
    outcome = type(exc).__name__ + ": " + str(exc)
print(json.dumps({"grew": hwm() - before, "outcome": outcome}))
"""


def _load_in_fresh_process(model: Path, tmp_path: Path) -> dict:
    scratch = tmp_path / "scratch-tmp"
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(scratch)}
    env.pop("TUREEN_ALLOW_PICKLE", None)
    res = subprocess.run([sys.executable, "-c", _MEASURE, str(model)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["tmp_files"] = sorted(p.name for p in scratch.rglob("*"))
    return out


def test_gigabyte_bomb_costs_no_memory_and_no_disk(gig_bomb, tmp_path):
    model = _sklearn_skops_model(tmp_path / "m", gig_bomb)
    out = _load_in_fresh_process(model, tmp_path)
    assert out["outcome"].startswith("ArchiveLimitError"), out
    assert "TUREEN_ZIP_MAX_RATIO" in out["outcome"]
    assert out["grew"] < 32 << 20, f"peak memory grew by {out['grew']} bytes"
    assert out["tmp_files"] == []


def test_bomb_refused_in_process_with_typed_error(gig_bomb, tmp_path):
    from tureen import pyfunc

    model = _sklearn_skops_model(tmp_path / "m", gig_bomb)
    with pytest.raises(ArchiveLimitError, match="decompress") as err:
        pyfunc.load_model(model, allow_pickle=True)
    assert err.value.http_status == 400


def test_overlapping_entries_bomb(tmp_path):
    """Non-recursive bomb: 4000 entries share one compressed stream (16 GiB+ declared, ~20 KB file)."""
    bomb = overlap_bomb(tmp_path / "o.zip", "m", copies=4000, inflated=4 << 20)
    assert bomb.stat().st_size < 400_000
    with pytest.raises(ArchiveLimitError):
        check_zip(bomb)
    # refused for the overlap itself, even when the caller lifts the size and ratio limits
    with pytest.raises(ArchiveLimitError, match="overlap"):
        check_zip(bomb, ZipLimits(max_total_bytes=1 << 50, max_ratio=1e12))
    from tureen import pyfunc

    model = _sklearn_skops_model(tmp_path / "m", bomb)
    with pytest.raises(ArchiveLimitError):
        pyfunc.load_model(model, allow_pickle=True)


def test_total_size_limit_configurable_by_caller(tmp_path):
    archive = write_zip(tmp_path / "a.zip", {"a.bin": os.urandom(4096), "b.bin": os.urandom(4096)})
    check_zip(archive)  # the defaults let a small archive through
    with zip_limits(max_total_bytes=5000):
        with pytest.raises(ArchiveLimitError, match="TUREEN_ZIP_MAX_BYTES"):
            check_zip(archive)
    check_zip(archive)  # the block's limits end with it


def test_limits_from_environment(tmp_path, monkeypatch):
    archive = write_zip(tmp_path / "a.zip", {f"f{i}": b"x" for i in range(50)})
    monkeypatch.setenv("TUREEN_ZIP_MAX_ENTRIES", "10")
    with pytest.raises(ArchiveLimitError, match="50 entries"):
        check_zip(archive)
    monkeypatch.setenv("TUREEN_ZIP_MAX_ENTRIES", "lots")
    with pytest.raises(InvalidSettingError, match="TUREEN_ZIP_MAX_ENTRIES"):
        check_zip(archive)


def test_ratio_limit_and_floor(tmp_path):
    bomb = deflate_bomb(tmp_path / "r.zip", "z", 48 << 20)
    with pytest.raises(ArchiveLimitError, match="fold"):
        check_zip(bomb)
    # small archives are never ratio-limited: a 1 MiB run of zeros is not a threat
    check_zip(deflate_bomb(tmp_path / "s.zip", "z", 1 << 20))
    # a caller who trusts the model may raise the ratio
    check_zip(bomb, ZipLimits(max_ratio=1e6))


def test_not_a_zip_is_a_format_error(tmp_path):
    bad = tmp_path / "model.skops"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ModelFormatError):
        check_zip(bad)


def test_keras_bomb_scanned_before_keras_reads_it(tmp_path, gig_bomb):
    """A .keras archive whose weights member inflates to a gigabyte: refused by our scan, no Keras import."""
    from tureen.flavors._scan import keras_file_risks

    keras_bomb = deflate_bomb(tmp_path / "model.keras", "model.weights.h5", GiB,
                              extra={"config.json": b"{}", "metadata.json": b"{}"})
    with pytest.raises(ArchiveLimitError):
        keras_file_risks(keras_bomb)


def test_inspect_reports_a_bomb_without_inflating_it(gig_bomb, tmp_path):
    from tureen.cli.models import describe_model

    model = _sklearn_skops_model(tmp_path / "m", gig_bomb)
    entries = {e["path"]: e for e in describe_model(str(model))["executes"]}
    assert entries["model.skops"]["gated"] and "refused at load" in entries["model.skops"]["executes"]


@pytest.mark.tensorflow
def test_keras_flavor_refuses_bomb(tmp_path):
    keras_bomb = deflate_bomb(tmp_path / "m" / "data" / "model.keras", "model.weights.h5", 256 << 20,
                              extra={"config.json": b"{}", "metadata.json": b"{}"})
    assert keras_bomb.stat().st_size < 1 << 20
    write_mlmodel(tmp_path / "m", {"keras": {"data": "data", "keras_version": "3.0.0", "save_exported_model": False},
                                   "python_function": {"loader_module": "mlflow.keras", "data": "data"}})
    from tureen import pyfunc

    with pytest.raises(ArchiveLimitError):
        pyfunc.load_model(tmp_path / "m", allow_pickle=True)


@pytest.mark.torch
@pytest.mark.parametrize("layout", ["pt2", "state_dict", "pickle"])
def test_pytorch_zips_refused(tmp_path, layout):
    import torch

    from tureen.flavors import pytorch as tp

    root = tmp_path / "m"
    name = {"pt2": "model.pt2", "state_dict": "state_dict.pth", "pickle": "model.pth"}[layout]
    deflate_bomb(root / "data" / name, "archive/data.pkl", 256 << 20)
    conf = {"model_data": "data", "pytorch_version": str(torch.__version__)}
    if layout == "state_dict":
        conf.update(serialization_format="state_dict", model_class="torch.nn.Linear",
                    model_init_kwargs={"in_features": 1, "out_features": 1})
    write_mlmodel(root, {"pytorch": conf})
    with pytest.raises(ArchiveLimitError):
        tp.load_model(root, allow_pickle=True)


def test_legit_zip_formats_still_open(tmp_path):
    """Real models' archives are far inside the defaults (their members barely compress)."""
    archive = tmp_path / "legit.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps({"layers": list(range(1000))}))
        z.writestr("weights.bin", os.urandom(2 << 20))
    check_zip(archive)


def test_zip_limits_as_a_load_keyword(saved_sklearn):
    """The caller can tighten (or lift) the limits for one load, through pyfunc and the flavor alike."""
    from tureen import flavors, pyfunc
    from tureen.exceptions import InvalidParameterError

    assert pyfunc.load_model(saved_sklearn) is not None
    with pytest.raises(ArchiveLimitError, match="entries"):
        pyfunc.load_model(saved_sklearn, zip_limits={"max_entries": 1})
    with pytest.raises(ArchiveLimitError, match="decompress"):
        flavors.sklearn.load_model(saved_sklearn, zip_limits=flavors.ZipLimits(max_total_bytes=100))
    assert flavors.sklearn.load_model(saved_sklearn, zip_limits={"max_entries": 10_000}) is not None
    with pytest.raises(InvalidParameterError, match="unknown field"):
        pyfunc.load_model(saved_sklearn, zip_limits={"max_files": 1})
    with pytest.raises(InvalidParameterError, match="positive"):
        pyfunc.load_model(saved_sklearn, zip_limits={"max_entries": -1})
    with pytest.raises(InvalidParameterError, match="ZipLimits"):
        pyfunc.load_model(saved_sklearn, zip_limits=5)
    check_zip(next(saved_sklearn.glob("*.skops")))  # the keyword's limits end with the load
