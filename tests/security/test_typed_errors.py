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


# ------------------------------------------------------------------------------------------------
# every CLI command


class _Started(BaseException):
    """Raised instead of binding a socket, forking or exec-ing: the command accepted its input."""


def _leaf_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    from tureen.cli import cli

    out: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(cmd: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None:  # None: a part that is not installed (its group says so itself)
                    walk(sub, path + (name,))
        else:
            out.append((path, cmd))

    walk(cli, ())
    return out


_HOSTILE_TEXT = ["", "   ", "../../../etc/passwd", "::::", "runs:/", "models:/no/such@@x", "x" * 3000,
                 "%00%ff\udcff", "-1"]
_HOSTILE_NUMBER = ["not-a-number", "1e999999", "-99999999999999999999999"]


def _baseline(param: click.Parameter) -> list[str]:
    """A plausible but unknown value for a required parameter."""
    value = "no-such-thing-0f0f"
    if isinstance(param, click.Argument):
        return [value] * (param.nargs if param.nargs > 0 else 1)
    return [param.opts[0], value] if not param.is_flag else [param.opts[0]]


def _cases(cmd: click.Command) -> Iterator[tuple[str, list[str], bool]]:
    """(what, argv after the command path, must fail) for one command."""
    required = [p for p in cmd.params if p.required]
    yield "unknown option", ["--definitely-not-an-option"], True
    if required:
        yield "nothing given", [], True
    base = [a for p in required for a in _baseline(p)]
    yield "unknown resources", base, False
    for p in cmd.params:
        if isinstance(p, click.Option) and (p.is_flag or p.count or p.hidden):
            continue
        if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType, click.IntRange,
                               click.FloatRange)):
            values, must_fail = _HOSTILE_NUMBER[:1], True
        elif isinstance(p.type, click.Choice):
            values, must_fail = ["no-such-choice"], True
        else:
            values, must_fail = _HOSTILE_TEXT, False
        others = [a for q in required if q is not p for a in _baseline(q)]
        for v in values:
            if isinstance(p, click.Argument):
                args = [a for q in cmd.params if isinstance(q, click.Argument) and (q.required or q is p)
                        for a in ([v] if q is p else _baseline(q))]
                argv = args + [a for q in required if isinstance(q, click.Option) for a in _baseline(q)]
            else:
                argv = others + [p.opts[0], v]
            yield f"{p.name}={v[:20]!r}", argv, must_fail


@contextlib.contextmanager
def _nothing_starts() -> Iterator[None]:
    """Intercept anything that would start a server or another process."""
    def refuse(*_a: Any, **_k: Any) -> Any:
        raise _Started()

    saved = {name: getattr(os, name) for name in ("execv", "execve", "execvp", "execvpe", "fork", "system")}
    saved_bind, saved_popen = socket.socket.bind, subprocess.Popen.__init__
    try:
        for name in saved:
            setattr(os, name, refuse)
        socket.socket.bind = refuse  # type: ignore[method-assign]
        subprocess.Popen.__init__ = refuse  # type: ignore[method-assign]
        yield
    finally:
        for name, fn in saved.items():
            setattr(os, name, fn)
        socket.socket.bind = saved_bind  # type: ignore[method-assign]
        subprocess.Popen.__init__ = saved_popen  # type: ignore[method-assign]


def _invoke(argv: list[str]) -> tuple[int | None, str]:
    from tureen.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: int | None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _nothing_starts():
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except _Started:
            code = None
    return code, out.getvalue() + err.getvalue()


def test_every_cli_command_answers_bad_input_with_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    """Walks ``tureen.cli.COMMANDS`` recursively (new commands are covered automatically)."""
    deep = tmp_path / "a" / "b" / "c" / "d"  # relative hostile paths stay inside tmp_path
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.setenv("TUREEN_TRACKING_URI", f"sqlite:///{tmp_path / 'walk.db'}")
    monkeypatch.setenv("TUREEN_SERVING_WORKERS", "1")
    commands = _leaf_commands()
    assert len(commands) >= 20
    problems, count = [], 0
    for path, cmd in commands:
        for what, argv, must_fail in _cases(cmd):
            count += 1
            try:
                code, text = _invoke([*path, *argv])
            except Exception as exc:  # noqa: BLE001 - collected, reported together below
                problems.append(f"tureen {' '.join(path)} [{what}]: raised {type(exc).__name__}: {exc}"[:400])
                continue
            where = f"tureen {' '.join(path)} [{what}]"
            if "Traceback" in text or "this is a bug in tureen" in text:
                problems.append(f"{where}: not a typed error:\n{text[-600:]}")
            elif code is None:
                if must_fail:
                    problems.append(f"{where}: went on to start a process or server")
            elif code not in (0, 1, 2):
                problems.append(f"{where}: exit code {code}")
            elif code == 0 and must_fail:
                problems.append(f"{where}: accepted")
            elif code != 0 and not any(line.startswith("Error") for line in text.splitlines()):
                problems.append(f"{where}: exit {code} without an 'Error...' line: {text[-300:]!r}")
    assert count > 150
    assert not problems, f"{len(problems)} of {count} cases:\n" + "\n".join(problems[:60])


