"""The demo job behind ``make demo``.

Trains a churn classifier on generated data, logs it to a run, registers it as ``churn``, promotes the new
version to Production (archiving the previous one) and points the ``champion`` alias at it, checks it through
``models:/churn/Production``, then starts ``tureen server`` (the tracking server, MLflow's REST API, with the web
UI when it is installed) on the same store and serves that URI on 127.0.0.1 until Ctrl-C, printing both URLs
and a sample ``curl``.

Uses the default store (an embedded SQLite database under ``TUREEN_HOME``, default ``~/.tureen``), so after
the demo ``tureen serve models:/churn/Production`` and ``tureen models versions churn`` work as shown.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys


def make_data(n: int = 2000, seed: int = 7):
    """A synthetic churn table: short tenure, expensive plans and support calls raise churn."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "standard", "premium"], size=n, p=[0.5, 0.3, 0.2])
    tenure = rng.integers(1, 72, size=n)
    monthly = np.round(rng.normal(30, 5, size=n) + np.select(
        [plan == "basic", plan == "standard", plan == "premium"], [0, 25, 55]), 2)
    calls = rng.poisson(1.5, size=n)
    logit = 1.2 - 0.06 * tenure + 0.02 * (monthly - 50) + 0.45 * calls
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"tenure": tenure, "plan": plan, "monthly_charges": monthly, "support_calls": calls})
    return X, pd.Series(churn, name="churn")


def train(X, y, C: float):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer([("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                             ("num", StandardScaler(), ["tenure", "monthly_charges", "support_calls"])])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(C=C, max_iter=1000))]).fit(X, y)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--no-serve", action="store_true", help="stop after registering and checking the model")
    parser.add_argument("--server-port", type=int, default=None,
                        help="port of the tracking server (default: --port + 1, or a free one)")
    parser.add_argument("--no-server", action="store_true", help="do not start the tracking server")
    args = parser.parse_args(argv)

    from sklearn.metrics import roc_auc_score

    import tureen
    from tureen import flavors, pyfunc

    X, y = make_data()
    X_train, y_train, X_test, y_test = X[:1500], y[:1500], X[1500:], y[1500:]
    C = 0.5
    tureen.set_experiment("churn")
    with tureen.start_run(run_name="churn-logreg") as run:
        clf = train(X_train, y_train, C)
        auc = float(roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1]))
        tureen.log_params({"C": C, "model": "LogisticRegression", "rows": len(X_train)})
        tureen.log_metric("auc", auc)
        info = flavors.sklearn.log_model(clf, name="model", input_example=X_train[:5],
                                         registered_model_name="churn")
    version = info.registered_model_version
    client = tureen.TrackingClient()
    client.transition_model_version_stage("churn", version, "Production", archive_existing_versions=True)
    client.set_registered_model_alias("churn", "champion", version)
    print(f"run {run.info.run_id}: trained a churn classifier on {len(X_train)} rows, held-out AUC {auc:.3f}")
    print(f"registered churn version {version}, promoted to Production, alias @champion "
          f"(store: {tureen.get_tracking_uri()})")

    model = pyfunc.load_model("models:/churn/Production")
    sample = X_test[:3]
    print("models:/churn/Production predicts:", model.predict(sample).tolist(), "for")
    print(sample.to_string(index=False))
    if args.no_serve:
        return

    host = "127.0.0.1"
    port = args.port if _port_free(host, args.port) else _free_port(host)
    if port != args.port:
        print(f"port {args.port} is busy; using {port}")
    if not args.no_server:
        _start_tracking_server(host, args.server_port or port + 1)
    body = json.dumps({"dataframe_split": {"columns": list(sample.columns),
                                           "data": sample.head(1).values.tolist()}})
    print("\nServing models:/churn/Production. Try, from another terminal:\n"
          f"  curl -s {host}:{port}/invocations -H 'Content-Type: application/json' -d '{body}'\n"
          "Stop with Ctrl-C.\n", flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "tureen.cli", "serve", "models:/churn/Production",
                              "--host", host, "--port", str(port)])


def _start_tracking_server(host: str, wanted: int) -> None:
    """``tureen server`` on the demo's store, in the background of this terminal (Ctrl-C stops both)."""
    import importlib.util
    import subprocess
    import time
    import urllib.request

    import tureen
    from tureen.tracking._config import tureen_home

    port = wanted if _port_free(host, wanted) else _free_port(host)
    url = f"http://{host}:{port}"
    subprocess.Popen([sys.executable, "-m", "tureen.cli", "server", "--backend-store-uri", tureen.get_tracking_uri(),
                      "--artifacts-destination", str(tureen_home() / "mlartifacts"), "--host", host,
                      "--port", str(port), "--workers", "1"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            time.sleep(0.3)
    ui = importlib.util.find_spec("tureen.server.ui") is not None
    print(f"Tracking server (MLflow's REST API{', web UI' if ui else ''}) on the same store: {url}\n"
          f"  MLFLOW_TRACKING_URI={url} python your_script.py   # MLflow's client or tureen's\n"
          f"  curl -s '{url}/api/2.0/mlflow/registered-models/get?name=churn'", flush=True)


if __name__ == "__main__":
    main()
