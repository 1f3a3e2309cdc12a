//! Small statistics used by the report: median, coefficient of variation, a
//! distribution-free confidence interval for the median, and the Mann–Whitney U test.

/// Median of `xs` (mean of the two middle values for an even count). NaN for an empty slice.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Coefficient of variation: sample standard deviation (n−1) over the mean. 0 for fewer
/// than two samples.
pub fn cv(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64;
    var.sqrt() / m
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Confidence level actually achieved, in (0, 1).
    pub level: f64,
}

/// P(X ≤ k) for X ~ Binomial(n, 1/2).
fn binom_half_cdf(n: usize, k: usize) -> f64 {
    let mut c = 1.0f64; // C(n, 0)
    let mut acc = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            c = c * (n - i + 1) as f64 / i as f64;
        }
        acc += c;
    }
    acc / 2f64.powi(n as i32)
}

/// Distribution-free confidence interval for the median from order statistics: the
/// interval `[x_(k), x_(n+1−k)]` covers the population median with probability
/// `1 − 2·P(Bin(n, ½) ≤ k−1)` (Hollander & Wolfe, *Nonparametric Statistical Methods*,
/// §3.6; the same construction as benchstat's `benchmath` "assume nothing" summary).
/// The widest `k` that reaches `level` is chosen; with too few samples to reach it
/// (n = 5 reaches at most 93.75 %), the interval is `[min, max]` and `level` reports the
/// coverage actually achieved. `None` for fewer than two samples.
pub fn median_ci(xs: &[f64], level: f64) -> Option<Interval> {
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let mut best = (1usize, 1.0 - 2.0 * binom_half_cdf(n, 0));
    for k in 1..=n / 2 {
        let cover = 1.0 - 2.0 * binom_half_cdf(n, k - 1);
        if cover >= level {
            best = (k, cover);
        } else {
            break;
        }
    }
    let (k, cover) = best;
    Some(Interval {
        low: v[k - 1],
        high: v[n - k],
        level: cover,
    })
}

/// Result of a two-sided Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample (number of pairs with x > y, ties counting ½).
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Whether the exact null distribution was used (else the normal approximation).
    pub exact: bool,
}

/// Two-sided Mann–Whitney U test (Mann & Whitney, 1947, "On a test of whether one of two
/// random variables is stochastically larger than the other", Ann. Math. Statist. 18).
/// Without ties and with both samples of at most 30 values, the p-value comes from the
/// exact null distribution of U (counted by the recurrence of Mann & Whitney §2);
/// otherwise from the normal approximation with tie correction and continuity
/// correction (Hollander & Wolfe, §4.1). This is also what benchstat uses to decide
/// whether a change is significant. Returns p = 1 when either sample is empty.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> MannWhitney {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return MannWhitney {
            u: 0.0,
            p: 1.0,
            exact: false,
        };
    }
    // Rank the pooled sample, average ranks for ties.
    let mut pooled: Vec<(f64, usize)> = x
        .iter()
        .map(|&v| (v, 0))
        .chain(y.iter().map(|&v| (v, 1)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pooled.len();
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0; // Σ (t³ − t)
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for rank in ranks.iter_mut().take(j + 1).skip(i) {
            *rank = r;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let r1: f64 = pooled
        .iter()
        .zip(&ranks)
        .filter(|(p, _)| p.1 == 0)
        .map(|(_, r)| r)
        .sum();
    let u1 = r1 - (n1 * (n1 + 1)) as f64 / 2.0;
    let (f1, f2) = (n1 as f64, n2 as f64);
    let mu = f1 * f2 / 2.0;
    if tie_term == 0.0 && n1 <= 30 && n2 <= 30 {
        let dist = u_distribution(n1, n2);
        let total: f64 = dist.iter().sum();
        let u_small = u1.min(f1 * f2 - u1).round() as usize;
        let tail: f64 = dist[..=u_small].iter().sum::<f64>() / total;
        return MannWhitney {
            u: u1,
            p: (2.0 * tail).min(1.0),
            exact: true,
        };
    }
    let nf = f1 + f2;
    let var = f1 * f2 / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    if var <= 0.0 {
        // Every value equal: no evidence of a difference.
        return MannWhitney {
            u: u1,
            p: 1.0,
            exact: false,
        };
    }
    let z = ((u1 - mu).abs() - 0.5).max(0.0) / var.sqrt();
    MannWhitney {
        u: u1,
        p: (2.0 * normal_sf(z)).min(1.0),
        exact: false,
    }
}

/// Counts of arrangements giving each U = 0..=n1·n2 under the null hypothesis:
/// N(u; m, n) = N(u − n; m − 1, n) + N(u; m, n − 1).
fn u_distribution(n1: usize, n2: usize) -> Vec<f64> {
    // table[m][n] is the distribution for sizes (m, n); built row by row.
    let max_u = n1 * n2;
    let mut prev: Vec<Vec<f64>> = (0..=n2).map(|_| vec![1.0]).collect(); // m = 0: U = 0 only
    for m in 1..=n1 {
        let mut cur: Vec<Vec<f64>> = Vec::with_capacity(n2 + 1);
        cur.push(vec![1.0]); // n = 0
        for n in 1..=n2 {
            let mut d = vec![0.0; m * n + 1];
            // Largest value from the first sample: it exceeds all n of the second.
            for (u, c) in prev[n].iter().enumerate() {
                d[u + n] += c;
            }
            for (u, c) in cur[n - 1].iter().enumerate() {
                d[u] += c;
            }
            cur.push(d);
        }
        prev = cur;
    }
    let mut out = prev.swap_remove(n2);
    out.resize(max_u + 1, 0.0);
    out
}

/// Upper tail of the standard normal, via the complementary error function
/// (Chebyshev approximation `erfcc` of Numerical Recipes in C, 2nd ed., §6.2,
/// fractional error below 1.2e-7).
fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_cv() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(cv(&[5.0, 5.0, 5.0]), 0.0);
        // sd of 1,2,3 is 1, mean 2
        assert!((cv(&[1.0, 2.0, 3.0]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn ci_five_samples_is_min_max_at_93_75() {
        let ci = median_ci(&[5.0, 1.0, 4.0, 2.0, 3.0], 0.95).unwrap();
        assert_eq!((ci.low, ci.high), (1.0, 5.0));
        assert!((ci.level - 0.9375).abs() < 1e-12);
        // 20 samples: k = 6 gives 95.86 % (Hollander & Wolfe table A.1 style check).
        let xs: Vec<f64> = (1..=20).map(f64::from).collect();
        let ci = median_ci(&xs, 0.95).unwrap();
        assert_eq!((ci.low, ci.high), (6.0, 15.0));
        assert!(ci.level > 0.95 && ci.level < 0.96);
    }

    #[test]
    fn exact_u_distribution_known_values() {
        // n1 = n2 = 5: 252 arrangements, P(U = 0) = 1/252.
        let d = u_distribution(5, 5);
        assert_eq!(d.iter().sum::<f64>(), 252.0);
        assert_eq!(d[0], 1.0);
        let r = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]);
        assert!(r.exact);
        assert!((r.p - 2.0 / 252.0).abs() < 1e-12);
    }

    #[test]
    fn normal_approximation_agrees_roughly() {
        assert!((normal_sf(1.959_964) - 0.025).abs() < 1e-6);
        let x: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let y: Vec<f64> = (0..40).map(|i| i as f64 + 0.5).collect();
        let r = mann_whitney(&x, &y);
        assert!(!r.exact && r.p > 0.5);
    }
}
