//! Number formatting shared by the report's tables, summaries, plots and comparisons:
//! nanoseconds with a unit, sizes with thousands separators, ratios, and the throughput
//! (GB/s, GFLOP/s) shown for transfers and SGEMM.

/// Mark appended to a noisy cell (coefficient of variation over [`crate::model::NOISY_CV`]).
pub const NOISY_MARK: &str = "†";

/// Formats nanoseconds with three significant digits and a unit (ns, µs, ms, s).
pub fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.digits$} {unit}")
}

/// Formats a size with thousands separators (`1,000,000`).
pub fn fmt_n(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a ratio as `1.23×`: two decimals from 1 to 10, three significant digits
/// below 1 (`0.0412×`), whole numbers from 100.
pub fn fmt_ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else if r >= 0.1 || r == 0.0 {
        format!("{r:.2}×")
    } else {
        let digits = (2.0 - r.log10().floor()) as usize;
        format!("{r:.digits$}×")
    }
}

/// The throughput shown instead of a ratio for ops where a ratio to rust-native means
/// nothing: `h2d`/`d2h` in GB/s (n bytes per call, 10⁹ bytes per GB), `sgemm` in
/// GFLOP/s or TFLOP/s (2·n³ floating-point operations per n×n×n product).
pub fn throughput(op: &str, n: u64, ns: f64) -> Option<String> {
    match op {
        "h2d" | "d2h" => Some(format!("{:.1} GB/s", n as f64 / ns)),
        "sgemm" => {
            let gflops = 2.0 * (n as f64).powi(3) / ns;
            Some(if gflops >= 1000.0 {
                format!("{:.1} TFLOP/s", gflops / 1000.0)
            } else {
                format!("{gflops:.1} GFLOP/s")
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_ns(12.345), "12.3 ns");
        assert_eq!(fmt_ns(1234.0), "1.23 µs");
        assert_eq!(fmt_ns(456_789_000.0), "457 ms");
        assert_eq!(fmt_n(1_000_000), "1,000,000");
        assert_eq!(fmt_n(100), "100");
        assert_eq!(fmt_ratio(0.5), "0.50×");
        assert_eq!(fmt_ratio(0.0412), "0.0412×");
        assert_eq!(fmt_ratio(0.00123), "0.00123×");
        // 1 GiB in 0.1 s: 10.7 GB/s; 4096³ SGEMM in 2 ms: 68.7 TFLOP/s.
        assert_eq!(throughput("h2d", 1 << 30, 1e8).unwrap(), "10.7 GB/s");
        assert_eq!(throughput("sgemm", 4096, 2e6).unwrap(), "68.7 TFLOP/s");
        assert_eq!(throughput("sum", 10, 1.0), None);
    }
}
