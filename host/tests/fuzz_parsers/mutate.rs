//! A small mutator for text inputs (a seed corpus entry in, a mutated copy out): byte
//! flips, deletions, duplications, insertions of dictionary tokens and of odd bytes,
//! interesting numbers in place of digit runs, truncation and splices of two entries.

use rand::{Rng, RngCore};

/// Tokens worth inserting into WAVE calls, benchmark names, log lines and JSON.
pub const DICTIONARY: &[&str] = &[
    "(",
    ")",
    ",",
    "\"",
    "\\",
    "'",
    "{",
    "}",
    "[",
    "]",
    ":",
    "/",
    "=",
    "-",
    "+",
    ".",
    "e",
    "0x",
    "%",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\0",
    "\u{10ffff}",
    "\u{1f600}",
    "some(",
    "none",
    "ok(",
    "err(",
    "true",
    "false",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "null",
    "Benchmark",
    "path=",
    "n=",
    "family=",
    "dtype=",
    "SKIP ",
    "--- SKIP: ",
    "--- FAIL: ",
    "DEVICE ",
    "threads ",
    " ns/op",
    " B/op",
    " allocs/op",
    "gpu-wgpu",
    "rust-native-par",
    "\"peer\": ",
    "\"train_ms\": ",
    "panicked at ",
];

/// Numbers that sit on a limit.
pub const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "255",
    "256",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "1e308",
    "1e309",
    "-1e309",
    "5e-324",
    "0.0",
    "-0.0",
    "1.5",
    "NaN",
    "inf",
];

/// Returns a mutated copy of `input`; `other` is a second corpus entry for splices.
pub fn mutate(rng: &mut impl RngCore, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = |rng: &mut dyn RngCore, len: usize| rng.random_range(0..=len);
        match rng.random_range(0..9) {
            0 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] = rng.random();
            }
            1 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                let j = (i + rng.random_range(1..=8)).min(b.len());
                b.drain(i..j);
            }
            2 => {
                let t = DICTIONARY[rng.random_range(0..DICTIONARY.len())];
                let i = at(rng, b.len());
                b.splice(i..i, t.bytes());
            }
            3 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                let j = (i + rng.random_range(1..=16)).min(b.len());
                let piece = b[i..j].to_vec();
                let k = at(rng, b.len());
                b.splice(k..k, piece);
            }
            4 => replace_number(rng, &mut b),
            5 => {
                let i = at(rng, b.len());
                let n = rng.random_range(1..=4);
                let odd: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                b.splice(i..i, odd);
            }
            6 => {
                let i = at(rng, b.len());
                b.truncate(i);
            }
            7 => {
                let i = at(rng, b.len());
                let j = rng.random_range(0..=other.len());
                b.truncate(i);
                b.extend_from_slice(&other[j..]);
            }
            _ => replace_number(rng, &mut b),
        }
    }
    b
}

/// Replaces one run of ASCII digits by one of [`NUMBERS`].
fn replace_number(rng: &mut impl RngCore, b: &mut Vec<u8>) {
    let runs: Vec<(usize, usize)> = {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let s = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push((s, i));
            } else {
                i += 1;
            }
        }
        runs
    };
    if runs.is_empty() {
        return;
    }
    let (s, e) = runs[rng.random_range(0..runs.len())];
    let n = NUMBERS[rng.random_range(0..NUMBERS.len())];
    b.splice(s..e, n.bytes());
}
