#!/usr/bin/env python3
"""Checks an offload forest exported to XGBoost's JSON format against offload's own
predictions: XGBoost (and, with --treelite, treelite's reader, the one nvForest uses)
loads the model and predicts offload's diabetes test rows; every prediction must equal
offload's within --rel (default 1e-5: XGBoost sums the pre-divided leaves in float32,
offload sums in float64).

Usage (offload forest writes both files):
  offload forest --trees 200 --export-xgboost forest.json --predictions pred.json
  python3 scripts/check_xgboost_export.py forest.json pred.json [--treelite]
Prints one JSON line: the library versions, rows, the largest relative difference and
"ok"; exits 1 when a prediction differs by more than --rel.
Needs xgboost (pip install xgboost-cpu, ~6 MB) and numpy; treelite for --treelite.
"""
import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DIABETES = os.path.join(ROOT, "core", "data", "diabetes")


def test_rows():
    """offload's diabetes test rows (test_idx.txt order), float32."""
    rows = np.loadtxt(os.path.join(DIABETES, "diabetes.csv"), delimiter=",", skiprows=1,
                      dtype=np.float64)
    idx = [int(v) for v in open(os.path.join(DIABETES, "test_idx.txt")).read().split()]
    return rows[idx, :-1].astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("predictions")
    ap.add_argument("--rel", type=float, default=1e-5)
    ap.add_argument("--treelite", action="store_true")
    a = ap.parse_args()
    import xgboost as xgb

    want = np.array(json.load(open(a.predictions))["predictions"], dtype=np.float64)
    x = test_rows()
    if len(want) != len(x):
        sys.exit(f"{a.predictions}: {len(want)} predictions for {len(x)} test rows")
    booster = xgb.Booster(model_file=a.model)
    got = {"xgboost": booster.predict(xgb.DMatrix(x)).astype(np.float64)}
    versions = {"xgboost": xgb.__version__, "numpy": np.__version__}
    if a.treelite:
        import treelite
        import treelite.gtil

        model = treelite.frontend.load_xgboost_model(a.model)
        got["treelite"] = np.asarray(treelite.gtil.predict(model, x)).reshape(-1)
        versions["treelite"] = treelite.__version__
    out = {"versions": versions, "rows": len(x)}
    ok = True
    for name, g in got.items():
        rel = float(np.max(np.abs(g - want) / np.maximum(np.abs(want), 1.0)))
        out[f"max_rel_diff_{name}"] = rel
        ok &= rel <= a.rel
    out["ok"] = bool(ok)
    print(json.dumps(out))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