# ------------------------------------------------------------------------------------------------
# the public API


_BAD_URIS = [None, "", "   ", 123, 4.5, ["m"], b"bytes", "/nonexistent/model", "runs:/", "runs:/nope",
             "models:/", "models:/no-such-model/1", "models:/m@@", "::::", "nosuchscheme://x/y", "x" * 5000,
             "file://remote-host/m", "m\x00odel"]


def _api_cases(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """(description, zero-argument callable that must raise a TureenError)."""
    import tureen.pyfunc
    from tureen import flavors
    from tureen.models import Model
    from tureen.tracking import fluent
    from tureen.tracking.client import TrackingClient

    loaders = {"pyfunc.load_model": tureen.pyfunc.load_model}
    for name in ("sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow"):
        loaders[f"flavors.{name}.load_model"] = getattr(flavors, name).load_model
    for what, load in loaders.items():
        for uri in _BAD_URIS:
            yield f"{what}({uri!r:.30})", (lambda load=load, uri=uri: load(uri))
    not_empty = tmp_path / "not-empty"
    not_empty.mkdir()
    (not_empty / "f").write_text("x")
    for path in (None, "", 123, not_empty, tmp_path / "f\x00x"):
        yield f"pyfunc.save_model({path!r:.30})", (
            lambda path=path: tureen.pyfunc.save_model(path, python_model=_Echo()))
        yield f"flavors.sklearn.save_model(obj, {path!r:.30})", (
            lambda path=path: flavors.sklearn.save_model(_fitted(), path))
    for bad_model in (None, object(), "a string", 42):
        yield f"pyfunc.save_model(python_model={bad_model!r:.30})", (
            lambda m=bad_model: tureen.pyfunc.save_model(tmp_path / f"m{id(m)}", python_model=m))
        yield f"flavors.sklearn.save_model({bad_model!r:.30})", (
            lambda m=bad_model: flavors.sklearn.save_model(m, tmp_path / f"s{id(m)}"))
    for kwargs in ({"artifacts": "not-a-dict"}, {"artifacts": {"x": None}}, {"artifacts": {"x": 5}},
                   {"artifacts": {"x": "/nonexistent/file"}}, {"artifacts": {"x": "runs:/"}},
                   {"code_paths": ["/nonexistent.py"]}, {"metadata": "x"}, {"signature": "x"},
                   {"pip_requirements": 5}, {"extra_pip_requirements": [None]}):
        yield f"pyfunc.save_model(**{kwargs!r:.40})", (
            lambda kw=kwargs: tureen.pyfunc.save_model(tmp_path / f"k{id(kw)}", python_model=_Echo(), **kw))

    # tracking: fluent and client, with a real store
    fluent.set_tracking_uri(f"sqlite:///{tmp_path / 'api.db'}")
    client = TrackingClient()
    yield "set_tracking_uri(123)", lambda: fluent.set_tracking_uri(123)
    yield "set_tracking_uri('nosuch://x')", lambda: (fluent.set_tracking_uri("nosuch://x"), fluent.search_runs())
    for name in (None, "", 5):
        yield f"set_experiment({name!r})", lambda n=name: fluent.set_experiment(n)
        yield f"client.create_experiment({name!r})", lambda n=name: client.create_experiment(n)
    for run_id in (None, "", "nope", 5, "x" * 500):
        yield f"client.get_run({run_id!r:.30})", lambda r=run_id: client.get_run(r)
        yield f"client.delete_run({run_id!r:.30})", lambda r=run_id: client.delete_run(r)
        yield f"start_run(run_id={run_id!r:.30})", lambda r=run_id: fluent.start_run(run_id=r)
        yield f"client.log_param({run_id!r:.30})", lambda r=run_id: client.log_param(r, "k", "v")
    for exp_id in (None, "", "abc", -1, "999999"):
        yield f"client.get_experiment({exp_id!r})", lambda e=exp_id: client.get_experiment(e)
    run = client.create_run(client.create_experiment("typed-errors").experiment_id if False else "0")
    rid = run.info.run_id
    for key, value in ((None, 1), ("", 1), ("a" * 1000, 1), ("../k", 1), ("m", "not-a-number"), ("m", None),
                       ("m", object()), ("m", [1, 2])):
        yield f"client.log_metric({key!r:.20}, {value!r:.20})", lambda k=key, v=value: client.log_metric(rid, k, v)
    for key, value in ((None, "v"), ("", "v"), ("k\x00", "v"), ("a" * 1000, "v")):  # long values: truncated, as MLflow
        yield f"client.log_param({key!r:.20})", lambda k=key, v=value: client.log_param(rid, k, v)
        yield f"client.set_tag({key!r:.20})", lambda k=key, v=value: client.set_tag(rid, k, v)
    for filt in ("metrics.a >", "params.x = 'a' AND (", "nonsense", "metrics.a > 'text'", 5):
        yield f"client.search_runs(filter={filt!r})", lambda f=filt: client.search_runs(["0"], f)
        yield f"search_experiments(filter={filt!r})", lambda f=filt: client.search_experiments(filter_string=f)
    for order in (["metrics.a SIDEWAYS"], ["nope.x"], "metrics.a"):
        yield f"client.search_runs(order_by={order!r})", lambda o=order: client.search_runs(["0"], "", order_by=o)
    for bad in (-1, 0, "10", 10**9):
        yield f"client.search_runs(max_results={bad!r})", lambda b=bad: client.search_runs(["0"], "", max_results=b)
    yield "log_artifact(missing)", lambda: client.log_artifact(rid, str(tmp_path / "missing.txt"))
    yield "log_artifact(dst ../)", lambda: client.log_artifact(rid, __file__, "../../escape")
    yield "log_dict(object)", lambda: client.log_dict(rid, {"x": object()}, "d.json")
    yield "log_model(name='')", lambda: tureen.pyfunc.log_model(name="", python_model=_Echo())
    yield "log_model(name='a/b')", lambda: tureen.pyfunc.log_model(name="a/b", python_model=_Echo())
    # registry
    from tureen.tracking.fluent import register_model

    for uri, name in (("::", "m"), ("runs:/nope/m", "m"), ("/nonexistent", "m"), (None, "m"),
                      (__file__, ""), (__file__, None), (__file__, 5)):
        yield f"register_model({uri!r:.20}, {name!r})", lambda u=uri, n=name: register_model(u, n)
    for name in (None, "", "no-such-model", 5):
        yield f"client.get_registered_model({name!r})", lambda n=name: client.get_registered_model(n)
        yield f"client.get_model_version({name!r}, 'x')", lambda n=name: client.get_model_version(n, "x")
    # the MLmodel format
    from tureen.models.signature import ModelSignature, infer_signature

    for data in (None, [], "text", {"flavors": "x"}, {"flavors": {}}, {"flavors": {"a": 5}}):
        yield f"Model.from_dict({data!r:.30})", lambda d=data: Model.from_dict(d)
    for path in ("/nonexistent", tmp_path, __file__):
        yield f"Model.load({str(path)[-20:]!r})", lambda p=path: Model.load(p)
    for sig in (None, "x", {"inputs": "not json"}, {"inputs": "[{\"type\": \"nosuchtype\"}]"}):
        yield f"ModelSignature.from_dict({sig!r:.30})", lambda s=sig: ModelSignature.from_dict(s)
    yield "infer_signature(object())", lambda: infer_signature(object())


def test_every_public_api_function_answers_bad_input_with_a_typed_error(tmp_path: Path) -> None:
    problems, count = [], 0
    for what, call in _api_cases(tmp_path):
        count += 1
        try:
            call()
        except TureenError as exc:
            if not exc.message or not isinstance(exc.http_status, int) or not exc.error_code:
                problems.append(f"{what}: a TureenError without message/status/code")
        except Exception as exc:  # noqa: BLE001 - collected, reported together below
            problems.append(f"{what}: {type(exc).__name__}: {str(exc)[:160]}")
        else:
            problems.append(f"{what}: accepted")
    assert count > 200
    assert not problems, f"{len(problems)} of {count} calls:\n" + "\n".join(problems)


def _fitted():  # noqa: ANN202
    from sklearn.linear_model import LinearRegression

    return LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])


import tureen.pyfunc  # noqa: E402


class _Echo(tureen.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):  # noqa: ANN001
        return model_input
