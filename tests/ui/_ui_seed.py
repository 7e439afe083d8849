"""The data every UI test sees: experiments, 60 runs (nested, failed, hostile names), a 20,000-step
metric with one spike, artifacts of each previewed kind, and a registered model with two versions."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: tureen.flavors.sklearn
    python_version: 3.11.2
    env:
      virtualenv: python_env.yaml
  sklearn:
    code: null
    serialization_format: skops
    sklearn_version: 1.9.0
model_uuid: 4f1c0d2e9a8b4c7d8e6f5a4b3c2d1e0f
signature:
  inputs: '[{"type": "double", "name": "petal <length>", "required": true}, {"type": "string", "name": "colour", "required": false}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]'
utc_time_created: '2026-12-01 10:00:00.000000'
"""


def png_bytes(w: int = 8, h: int = 6) -> bytes:
    """A small valid PNG (blue), written by hand so no imaging library is needed."""
    raw = b"".join(b"\x00" + b"\x20\x60\xe0" * w for _ in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>"


def seed(uri: str, work: Path) -> dict[str, Any]:
    """Experiments, 60 runs (nested, failed, hostile names), metric histories with a spike, artifacts, models."""
    from tureen.tracking.client import TrackingClient
    from tureen.tracking.entities import Dataset, DatasetInput, InputTag, Metric

    c = TrackingClient(uri)
    eid = c.create_experiment("churn-model")
    other = c.create_experiment("hostile " + HOSTILE)
    c.create_experiment("to-delete")
    c.set_experiment_tag(eid, "team", "growth")
    parent = c.create_run(eid, run_name="sweep-parent", start_time=1_700_000_000_000)
    ids = []
    for i in range(60):
        tags = {"team": "core" if i % 3 else "infra"}
        if i < 3:
            tags["mlflow.parentRunId"] = parent.info.run_id
        name = f"run-{i:02d}" if i != 7 else HOSTILE
        r = c.create_run(eid, run_name=name, tags=tags, start_time=1_700_000_100_000 + i * 1000)
        rid = r.info.run_id
        ids.append(rid)
        c.log_batch(rid, params=[("lr", str(round(0.001 * (i + 1), 4))), ("model", "tree" if i % 2 else "linear"),
                                 ("depth", str(3 + i % 5))],
                    metrics=[Metric("loss", 1.0 / (s + 1) + i * 0.001, 1_700_000_100_000 + s * 100, s) for s in range(40)]
                    + [Metric("acc", 0.5 + i * 0.008, 1_700_000_100_000, 0)]
                    + [Metric(f"extra_{k}", float(k), 1_700_000_100_000, 0) for k in range(i % 3)])
        if i < 4:
            c.set_terminated(rid, "FAILED" if i == 3 else "FINISHED", end_time=1_700_000_160_000 + i * 1000)
        elif i % 5:
            c.set_terminated(rid, "FINISHED", end_time=1_700_000_200_000 + i * 1000)
    c.set_terminated(parent.info.run_id, "FINISHED", end_time=1_700_000_900_000)
    rich = ids[10]
    c.set_tag(rich, "note", HOSTILE)
    c.set_tag(rich, "mlflow.note.content", "Baseline with **tree** model")
    c.log_inputs(rich, [DatasetInput(Dataset("iris-train", "ab12cd34", "local", '{"uri": "/data/iris.csv"}'),
                                     [InputTag("mlflow.data.context", "train")])])
    c.log_text(rich, "hello " + HOSTILE, "notes/readme.txt")
    c.log_dict(rich, {"alpha": 0.5, "layers": [64, 32]}, "config.json")
    c.log_text(rich, "alpha: 0.5\nname: <b>x</b>\n", "params.yaml")
    c.log_text(rich, "feature,target\n1.5,<i>a</i>\n2.5,b\n", "data/sample.csv")
    c.log_text(rich, "<html><script>window.__pwned=3</script></html>", "report.html")
    c.log_text(rich, MLMODEL, "model/MLmodel")
    c.log_text(rich, "scikit-learn==1.9.0\nskops==0.10\n", "model/requirements.txt")
    png = work / "plot.png"
    png.write_bytes(png_bytes())
    c.log_artifact(rich, str(png), "plots")
    # a 20,000-step history with one spike at step 12345
    spiky = ids[20]
    pts = [Metric("val_loss", (1000.0 if s == 12345 else 1.0 + (s % 7) * 0.01), 1_700_000_100_000 + s, s)
           for s in range(20_000)]
    for k in range(0, len(pts), 1000):
        c.log_batch(spiky, metrics=pts[k:k + 1000])
    c.create_registered_model("churn-classifier", tags={"owner": "growth"}, description="Predicts churn")
    v1 = c.create_model_version("churn-classifier", f"runs:/{rich}/model", run_id=rich)
    c.create_model_version("churn-classifier", f"runs:/{rich}/model", run_id=rich)
    c.set_registered_model_alias("churn-classifier", "champion", v1.version)
    c.create_registered_model("hostile-<img src=x onerror=window.__pwned=4>")
    hr = c.create_run(other, run_name="h-run")
    # a logged model of that run, with params, tags, a metric recorded for it and its files
    lm = c.create_logged_model(other, "churn-lm", source_run_id=hr.info.run_id, tags={"stage": "candidate"},
                               params={"alpha": "0.5"}, model_type="classifier")
    c.log_metric(hr.info.run_id, "lm_acc", 0.9, 1_700_000_000_000, 0, model_id=lm.model_id)
    c.log_metric(hr.info.run_id, "lm_acc", 0.93, 1_700_000_000_500, 1, model_id=lm.model_id)
    lm_dir = work / "lm-files"
    lm_dir.mkdir()
    (lm_dir / "MLmodel").write_text(MLMODEL)
    (lm_dir / "requirements.txt").write_text("scikit-learn==1.9.0\n")
    c.log_model_artifacts(lm.model_id, str(lm_dir))
    c.finalize_logged_model(lm.model_id, "LOGGED_MODEL_READY")
    c.set_terminated(hr.info.run_id)
    return {"uri": uri, "experiment_id": eid, "other_experiment": other, "parent": parent.info.run_id, "runs": ids,
            "rich": rich, "spiky": spiky, "client": c,
            "h_run": hr.info.run_id, "logged_model": lm.model_id}
