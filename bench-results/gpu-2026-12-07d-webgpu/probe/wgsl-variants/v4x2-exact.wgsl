// Batch prediction of the C++ forest guest through wasi:webgpu (cpp-guest/webgpu_predict.cpp,
// world offload:forest-webgpu/forest-webgpu): one invocation per row walks every tree,
// sums the row's leaf values exactly, in integers, and divides that sum by the tree count
// with IEEE 754 rounding, so that the guest reads the bits of Forest::predict_cpu (an f64
// sum in tree order, then / trees) as 8 bytes a row instead of one f32 per tree.
// scripts/build-cpp-guest.sh embeds this file in the module.
//
// Why an integer sum gives the f64 sum's bits: every f32 leaf value v is m · 2^e (m an
// integer below 2^24, e its ulp exponent, -149 ≤ e ≤ 104). Let e_lo and e_hi be the least
// and greatest e over the row's non-zero leaves and L = ceil(log2(trees)). Every partial
// sum of the f64 loop is a multiple of 2^e_lo below 2^(e_hi + 24 + L) in magnitude; when
// e_hi + 24 + L − e_lo ≤ 53 each is an f64, so the loop adds without rounding and its
// result is the exact sum k · 2^e_lo, k a 64-bit two's complement integer (|k| < 2^53).
//
// The division (mean_bits): WGSL has no f64, so the quotient |k| / trees is formed by long
// division, one bit at a time in u32 arithmetic, until it has 54 significant bits (53 for
// the mantissa and a guard bit); the remainder says whether anything lies below the guard
// bit (sticky). Rounding to nearest, ties to
// even, on those bits is the one rounding of the CPU's `s / trees` (s exact), so the
// result has its bits. Rows where the bound fails, with an infinite or NaN leaf, or whose
// mean would not be a normal f64 (subnormal) get the quiet NaN 0x7ff8000000000000
// instead, and the guest walks them on the CPU.
//
// The forest is every tree's nodes end to end (child ids relative to the tree's root,
// feature -1 at a leaf, rows with x[feature] <= threshold go left) and each root's index.



struct Params {
  rows: u32,      // rows of x in this dispatch
  trees: u32,     // entries of tree_start
  features: u32,  // values per row of x
  nodes: u32,     // entries of nodes (bounds every walk)
}

@group(0) @binding(1) var<storage, read> nodes: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read> tree_start: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
// Per row: the (low word, high word) of the f64 mean, or of FLAGGED.
@group(0) @binding(4) var<storage, read_write> sums: array<vec2<u32>>;
@group(0) @binding(0) var<uniform> params: Params;

// The leaf value of tree t for the row starting at x[base].
fn leaf(t: u32, base: u32) -> f32 {
  let root = tree_start[t];
  var n = root;
  for (var step = 0u; step < params.nodes; step = step + 1u) {
    let node = nodes[n];
    if (i32(node.x) < 0) {
      break;
    }
    if (x[base + node.x] <= bitcast<f32>(node.y)) {
      n = root + node.z;
    } else {
      n = root + node.w;
    }
  }
  return values[n];
}

// The exponent field of f32 bits (0 subnormal or zero, 255 infinite or NaN).
fn field(b: u32) -> i32 {
  return i32((b >> 23u) & 0xffu);
}

// The ulp exponent e of a non-zero finite f32 with exponent field f: v = m · 2^e.
fn ulp_exp(f: i32) -> i32 {
  return max(f, 1) - 150;
}

// The integer m of a non-zero finite f32 with bits b and exponent field f (m < 2^24).
fn mant(b: u32, f: i32) -> u32 {
  let frac = b & 0x7fffffu;
  if (f == 0) {
    return frac;
  }
  return frac | 0x800000u;
}

// The quiet NaN written for a row the guest must walk on the CPU (low word, high word).
const FLAGGED = vec2<u32>(0u, 0x7ff80000u);

// The index of the highest set bit of the non-zero 64-bit (hi, lo).
fn top_bit(lo: u32, hi: u32) -> u32 {
  if (hi != 0u) {
    return 63u - countLeadingZeros(hi);
  }
  return 31u - countLeadingZeros(lo);
}

