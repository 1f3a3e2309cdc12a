//! Regression data: the diabetes data set shipped with offload, a strict CSV loader,
//! and generated Friedman #1 data for scaling runs.
//!
//! A [`Dataset`] is row-major: `x` holds `n_rows × n_features` `f32` values, `y` holds
//! `n_rows` `f64` targets.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use thiserror::Error;

use crate::rng::Pcg32;

/// A regression data set, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Feature names, `n_features` of them.
    pub feature_names: Vec<String>,
    /// Features, `n_rows × n_features`, row-major.
    pub x: Vec<f32>,
    /// Targets, `n_rows`.
    pub y: Vec<f64>,
    /// Number of rows.
    pub n_rows: usize,
    /// Number of features per row.
    pub n_features: usize,
}

/// Why a CSV file or an index list was rejected. Lines and columns count from 1.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DataError {
    /// The file has no header or no data rows.
    #[error("{file}: empty file (need a header line and at least one data row)")]
    Empty {
        /// File name as given to the loader.
        file: String,
    },
    /// A row has a different number of fields than the header.
    #[error("{file}:{line}: expected {expected} columns, found {got}")]
    ColumnCount {
        /// File name.
        file: String,
        /// Line number.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields in this row.
        got: usize,
    },
    /// A field is not a finite number.
    #[error("{file}:{line}:{column}: {text:?} is not a finite number")]
    NotANumber {
        /// File name.
        file: String,
        /// Line number.
        line: usize,
        /// Column number.
        column: usize,
        /// The offending field.
        text: String,
    },
    /// The header has fewer than two columns (at least one feature and the target).
    #[error("{file}:1: need at least one feature column and a target column")]
    TooFewColumns {
        /// File name.
        file: String,
    },
    /// An index list names a row that does not exist, or is malformed.
    #[error("{file}:{line}: {msg}")]
    BadIndex {
        /// File name.
        file: String,
        /// Line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
}

impl Dataset {
    /// Row `i` as a slice of `n_features` values.
    ///
    /// # Panics
    /// When `i >= n_rows`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.n_features..(i + 1) * self.n_features]
    }

    /// The rows named by `idx`, in that order.
    ///
    /// # Panics
    /// When an index is `>= n_rows` (indices from [`parse_index_list`] are checked).
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let mut x = Vec::with_capacity(idx.len() * self.n_features);
        let mut y = Vec::with_capacity(idx.len());
        for &i in idx {
            x.extend_from_slice(self.row(i));
            y.push(self.y[i]);
        }
        Dataset {
            feature_names: self.feature_names.clone(),
            x,
            y,
            n_rows: idx.len(),
            n_features: self.n_features,
        }
    }
}

/// Parses a comma-separated file with a header line; the last column is the target,
/// the others are features. Blank lines are skipped; every other line must have as
/// many fields as the header and every field must be a finite number.
///
/// `file` names the source in error messages.
///
/// # Errors
/// [`DataError`] naming the file, line and column of the first problem.
pub fn parse_csv(file: &str, text: &str) -> Result<Dataset, DataError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| DataError::Empty {
        file: file.to_string(),
    })?;
    let names: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
    if names.len() < 2 {
        return Err(DataError::TooFewColumns {
            file: file.to_string(),
        });
    }
    let d = names.len() - 1;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (line, l) in lines {
        let fields: Vec<&str> = l.split(',').collect();
        if fields.len() != names.len() {
            return Err(DataError::ColumnCount {
                file: file.to_string(),
                line,
                expected: names.len(),
                got: fields.len(),
            });
        }
        for (c, f) in fields.iter().enumerate() {
            let v: f64 = f
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| DataError::NotANumber {
                    file: file.to_string(),
                    line,
                    column: c + 1,
                    text: f.to_string(),
                })?;
            if c < d {
                x.push(v as f32);
            } else {
                y.push(v);
            }
        }
    }
    if y.is_empty() {
        return Err(DataError::Empty {
            file: file.to_string(),
        });
    }
    let mut feature_names = names;
    feature_names.pop();
    Ok(Dataset {
        feature_names,
        n_rows: y.len(),
        n_features: d,
        x,
        y,
    })
}

/// Parses a list of row indices, one per line, each `< n_rows`.
///
/// # Errors
/// [`DataError::BadIndex`] naming the file and line; [`DataError::Empty`] when there
/// are none.
pub fn parse_index_list(file: &str, text: &str, n_rows: usize) -> Result<Vec<usize>, DataError> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() {
            continue;
        }
        let bad = |msg: String| DataError::BadIndex {
            file: file.to_string(),
            line: i + 1,
            msg,
        };
        let v: usize = l
            .parse()
            .map_err(|_| bad(format!("{l:?} is not a row index")))?;
        if v >= n_rows {
            return Err(bad(format!(
                "row {v} out of range (the data has {n_rows} rows)"
            )));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(DataError::Empty {
            file: file.to_string(),
        });
    }
    Ok(out)
}

/// The diabetes data set of Efron, Hastie, Johnstone and Tibshirani (2004), "Least
/// Angle Regression", Annals of Statistics 32(2): 442 patients × 10 raw (unscaled)
/// features (age, sex, bmi, bp, s1..s6) and the disease progression one year later.
/// Taken from scikit-learn's wheel by `scripts/make_diabetes_data.py`; compiled in.
pub fn diabetes() -> Dataset {
    parse_csv(
        "core/data/diabetes/diabetes.csv",
        include_str!("../data/diabetes/diabetes.csv"),
    )
    .expect("the shipped diabetes.csv is valid (checked by a test)")
}

