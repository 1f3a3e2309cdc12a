#!/usr/bin/env python3
"""The scikit-learn peer of offload's random forest (issue 6, item 7).

Runs scikit-learn's RandomForestRegressor(n_estimators=200, n_jobs=1, random_state=42)
(CART, squared error, bootstrap, max_features=1.0 i.e. all features: the same
hyperparameters as offload's ForestParams::default()) and prints one JSON line per run:
train ms (fit), predict ms (predict on the test rows), test MSE and R², with the
versions of scikit-learn, numpy and Python.

Data:
  * diabetes: offload's shipped copy, core/data/diabetes/diabetes.csv with the split in
    train_idx.txt / test_idx.txt (scikit-learn's train_test_split(test_size=0.2,
    random_state=42): 353 train / 89 test rows), so the MSE compares directly with every
    offload path.
  * friedman1: for each size n in --sizes, n training rows and --test-rows test rows of
    sklearn.datasets.make_friedman1(n_features=10, noise=--noise). These are the same
    distribution as offload-core's data::friedman1 (Friedman 1991: ten features uniform in
    [0, 1), y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise N(0, 1)) but
    not the same draws (numpy's generator, not offload's PCG32): compare timings and the
    order of magnitude of the MSE, not MSEs to the digit.

Features are passed as float32, which is what scikit-learn's trees use internally (and
what offload uses), so no conversion is timed.

Training on all cores (--train-n-jobs 1,-1): scikit-learn's training on friedman1 once per
n_jobs value (each line says its n_jobs and the machine's cpus); the report reads the
n_jobs=1 lines only.

Prediction at scale (--predict-rows): for each Friedman #1 training size, the trained
forest also predicts each given number of fresh make_friedman1 rows (float32, drawn with
random_state=seed+1) once per --n-jobs value and --repeat, printing one JSON line each
with "kind": "predict", "predict_rows", "n_jobs" and "predict_ms" (the predict call only;
n_jobs is set on the fitted model, -1 = all cores).

XGBoost's random-forest mode (--peers xgboost-rf-hist,xgboost-rf-exact): XGBRFRegressor
with tree_method "hist" or "exact", n_estimators trees in one round, n_jobs=1,
colsample_bynode=1.0 (every feature at every split, as max_features=1.0), reg_lambda=0
and min_child_weight=1 (plain squared-error leaf means, one row per leaf at least, as
scikit-learn and offload), learning_rate=1. Differences the library imposes, stated in
each line's "differences": XGBoost samples rows WITHOUT replacement (subsample=0.632,
about the share of distinct rows in a bootstrap sample) where offload and scikit-learn
draw a bootstrap sample, and its depth is capped (max_depth=--xgb-max-depth, default 20)
where theirs is unlimited; "hist" also bins every feature into 256 bins (an approximate
split rule). `xgboost-rf-hist-cuda` is the same hist model trained and predicting on the
GPU (device="cuda"; the full xgboost or xgboost-cu13 wheel): its first fit includes
creating the CUDA context, so give it --repeat 2 and read the later lines. A peer that
cannot run prints `SKIP <peer>: <reason>` (the report lists it).

Usage:
  python3 scripts/sklearn_forest.py [--data diabetes,friedman1] [--sizes 1000,10000]
                                    [--trees 200] [--seed 42] [--repeat 1]
                                    [--noise 1.0] [--test-rows 1000]
                                    [--predict-rows 10000,100000] [--n-jobs 1,-1]
                                    [--peers scikit-learn,xgboost-rf-hist,xgboost-rf-exact,
                                             xgboost-rf-hist-cuda]
Needs scikit-learn (and numpy): pip install scikit-learn; xgboost for its peers
(pip install xgboost-cpu)
"""
import argparse
import json
import os
import platform
import sys
import time

try:
    import numpy as np
    import sklearn
    from sklearn.datasets import make_friedman1
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.metrics import mean_squared_error, r2_score
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit(f"sklearn_forest.py: {e}; install scikit-learn with: pip install scikit-learn")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DIABETES = os.path.join(ROOT, "core", "data", "diabetes")


