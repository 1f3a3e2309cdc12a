#!/usr/bin/env python3
"""Writes offload's copy of the diabetes data set and its train/test split.

Source: Efron, Hastie, Johnstone, Tibshirani (2004), "Least Angle Regression",
Annals of Statistics 32(2): 442 patients, 10 baseline features (age, sex, body-mass
index, mean blood pressure, six blood serum measurements s1..s6), target = a
quantitative measure of disease progression one year after baseline.

The raw (unscaled) values are read from scikit-learn's wheel, where they ship as
sklearn/datasets/data/diabetes_data_raw.csv.gz and diabetes_target.csv.gz.
The split is exactly scikit-learn's
    train_test_split(np.arange(442), test_size=0.2, random_state=42)
(353 train rows, 89 test rows), written as row-index lists so every path of offload
trains and tests on the same rows as scikit-learn and MSEs compare directly.

Usage: python3 scripts/make_diabetes_data.py [OUT_DIR]   (default core/data/diabetes)
Needs scikit-learn (pip install scikit-learn); reads the files from the installed package.
"""
import gzip
import os
import sys

import numpy as np
import sklearn
from sklearn.model_selection import train_test_split

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "core", "data", "diabetes")
    src = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data")
    with gzip.open(os.path.join(src, "diabetes_data_raw.csv.gz"), "rt") as f:
        x_lines = [ln.split() for ln in f.read().strip().splitlines()]
    with gzip.open(os.path.join(src, "diabetes_target.csv.gz"), "rt") as f:
        y = [float(v) for v in f.read().split()]
    assert len(x_lines) == len(y) == 442 and all(len(r) == 10 for r in x_lines)

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "diabetes.csv"), "w") as f:
        f.write(",".join(FEATURES + ["target"]) + "\n")
        for row, t in zip(x_lines, y):
            f.write(",".join(row) + "," + repr(t) + "\n")

    train, test = train_test_split(np.arange(len(y)), test_size=0.2, random_state=42)
    for name, idx in (("train_idx.txt", train), ("test_idx.txt", test)):
        with open(os.path.join(out, name), "w") as f:
            f.write("\n".join(str(int(i)) for i in idx) + "\n")
    print(f"wrote {out}: 442 rows, {len(train)} train / {len(test)} test "
          f"(scikit-learn {sklearn.__version__})")


if __name__ == "__main__":
    main()