/// The 80/20 split `(train, test)` of [`diabetes`] that scikit-learn's
/// `train_test_split(test_size=0.2, random_state=42)` gives: 353 and 89 row indices.
pub fn diabetes_split() -> (Vec<usize>, Vec<usize>) {
    let n = 442;
    let tr = parse_index_list(
        "core/data/diabetes/train_idx.txt",
        include_str!("../data/diabetes/train_idx.txt"),
        n,
    );
    let te = parse_index_list(
        "core/data/diabetes/test_idx.txt",
        include_str!("../data/diabetes/test_idx.txt"),
        n,
    );
    (
        tr.expect("the shipped train_idx.txt is valid (checked by a test)"),
        te.expect("the shipped test_idx.txt is valid (checked by a test)"),
    )
}

/// [`diabetes`] split by [`diabetes_split`]: `(train, test)` datasets of 353 and 89 rows
/// × 10 features.
pub fn diabetes_train_test() -> (Dataset, Dataset) {
    let d = diabetes();
    let (tr, te) = diabetes_split();
    (d.subset(&tr), d.subset(&te))
}

/// Friedman #1 regression data (J. H. Friedman, "Multivariate Adaptive Regression
/// Splines", Annals of Statistics 19(1), 1991; as in scikit-learn's
/// `make_friedman1`): `n_features >= 5` features uniform in \[0, 1), of which the first
/// five matter: y = 10·sin(π·x₀·x₁) + 20·(x₂ − 0.5)² + 10·x₃ + 5·x₄ + noise·N(0, 1).
/// Deterministic for a given `seed` (PCG32, normal deviates by Box–Muller; `libm`
/// supplies the transcendental functions so this also builds for `no_std`).
///
/// # Panics
/// When `n_features < 5`.
pub fn friedman1(n_rows: usize, n_features: usize, noise: f64, seed: u64) -> Dataset {
    assert!(n_features >= 5, "Friedman #1 needs at least 5 features");
    let mut rng = Pcg32::new(seed, 0xf1);
    let mut x = Vec::with_capacity(n_rows * n_features);
    let mut y = Vec::with_capacity(n_rows);
    for _ in 0..n_rows {
        let start = x.len();
        for _ in 0..n_features {
            x.push(rng.next_f32());
        }
        let r = &x[start..];
        let (x0, x1, x2, x3, x4) = (
            r[0] as f64,
            r[1] as f64,
            r[2] as f64,
            r[3] as f64,
            r[4] as f64,
        );
        let u1 = rng.next_f64().max(f64::MIN_POSITIVE);
        let u2 = rng.next_f64();
        let z = libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2);
        y.push(
            10.0 * libm::sin(core::f64::consts::PI * x0 * x1)
                + 20.0 * (x2 - 0.5) * (x2 - 0.5)
                + 10.0 * x3
                + 5.0 * x4
                + noise * z,
        );
    }
    Dataset {
        feature_names: (0..n_features).map(|i| format!("x{i}")).collect(),
        x,
        y,
        n_rows,
        n_features,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_diabetes_data_and_split() {
        let d = diabetes();
        assert_eq!((d.n_rows, d.n_features), (442, 10));
        assert_eq!(d.feature_names[2], "bmi");
        assert_eq!(d.row(0)[0], 59.0);
        assert_eq!(d.y[0], 151.0);
        let (tr, te) = diabetes_split();
        assert_eq!((tr.len(), te.len()), (353, 89));
        let mut all: Vec<usize> = tr.iter().chain(&te).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            442,
            "train and test are disjoint and cover every row"
        );
    }

    #[test]
    fn malformed_csv_names_file_line_and_column() {
        let e = parse_csv("f.csv", "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.csv: empty file (need a header line and at least one data row)"
        );
        let e = parse_csv("f.csv", "a,b,y\n1,2,3\n1,2\n").unwrap_err();
        assert_eq!(e.to_string(), "f.csv:3: expected 3 columns, found 2");
        let e = parse_csv("f.csv", "a,b,y\n1,2,3\n1,zz,3\n").unwrap_err();
        assert_eq!(e.to_string(), "f.csv:3:2: \"zz\" is not a finite number");
        let e = parse_csv("f.csv", "a,b,y\n1,NaN,3\n").unwrap_err();
        assert!(matches!(
            e,
            DataError::NotANumber {
                line: 2,
                column: 2,
                ..
            }
        ));
        assert!(matches!(
            parse_csv("f.csv", "a,b,y\n"),
            Err(DataError::Empty { .. })
        ));
        let e = parse_index_list("i.txt", "1\n9\n", 5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "i.txt:2: row 9 out of range (the data has 5 rows)"
        );
    }

    #[test]
    fn friedman1_is_deterministic_and_sane() {
        let a = friedman1(500, 10, 1.0, 3);
        assert_eq!(a, friedman1(500, 10, 1.0, 3));
        assert_ne!(a.y, friedman1(500, 10, 1.0, 4).y);
        let mean = a.y.iter().sum::<f64>() / 500.0;
        // E[y] = 10·E[sin(π x0 x1)] + 20/12 + 5 + 2.5 ≈ 14.4
        assert!((12.0..17.0).contains(&mean), "mean {mean}");
    }
}
