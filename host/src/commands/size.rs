//! The size guard of the commands that allocate from `--n` (`run`, `parallel`): the
//! bytes a run will hold on the host are checked against the memory the machine has
//! available before anything is allocated, so an absurd `--n` is an error naming the
//! size and the limit instead of an allocation failure that aborts the process.

/// `MemAvailable` of `/proc/meminfo` in bytes (Linux); `None` where it cannot be read.
fn memory_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuses a run of `n` elements that needs `vectors` host vectors of `f64` (inputs,
/// reference, result) when their bytes exceed the available memory (or `u64`); `flag`
/// names the option in the message. Where the available memory is unknown, only the
/// `u64` overflow is refused.
///
/// # Errors
/// `--n <n>: <vectors> vectors of <n> f64 need <bytes> bytes (<GB> GB); this machine has
/// <avail> bytes (<GB> GB) available`.
pub fn ensure_host_fits(flag: &str, n: usize, vectors: u64) -> anyhow::Result<()> {
    let bytes = (n as u128) * 8 * u128::from(vectors);
    let gb = |b: u128| b as f64 / 1e9;
    match memory_available() {
        Some(avail) if bytes > u128::from(avail) => anyhow::bail!(
            "{flag} {n}: {vectors} vectors of {n} f64 need {bytes} bytes ({:.1} GB); this machine has {avail} bytes ({:.1} GB) available",
            gb(bytes),
            gb(u128::from(avail))
        ),
        None if bytes > u128::from(u64::MAX) => {
            anyhow::bail!("{flag} {n}: {vectors} vectors of {n} f64 need {bytes} bytes, more than a u64 counts")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_size_is_refused_naming_size_and_limit() {
        let err = ensure_host_fits("--n", usize::MAX, 4)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("--n {}: 4 vectors", usize::MAX)),
            "{err}"
        );
        assert!(err.contains("bytes"), "{err}");
        assert!(ensure_host_fits("--n", 1000, 4).is_ok());
    }
}
