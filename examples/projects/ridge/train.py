"""Fit a ridge regression on synthetic data; log its parameters' effect as metrics of the project run."""

import argparse

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

import tureen

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
parser.add_argument("--n-samples", type=int, required=True)
parser.add_argument("--seed", type=int, required=True)
args = parser.parse_args()

rng = np.random.default_rng(args.seed)
X = rng.normal(size=(args.n_samples, 3))
y = X @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=args.n_samples)

# tureen run made a run for this entry point and passed its id in TUREEN_RUN_ID: start_run joins it
with tureen.start_run() as run:
    model = Ridge(alpha=args.alpha).fit(X, y)
    tureen.log_metric("r2", r2_score(y, model.predict(X)))
    tureen.log_metric("coef_norm", float(np.linalg.norm(model.coef_)))
    print(f"run {run.info.run_id}: r2={r2_score(y, model.predict(X)):.4f}")