// The f64 bits (low word, high word) of k · 2^e / t rounded to nearest, ties to even, for
// k = (hi, lo) in 64-bit two's complement with |k| < 2^53 and 1 ≤ t ≤ 2^31; FLAGGED when
// t is outside that range or the result is not a normal f64.
fn mean_bits(lo_in: u32, hi_in: u32, e: i32, t: u32) -> vec2<u32> {
  if (t == 0u || t > 0x80000000u) {
    return FLAGGED;
  }
  let neg = (hi_in >> 31u) != 0u;
  var ml = lo_in;
  var mh = hi_in;
  if (neg) {
    ml = ~lo_in + 1u;
    mh = ~hi_in + select(0u, 1u, ml == 0u);
  }
  if (ml == 0u && mh == 0u) {
    return vec2<u32>(0u, 0u); // an exact zero sum: +0 (the CPU's 0.0 + … in round to nearest)
  }
  let p = top_bit(ml, mh);
  // Long division of |k| (its bits p … 0, then zeros) by t: rem < t ≤ 2^31 before each
  // shift, so (rem << 1) | bit fits a u32. q = (qh, ql) collects the quotient from its
  // leading 1 on; n counts the bits brought down.
  var rem = 0u;
  var ql = 0u;
  var qh = 0u;
  var got = 0u;
  var n = 0u;
  for (var step = 0u; step < 160u && got < 54u; step = step + 1u) {
    var bit = 0u;
    if (n <= p) {
      let i = p - n;
      bit = select((ml >> (i & 31u)) & 1u, (mh >> (i & 31u)) & 1u, i >= 32u);
    }
    n = n + 1u;
    rem = (rem << 1u) | bit;
    var qbit = 0u;
    if (rem >= t) {
      rem = rem - t;
      qbit = 1u;
    }
    if (got > 0u || qbit == 1u) {
      qh = (qh << 1u) | (ql >> 31u);
      ql = (ql << 1u) | qbit;
      got = got + 1u;
    }
  }
  if (got < 54u) {
    return FLAGGED; // cannot happen for |k| ≥ 1, t ≤ 2^31; kept as a bound on the loop
  }
  // 54 quotient bits take at least 54 bits brought down, more than |k| has (p + 1 ≤ 53),
  // so all of |k| is in: what lies below the guard bit is the remainder's alone.
  let sticky = rem != 0u;
  // q = 2·M + guard, M in [2^52, 2^53): |k| / t = M · 2^(p + 2 − n) (before rounding).
  let guard = (ql & 1u) != 0u;
  var mant_lo = (ql >> 1u) | (qh << 31u);
  var mant_hi = qh >> 1u;
  var exp = i32(p) + 54 - i32(n) + e;
  if (guard && (sticky || (mant_lo & 1u) != 0u)) {
    mant_lo = mant_lo + 1u;
    if (mant_lo == 0u) {
      mant_hi = mant_hi + 1u;
    }
    if (mant_hi == 0x200000u) { // M reached 2^53: 2^52 at the next exponent
      mant_hi = 0x100000u;
      exp = exp + 1;
    }
  }
  let biased = exp + 1023;
  if (biased < 1 || biased > 2046) {
    return FLAGGED;
  }
  let sign = select(0u, 0x80000000u, neg);
  return vec2<u32>(mant_lo, sign | (u32(biased) << 20u) | (mant_hi & 0xfffffu));
}

struct Acc { lo: u32, hi: u32, e_lo: i32, e_hi: i32, any: bool, bad: bool, }

fn add(a: ptr<function, Acc>, b: u32) {
  let f = field(b);
  if (f == 255) { (*a).bad = true; return; }
  if ((b & 0x7fffffffu) == 0u) { return; }
  let e = ulp_exp(f);
  if (!(*a).any) {
    (*a).any = true; (*a).e_lo = e; (*a).e_hi = e;
  } else if (e < (*a).e_lo) {
    let up = u32((*a).e_lo - e);
    if (up > 29u) { (*a).bad = true; return; }
    (*a).hi = ((*a).hi << up) | ((*a).lo >> (32u - up));
    (*a).lo = (*a).lo << up;
    (*a).e_lo = e;
  }
  (*a).e_hi = max((*a).e_hi, e);
  let s = u32(e - (*a).e_lo);
  if (s > 29u) { (*a).bad = true; return; }
  let m = mant(b, f);
  let add_lo = m << s;
  var add_hi = 0u;
  if (s > 0u) { add_hi = m >> (32u - s); }
  if ((b & 0x80000000u) == 0u) {
    let sum_lo = (*a).lo + add_lo;
    (*a).hi = (*a).hi + add_hi + select(0u, 1u, sum_lo < (*a).lo);
    (*a).lo = sum_lo;
  } else {
    let borrow = select(0u, 1u, (*a).lo < add_lo);
    (*a).lo = (*a).lo - add_lo;
    (*a).hi = (*a).hi - add_hi - borrow;
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) { return; }
  let base = row * params.features;
  var acc = Acc(0u, 0u, 0, 0, false, false);
  var t = 0u;
  for (; t + 1u < params.trees && !acc.bad; t = t + 2u) {
    let ra = tree_start[t];
    let rb = tree_start[t + 1u];
    var a = ra;
    var b = rb;
    var da = false;
    var db = false;
    for (var step = 0u; step < params.nodes; step = step + 1u) {
      if (!da) {
        let na = nodes[a];
        if (i32(na.x) < 0) { da = true; } else if (x[base + na.x] <= bitcast<f32>(na.y)) { a = ra + na.z; } else { a = ra + na.w; }
      }
      if (!db) {
        let nb = nodes[b];
        if (i32(nb.x) < 0) { db = true; } else if (x[base + nb.x] <= bitcast<f32>(nb.y)) { b = rb + nb.z; } else { b = rb + nb.w; }
      }
      if (da && db) { break; }
    }
    add(&acc, bitcast<u32>(values[a]));
    add(&acc, bitcast<u32>(values[b]));
  }
  if (t < params.trees && !acc.bad) {
    add(&acc, bitcast<u32>(leaf(t, base)));
  }
  var l = 0;
  if (params.trees > 1u) {
    l = 32 - i32(countLeadingZeros(params.trees - 1u));
  }
  if (acc.bad || acc.e_hi + 24 + l - acc.e_lo > 53) {
    sums[row] = FLAGGED;
    return;
  }
  sums[row] = mean_bits(acc.lo, acc.hi, acc.e_lo, params.trees);
}