def load_diabetes():
    """Returns (x_train, y_train, x_test, y_test) of offload's shipped split."""
    path = os.path.join(DIABETES, "diabetes.csv")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    if data.shape != (442, 11):
        sys.exit(f"sklearn_forest.py: {path}: expected 442 rows x 11 columns, got {data.shape}")
    x, y = data[:, :10].astype(np.float32), data[:, 10]
    idx = {}
    for name in ("train_idx.txt", "test_idx.txt"):
        idx[name] = np.loadtxt(os.path.join(DIABETES, name), dtype=np.int64)
    tr, te = idx["train_idx.txt"], idx["test_idx.txt"]
    if len(tr) != 353 or len(te) != 89:
        sys.exit(f"sklearn_forest.py: split has {len(tr)}/{len(te)} rows, expected 353/89")
    return x[tr], y[tr], x[te], y[te]


def load_friedman(n, test_rows, noise, seed):
    """n training rows and test_rows test rows of make_friedman1 (10 features)."""
    x, y = make_friedman1(n_samples=n + test_rows, n_features=10, noise=noise,
                          random_state=seed)
    x = x.astype(np.float32)
    return x[:n], y[:n], x[n:], y[n:]


def run(name, split, args, rep, jobs=1):
    x_tr, y_tr, x_te, y_te = split
    model = RandomForestRegressor(n_estimators=args.trees, n_jobs=jobs, random_state=args.seed)
    t0 = time.perf_counter_ns()
    model.fit(x_tr, y_tr)
    t1 = time.perf_counter_ns()
    pred = model.predict(x_te)
    t2 = time.perf_counter_ns()
    nodes = int(sum(e.tree_.node_count for e in model.estimators_))
    emit("scikit-learn", name, split, args, rep, (t0, t1, t2), pred,
         {"nodes": nodes, "sklearn": sklearn.__version__, "n_jobs": jobs,
          "cpus": os.cpu_count()})
    model.set_params(n_jobs=1)
    return model


def emit(peer, name, split, args, rep, times, pred, extra):
    """Prints one run's JSON line: the fields every peer shares, then `extra`."""
    _, y_tr, x_te, y_te = split
    t0, t1, t2 = times
    print(json.dumps({
        "peer": peer,
        "data": name,
        "rows_train": int(len(y_tr)),
        "rows_test": int(len(y_te)),
        "features": int(x_te.shape[1]),
        "n_estimators": args.trees,
        "n_jobs": 1,
        "random_state": args.seed,
        "repeat": rep,
        "train_ms": (t1 - t0) / 1e6,
        "predict_ms": (t2 - t1) / 1e6,
        "mse": float(mean_squared_error(y_te, pred)),
        "r2": float(r2_score(y_te, pred)),
        **extra,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.node(),
    }), flush=True)


XGB_DIFFERENCES = ("rows sampled without replacement (subsample=0.632) instead of a "
                   "bootstrap sample; depth capped at max_depth")


def run_xgb(peer, name, split, args, rep):
    """One fit and predict of XGBoost's random-forest mode (see the module docs)."""
    import xgboost as xgb

    x_tr, y_tr, x_te, y_te = split
    method = peer.split("-")[2]  # xgboost-rf-<hist|exact>[-cuda]
    device = "cuda" if peer.endswith("-cuda") else "cpu"
    model = xgb.XGBRFRegressor(
        n_estimators=args.trees, tree_method=method, device=device, n_jobs=1,
        random_state=args.seed, subsample=0.632, colsample_bynode=1.0, reg_lambda=0.0,
        min_child_weight=1.0, learning_rate=1.0, max_depth=args.xgb_max_depth)
    t0 = time.perf_counter_ns()
    model.fit(x_tr, y_tr)
    t1 = time.perf_counter_ns()
    pred = model.predict(x_te)
    t2 = time.perf_counter_ns()
    emit(peer, name, split, args, rep, (t0, t1, t2), pred,
         {"max_depth": args.xgb_max_depth, "differences": XGB_DIFFERENCES,
          "device": device, "xgboost": xgb.__version__})


