"""The demo job behind ``make demo``: train a churn classifier on generated data, save it, load it with pyfunc,
predict, and print what happened."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path


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


def train(X, y):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer([("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                             ("num", StandardScaler(), ["tenure", "monthly_charges", "support_calls"])])
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))]).fit(X, y)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", default=None, help="where to save the model (default: a temp dir)")
    args = parser.parse_args(argv)

    from sklearn.metrics import roc_auc_score

    from tureen import flavors, pyfunc

    X, y = make_data()
    clf = train(X[:1500], y[:1500])
    auc = roc_auc_score(y[1500:], clf.predict_proba(X[1500:])[:, 1])
    print(f"trained a churn classifier on {len(X[:1500])} rows; held-out AUC {auc:.3f}")

    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="tureen-demo-")) / "churn_model"
    if out.exists():
        shutil.rmtree(out)
    flavors.sklearn.save_model(clf, out, input_example=X[:5])
    print(f"saved to {out}")
    model = pyfunc.load_model(out)
    sample = X[1500:1505]
    preds = model.predict(sample)
    print("signature inputs:", ", ".join(f"{s.name}:{s.type.value}" for s in model.metadata.signature.inputs.inputs))
    print(sample.assign(predicted_churn=preds).to_string(index=False))


if __name__ == "__main__":
    main()
