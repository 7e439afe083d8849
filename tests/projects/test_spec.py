"""The MLproject format: typed parameters, implicit entry points, extra parameters, quoting, and a project
as untrusted input (YAML bombs, paths leaving the project, format-string tricks)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tureen.exceptions import ProjectError, ProjectParameterError
from tureen.projects import load_project

TYPED = """
name: typed
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      epochs: {type: int, default: 3}
      name: string
      data: {type: path, default: data/train.csv}
      source: {type: uri, default: "s3://bucket/key"}
    command: "python train.py --alpha {alpha} --epochs {epochs} --name {name} --data {data} --source {source}"
"""


def _command(project: Path, entry: str = "main", params: dict | None = None, storage=None) -> str:
    p = load_project(project)
    ep = p.entry_point(entry)
    values, extra = ep.resolve(params or {}, project_dir=p.directory, storage_dir=storage)
    return ep.command_line(values, extra)


def test_typed_parameters_defaults_and_casts(make_project):
    proj = make_project(TYPED, **{"data__train.csv": "a\n"})
    cmd = shlex.split(_command(proj, params={"name": "x", "epochs": "7", "alpha": 1e-3}))
    assert cmd[:4] == ["python", "train.py", "--alpha", "0.001"]
    assert cmd[cmd.index("--epochs") + 1] == "7"
    assert cmd[cmd.index("--data") + 1] == str(proj / "data" / "train.csv")  # defaults resolve in the project
    assert cmd[cmd.index("--source") + 1] == "s3://bucket/key"


@pytest.mark.parametrize("params, bad", [
    ({"name": "x", "alpha": "fast"}, "alpha"),
    ({"name": "x", "epochs": "1.5"}, "epochs"),
    ({"name": "x", "epochs": True}, "epochs"),
    ({"name": "x", "alpha": "nan"}, "alpha"),
    ({"name": "x", "source": "relative/dir"}, "source"),
    ({}, "name"),
    ({"name": None}, "name"),
    ({"name": "x", "bad key;rm -rf /": "1"}, "bad key"),
])
def test_bad_values_are_typed_errors_naming_the_parameter(make_project, params, bad):
    proj = make_project(TYPED, **{"data__train.csv": "a\n"})
    with pytest.raises(ProjectParameterError) as info:
        _command(proj, params=params)
    assert bad in info.value.message
    assert str(info.value.details["parameter"]).startswith(bad.split()[0])


def test_a_user_path_is_made_absolute_from_the_working_directory(make_project, tmp_path, monkeypatch):
    proj = make_project(TYPED)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectParameterError, match="does not exist"):
        _command(proj, params={"name": "n", "data": "mine.csv"})
    (tmp_path / "mine.csv").write_text("a\n")
    cmd = shlex.split(_command(proj, params={"name": "n", "data": "mine.csv"}))
    assert cmd[cmd.index("--data") + 1] == str(tmp_path / "mine.csv")


def test_extra_parameters_are_passed_through_quoted(make_project):
    proj = make_project(TYPED, **{"data__train.csv": "a\n"})
    cmd = _command(proj, params={"name": "n", "lr": "0.1", "note": "two words"})
    assert cmd.endswith("--lr 0.1 --note 'two words'")


def test_values_never_reach_the_shell_unquoted(make_project):
    proj = make_project(TYPED, **{"data__train.csv": "a\n"})
    hostile = "x; touch /tmp/pwned $(id) `id` ' \" && |"
    cmd = _command(proj, params={"name": hostile, "extra": hostile})
    argv = shlex.split(cmd)
    assert argv[argv.index("--name") + 1] == hostile
    assert argv[-1] == hostile and argv[-2] == "--extra"


def test_implicit_py_and_sh_entry_points(make_project):
    proj = make_project(None, **{"tools__prep.py": "print(1)\n", "run.sh": "echo hi\n"})
    assert _command(proj, "tools/prep.py", {"k": "v w"}) == "python tools/prep.py --k 'v w'"
    assert _command(proj, "run.sh").endswith(" run.sh")
    with pytest.raises(ProjectError, match="no entry point 'main'"):
        load_project(proj).entry_point("main")
    with pytest.raises(ProjectError, match="does not exist"):
        load_project(proj).entry_point("missing.py")


@pytest.mark.parametrize("entry", ["../outside.py", "/etc/passwd.sh", "sub/../../outside.py"])
def test_implicit_entry_points_stay_inside_the_project(make_project, tmp_path, entry):
    (tmp_path / "outside.py").write_text("print('escaped')\n")
    proj = make_project(None, **{"sub__x.py": ""})
    with pytest.raises(ProjectError, match="project directory|relative"):
        load_project(proj).entry_point(entry)


def test_a_symlinked_entry_point_leaving_the_project_is_refused(make_project, tmp_path):
    (tmp_path / "evil.py").write_text("print('escaped')\n")
    proj = make_project(None)
    (proj / "link.py").symlink_to(tmp_path / "evil.py")
    with pytest.raises(ProjectError, match="leaves the project"):
        load_project(proj).entry_point("link.py")


@pytest.mark.parametrize("default", ["../secret.txt", "/etc/passwd", "file:///etc/passwd"])
def test_a_path_default_from_the_file_cannot_leave_the_project(make_project, default):
    proj = make_project(f"""
        entry_points:
          main:
            parameters:
              data: {{type: path, default: "{default}"}}
            command: "cat {{data}}"
        """)
    with pytest.raises(ProjectParameterError, match="data"):
        _command(proj)


@pytest.mark.parametrize("field, value", [("python_env", "../env.yaml"), ("conda_env", "/etc/conda.yaml"),
                                          ("python_env", "missing.yaml")])
def test_environment_files_must_be_inside_the_project(make_project, tmp_path, field, value):
    (tmp_path / "env.yaml").write_text("python: '3.11'\n")
    proj = make_project(f"{field}: {value}\nentry_points: {{main: {{command: 'true'}}}}\n")
    with pytest.raises(ProjectError):
        load_project(proj)


def test_yaml_bombs_and_huge_files_are_refused(make_project):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        prev = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    proj = make_project(bomb + "entry_points: {main: {command: 'true'}}\n")
    with pytest.raises(ProjectError, match="refused"):
        load_project(proj)
    big = make_project("name: big\n# " + "x" * 300_000 + "\n")
    with pytest.raises(ProjectError, match="bytes"):
        load_project(big)
    recursive = make_project("entry_points: &e {main: {command: x, parameters: {p: {default: *e}}}}\n")
    with pytest.raises(ProjectError):
        load_project(recursive)


@pytest.mark.parametrize("command", ["python x.py {alpha.__class__}", "python x.py {alpha[0]}",
                                     "python x.py {alpha!r}", "python x.py {undeclared}", "python x.py {"])
def test_command_templates_allow_only_plain_declared_fields(make_project, command):
    proj = make_project(f"""
        entry_points:
          main:
            parameters: {{alpha: {{type: float, default: 1}}}}
            command: "{command}"
        """)
    with pytest.raises(ProjectError, match="field|template|declared"):
        _command(proj)


@pytest.mark.parametrize("text, fragment", [
    ("entry_points: [a, b]", "mapping"),
    ("entry_points: {main: {parameters: {}}}", "command"),
    ("entry_points: {main: {command: x, parameters: {a: {type: complex}}}}", "unknown type"),
    ("entry_points: {main: {command: x, parameters: {a: {type: float, dflt: 1}}}}", "unknown keys"),
    ("python_env: p.yaml\ndocker_env: {image: x}\nentry_points: {}", "one environment"),
    ("docker_env: {volumes: [a]}", "image"),
    ("docker_env: {image: x, environment: [[1, 2, 3]]}", "environment"),
    ("[1, 2]", "mapping"),
    ("a: [unclosed", "YAML"),
])
def test_invalid_files_say_what_is_wrong(make_project, text, fragment):
    proj = make_project(text + "\n", **{"p.yaml": "python: '3.11'\n"})
    with pytest.raises(ProjectError, match=fragment):
        load_project(proj)


# -- MLflow's own example shapes (written here from MLflow's documented formats) --------------------------
MLFLOW_SHAPES = {
    "sklearn_elasticnet_wine": ("""
        name: tutorial
        python_env: python_env.yaml
        entry_points:
          main:
            parameters:
              alpha: {type: float, default: 0.5}
              l1_ratio: {type: float, default: 0.1}
            command: "python train.py {alpha} {l1_ratio}"
        """, {"python_env.yaml": "python: '3.11'\nbuild_dependencies: [pip]\ndependencies: [mlflow, scikit-learn]\n"},
        "main", {}, "python train.py 0.5 0.1", "python"),
    "docker": ("""
        name: docker-example
        docker_env:
          image: mlflow-docker-example
          volumes: ["/local/path:/container/mount/path"]
          environment: [["NEW_ENV_VAR", "new_var_value"], "VAR_TO_COPY_FROM_HOST_ENVIRONMENT"]
        entry_points:
          main:
            parameters:
              alpha: float
              l1_ratio: {type: float, default: 0.1}
            command: "python train.py --alpha {alpha} --l1-ratio {l1_ratio}"
        """, {}, "main", {"alpha": "0.4"}, "python train.py --alpha 0.4 --l1-ratio 0.1", "docker"),
    "multistep_workflow": ("""
        name: multistep_example
        python_env: python_env.yaml
        entry_points:
          load_raw_data:
            command: "python load_raw_data.py"
          etl_data:
            parameters:
              ratings_csv: path
              max_row_limit: {type: int, default: 100000}
            command: "python etl_data.py --ratings-csv {ratings_csv} --max-row-limit {max_row_limit}"
          main:
            parameters:
              als_max_iter: {type: int, default: 10}
              keras_hidden_units: {type: int, default: 20}
            command: "python main.py --als-max-iter {als_max_iter} --keras-hidden-units {keras_hidden_units}"
        """, {"python_env.yaml": "python: '3.11'\ndependencies: [mlflow]\n"},
        "etl_data", {"ratings_csv": "/etc/hostname"},
        "python etl_data.py --ratings-csv /etc/hostname --max-row-limit 100000",
        "python"),
    "conda": ("""
        name: conda-example
        conda_env: conda.yaml
        entry_points:
          main:
            parameters:
              data_file: path
              regularization: {type: float, default: 0.1}
            command: "python train.py -r {regularization} {data_file}"
        """, {"conda.yaml": "name: x\ndependencies: [python=3.11, pip, {pip: [mlflow]}]\n"},
        "main", {"data_file": "/etc/hostname"}, "python train.py -r 0.1 /etc/hostname", "conda"),
    "hyperparam": ("""
        name: HyperparameterSearch
        python_env: python_env.yaml
        entry_points:
          train:
            parameters:
              training_data: {type: string, default: "https://example.org/wine.csv"}
              epochs: {type: int, default: 32}
              learning_rate: {type: float, default: 1e-1}
            command: "python train.py --training-data {training_data} --epochs {epochs} --learning-rate {learning_rate}"
        """, {"python_env.yaml": "python: '3.11'\n"}, "train", {},
        "python train.py --training-data https://example.org/wine.csv --epochs 32 --learning-rate 1e-1", "python"),
}


@pytest.mark.parametrize("shape", sorted(MLFLOW_SHAPES))
def test_mlflow_example_mlproject_shapes_load_unchanged(make_project, shape):
    text, files, entry, params, expected, env_type = MLFLOW_SHAPES[shape]
    proj = make_project(text, **files)
    project = load_project(proj)
    assert project.env_type == env_type
    assert _command(proj, entry, params) == expected
    if shape == "docker":
        assert project.docker_env.volumes == ("/local/path:/container/mount/path",)
        assert project.docker_env.environment == (("NEW_ENV_VAR", "new_var_value"),
                                                  ("VAR_TO_COPY_FROM_HOST_ENVIRONMENT", None))


def test_without_mlproject_python_env_then_conda_yaml_are_found(make_project):
    assert load_project(make_project(None, **{"python_env.yaml": "python: '3.11'\n"})).env_type == "python"
    assert load_project(make_project(None, **{"conda.yaml": "name: x\n"})).env_type == "conda"
    assert load_project(make_project(None)).env_type == "none"