def run_predict(model, n_train, args):
    """Times model.predict on each --predict-rows size for each --n-jobs value."""
    for m in args.predict_rows:
        x, _ = make_friedman1(n_samples=m, n_features=10, noise=args.noise,
                              random_state=args.seed + 1)
        x = np.ascontiguousarray(x, dtype=np.float32)
        for jobs in args.n_jobs:
            model.set_params(n_jobs=jobs)
            model.predict(x[:1000])  # warm-up: thread pool, first-call costs
            for rep in range(args.repeat):
                t0 = time.perf_counter_ns()
                model.predict(x)
                t1 = time.perf_counter_ns()
                print(json.dumps({
                    "peer": "scikit-learn",
                    "kind": "predict",
                    "data": "friedman1",
                    "rows_train": n_train,
                    "predict_rows": m,
                    "features": 10,
                    "n_estimators": args.trees,
                    "n_jobs": jobs,
                    "cpus": os.cpu_count(),
                    "repeat": rep,
                    "predict_ms": (t1 - t0) / 1e6,
                    "sklearn": sklearn.__version__,
                    "numpy": np.__version__,
                    "python": platform.python_version(),
                    "machine": platform.node(),
                }), flush=True)
    model.set_params(n_jobs=1)


def signed_ints(text):
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers")
    if not out or any(v == 0 or v < -1 for v in out):
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive integers or -1")
    return out


def ints(text):
    try:
        out = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers")
    if not out or any(v <= 0 for v in out):
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive integers")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="diabetes,friedman1",
                    help="comma-separated: diabetes, friedman1 (default both)")
    ap.add_argument("--sizes", type=ints, default=[1000, 10000],
                    help="Friedman #1 training rows (default 1000,10000)")
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=1, help="runs per data set")
    ap.add_argument("--noise", type=float, default=1.0, help="Friedman #1 noise (default 1.0)")
    ap.add_argument("--test-rows", type=int, default=1000,
                    help="Friedman #1 test rows (default 1000)")
    ap.add_argument("--predict-rows", type=ints, default=[],
                    help="also time predicting this many fresh Friedman #1 rows "
                         "(comma-separated; default none)")
    ap.add_argument("--n-jobs", type=signed_ints, default=[1],
                    help="n_jobs values for --predict-rows (default 1; -1 = all cores)")
    ap.add_argument("--train-n-jobs", type=signed_ints, default=[1],
                    help="n_jobs values for scikit-learn's training on friedman1 (default 1; "
                         "-1 = all cores; the report reads the n_jobs=1 lines only)")
    ap.add_argument("--peers", default="scikit-learn",
                    help="comma-separated: scikit-learn, xgboost-rf-hist, xgboost-rf-exact, "
                         "xgboost-rf-hist-cuda (default scikit-learn)")
    ap.add_argument("--xgb-max-depth", type=int, default=20,
                    help="XGBoost's depth cap (default 20; offload's depth is unlimited)")
    args = ap.parse_args()
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    known = ("scikit-learn", "xgboost-rf-hist", "xgboost-rf-exact", "xgboost-rf-hist-cuda")
    if not peers or any(p not in known for p in peers):
        ap.error(f"--peers: {peers}; use {', '.join(known)}")
    xgb_peers = [p for p in peers if p != "scikit-learn"]
    if xgb_peers:
        try:
            import xgboost  # noqa: F401
        except ImportError as e:
            for p in xgb_peers:
                print(f"SKIP {p}: xgboost is not installed ({e}; pip install xgboost-cpu)",
                      flush=True)
            xgb_peers = []
    wanted = [d.strip() for d in args.data.split(",") if d.strip()]
    unknown = [d for d in wanted if d not in ("diabetes", "friedman1")]
    if unknown or not wanted:
        ap.error(f"--data: unknown data set(s) {unknown}; use diabetes and/or friedman1")
    if args.trees < 1 or args.repeat < 1 or args.test_rows < 1:
        ap.error("--trees, --repeat and --test-rows must be at least 1")

    sk = "scikit-learn" in peers
    if "diabetes" in wanted:
        split = load_diabetes()
        for rep in range(args.repeat):
            if sk:
                run("diabetes", split, args, rep)
            for p in xgb_peers:
                run_xgb(p, "diabetes", split, args, rep)
    if "friedman1" in wanted:
        for n in args.sizes:
            split = load_friedman(n, args.test_rows, args.noise, args.seed)
            model = None
            for rep in range(args.repeat):
                if sk:
                    for jobs in args.train_n_jobs:
                        model = run("friedman1", split, args, rep, jobs)
                for p in xgb_peers:
                    run_xgb(p, "friedman1", split, args, rep)
            if args.predict_rows and model is not None:
                run_predict(model, n, args)


if __name__ == "__main__":
    main()
