#!/usr/bin/env python3
"""nvForest (RAPIDS' GPU forest inference library, formerly cuML's FIL) as the GPU peer of
offload's batch-predict (issue #17, item 4), on two forests:

  * "offload": offload's own forest, written by
      offload forest --data friedman1 --rows N --export-xgboost FILE
    (XGBoost JSON) and read with nvforest.load_model(model_type="xgboost_json");
  * "scikit-learn": RandomForestRegressor(n_estimators=--trees, random_state=42, all cores)
    trained on N make_friedman1 rows (float32), read with nvforest.load_from_sklearn.

For each --predict-rows m, m fresh make_friedman1 rows (float32, 10 features) sit in host
memory (numpy), so every timed call moves the rows host -> device, runs the kernel and
brings the predictions back: as offload's `gpu-cuda` batch-predict is timed
(`offload forest --predict-rows`). Every load (precision double and single, each layout in
--layouts) is checked before it is timed, on the first 10,000 rows: the offload forest
against treelite's CPU reference (treelite.gtil.predict on the same file, the reader
nvForest uses), the scikit-learn forest against its own predict; within 1e-9 relative in
double precision, 1e-5 in single — except the offload forest in double, held to 1e-5 too:
its XGBoost JSON stores f32 thresholds and leaves and treelite's reference returns an f32
sum, which an f64 sum of the same leaves misses by f32 rounding (1.7e-6 relative on the
H200 run of 2026-12-07, where 1e-9 failed it). A forest that fails the check is not timed (a FAIL
line). Prints one JSON line per forest, precision, layout, rows and repeat, after one
warm-up call.

Usage (on the GPU machine, with nvforest-cu13 26.4 and its stack installed):
  python3 scripts/nvforest_peer.py --offload-model forest-friedman-1000.json \\
      --train-rows 1000 --predict-rows 1000,100000,1000000,10000000 [--repeat 5]
"""
import argparse
import json
import platform
import time

import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor

CHECK_ROWS = 10_000


def host(a):
    """A numpy vector of a prediction (nvForest returns numpy for numpy input, cupy for
    cupy input); `.get()` copies a cupy array to the host."""
    a = a.get() if hasattr(a, "get") else a
    return np.asarray(a, dtype=np.float64).reshape(-1)


def agrees(got, want, tol):
    return got.shape == want.shape and bool(
        np.all(np.abs(got - want) <= tol * np.maximum(np.abs(want), 1e-30)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--offload-model", help="offload's forest, XGBoost JSON")
    ap.add_argument("--train-rows", type=int, default=1000)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--predict-rows", default="1000,100000,1000000,10000000")
    ap.add_argument("--layouts", default="depth_first,breadth_first,layered")
    ap.add_argument("--precisions", default="double,single")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    rows = [int(v) for v in a.predict_rows.split(",") if v]
    try:
        import nvforest
        import treelite
        import treelite.gtil
    except ImportError as e:
        print(f"SKIP nvforest: {e}", flush=True)
        return
    versions = {"nvforest": getattr(nvforest, "__version__", "?"),
                "treelite": treelite.__version__, "numpy": np.__version__,
                "python": platform.python_version(), "machine": platform.node()}
    x_big, _ = make_friedman1(n_samples=max(rows), n_features=10, noise=1.0,
                              random_state=a.seed + 1)
    x_big = np.ascontiguousarray(x_big, dtype=np.float32)
    x_check = x_big[:CHECK_ROWS]

    forests = []
    if a.offload_model:
        tl = treelite.frontend.load_xgboost_model(a.offload_model)
        want = np.asarray(treelite.gtil.predict(tl, x_check), dtype=np.float64).reshape(-1)
        load = (lambda prec, layout: nvforest.load_model(
            a.offload_model, model_type="xgboost_json", device="gpu", precision=prec,
            layout=layout))
        forests.append(("offload", load, want))
    xs, ys = make_friedman1(n_samples=a.train_rows, n_features=10, noise=1.0,
                            random_state=a.seed)
    sk = RandomForestRegressor(n_estimators=a.trees, n_jobs=-1, random_state=a.seed)
    sk.fit(xs.astype(np.float32), ys)
    forests.append(("scikit-learn",
                    lambda prec, layout: nvforest.load_from_sklearn(
                        sk, device="gpu", precision=prec, layout=layout),
                    sk.predict(x_check).astype(np.float64)))

    for name, load, want in forests:
        for prec in a.precisions.split(","):
            tol = 1e-9 if prec == "double" and name != "offload" else 1e-5
            for layout in a.layouts.split(","):
                try:
                    fm = load(prec, layout)
                    got = host(fm.predict(x_check))
                except Exception as e:  # a layout or precision this build refuses
                    print(f"FAIL nvforest/{name}/{prec}/{layout}: {type(e).__name__}: {e}",
                          flush=True)
                    continue
                if not agrees(got, want, tol):
                    err = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30)))
                    print(f"FAIL nvforest/{name}/{prec}/{layout}: predictions differ from "
                          f"the reference (max relative error {err:.3e} > {tol:e})", flush=True)
                    continue
                for m in rows:
                    x = x_big[:m]
                    host(fm.predict(x))  # warm-up at this size
                    for rep in range(a.repeat):
                        t0 = time.perf_counter_ns()
                        host(fm.predict(x))
                        t1 = time.perf_counter_ns()
                        print(json.dumps({
                            "peer": "nvforest", "forest": name, "precision": prec,
                            "layout": layout, "train_rows": a.train_rows,
                            "trees": a.trees, "predict_rows": m, "repeat": rep,
                            "predict_ms": (t1 - t0) / 1e6,
                            "data_start": "host (numpy), predictions back in host memory",
                            **versions}), flush=True)


if __name__ == "__main__":
    main()
