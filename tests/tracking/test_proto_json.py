"""A run as proto JSON (what runs/get and runs/search answer with): unset fields are left out, NaN and the
infinities are strings, and each latest metric carries the timestamp and step the caller knows."""

from __future__ import annotations

import math

from tureen.tracking.entities import (Dataset, DatasetInput, InputTag, LoggedModelInput, LoggedModelOutput, Metric,
                                      Run, RunData, RunInfo, RunInputs, RunOutputs)
from tureen.tracking.stores._proto import run_from_json, run_to_json


def _info(**over):
    fields = dict(run_id="r1", experiment_id="3", run_name="n", user_id="u", status="FINISHED", start_time=5,
                  end_time=None, artifact_uri="a/r1/artifacts", lifecycle_stage="active")
    fields.update(over)
    return RunInfo(**fields)


def test_a_bare_run_leaves_every_unset_field_out():
    got = run_to_json(Run(_info(run_name=None, user_id=None), RunData()))
    assert got == {"info": {"run_uuid": "r1", "run_id": "r1", "experiment_id": "3", "status": "FINISHED",
                            "start_time": 5, "artifact_uri": "a/r1/artifacts", "lifecycle_stage": "active"},
                   "data": {}, "inputs": {}, "outputs": {}}
    assert list(got["info"]) == ["run_uuid", "run_id", "experiment_id", "status", "start_time", "artifact_uri",
                                 "lifecycle_stage"]
    # an empty string is a value, not an unset field
    assert run_to_json(Run(_info(run_name=""), RunData()))["info"]["run_name"] == ""


def test_metrics_take_their_points_from_either_form_and_special_values_are_strings():
    data = RunData(metrics={"a": 0.5, "nan": math.nan, "inf": math.inf, "ninf": -math.inf, "int": 3, "none": 1.0},
                   params={"p": "1"}, tags={"t": "x"})
    latest = {"a": Metric("a", 0.5, 7, 2), "nan": (8, 3), "inf": (9, 4), "ninf": Metric("ninf", -math.inf, 1, 1),
              "int": (2, 0)}
    got = run_to_json(Run(_info(end_time=9), data), latest)
    assert got["info"]["end_time"] == 9
    assert got["data"] == {
        "metrics": [{"key": "a", "value": 0.5, "timestamp": 7, "step": 2},
                    {"key": "nan", "value": "NaN", "timestamp": 8, "step": 3},
                    {"key": "inf", "value": "Infinity", "timestamp": 9, "step": 4},
                    {"key": "ninf", "value": "-Infinity", "timestamp": 1, "step": 1},
                    {"key": "int", "value": 3, "timestamp": 2, "step": 0},
                    {"key": "none", "value": 1.0, "timestamp": 0, "step": 0}],  # no point known: zeros
        "params": [{"key": "p", "value": "1"}], "tags": [{"key": "t", "value": "x"}]}
    assert run_to_json(Run(_info(), RunData(metrics={"a": 1.0})))["data"]["metrics"] == [
        {"key": "a", "value": 1.0, "timestamp": 0, "step": 0}]


def test_inputs_and_outputs_round_trip():
    ds = Dataset("d", "abc", "code", '{"uri": "x"}', None, None)
    run = Run(_info(), RunData(), RunInputs([DatasetInput(ds, [InputTag("k", "v")])], [LoggedModelInput("m-1")]),
              RunOutputs([LoggedModelOutput("m-2", 4)]))
    got = run_to_json(run)
    assert got["inputs"] == {"dataset_inputs": [{"tags": [{"key": "k", "value": "v"}],
                                                 "dataset": {"name": "d", "digest": "abc", "source_type": "code",
                                                             "source": '{"uri": "x"}'}}],
                             "model_inputs": [{"model_id": "m-1"}]}
    assert got["outputs"] == {"model_outputs": [{"model_id": "m-2", "step": 4}]}
    back = run_from_json(got)
    assert back.inputs == run.inputs and back.outputs == run.outputs and back.info == run.info
