// Batch prediction of the C++ forest guest through wasi:webgpu (cpp-guest/webgpu_predict.cpp,
// world offload:forest-webgpu/forest-webgpu): one invocation per row walks every tree and
// sums the row's leaf values exactly, in integers, so that the guest gets the bits of
// Forest::predict_cpu (an f64 sum in tree order, then / trees) from 16 bytes a row instead
// of one f32 per tree. scripts/build-cpp-guest.sh embeds this file in the module.
//
// Why an integer sum gives the f64 sum's bits: every f32 leaf value v is m · 2^e (m an
// integer below 2^24, e its ulp exponent, -149 ≤ e ≤ 104). Let e_lo and e_hi be the least
// and greatest e over the row's non-zero leaves and L = ceil(log2(trees)). Every partial
// sum of the f64 loop is a multiple of 2^e_lo below 2^(e_hi + 24 + L) in magnitude; when
// e_hi + 24 + L − e_lo ≤ 53 each is an f64, so the loop adds without rounding and its
// result is the exact sum. The shader then writes that sum as a 64-bit two's complement
// integer k (|k| < 2^53) with sum = k · 2^e_lo, and the guest forms it as
// ldexp(double(k), e_lo) — exact. Rows where the bound fails, or with an infinite or NaN
// leaf, are flagged and the guest walks them on the CPU instead.
//
// The forest is every tree's nodes end to end (child ids relative to the tree's root,
// feature -1 at a leaf, rows with x[feature] <= threshold go left) and each root's index.

struct Node {
  feature: i32,
  threshold: f32,
  left: i32,
  right: i32,
  value: f32,
}

struct Params {
  rows: u32,      // rows of x in this dispatch
  trees: u32,     // entries of tree_start
  features: u32,  // values per row of x
  nodes: u32,     // entries of nodes (bounds every walk)
}

@group(0) @binding(0) var<storage, read> nodes: array<Node>;
@group(0) @binding(1) var<storage, read> tree_start: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
// Per row: (low word, high word) of k, bitcast<u32>(e_lo), and 1 when the row is flagged.
@group(0) @binding(3) var<storage, read_write> sums: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> params: Params;

// The leaf value of tree t for the row starting at x[base].
fn leaf(t: u32, base: u32) -> f32 {
  let root = tree_start[t];
  var n = root;
  // A tree's children come after their parent, so a walk takes fewer steps than there
  // are nodes; the bound only keeps a malformed forest from hanging the device.
  for (var step = 0u; step < params.nodes; step = step + 1u) {
    let node = nodes[n];
    if (node.feature < 0) {
      break;
    }
    if (x[base + u32(node.feature)] <= node.threshold) {
      n = root + u32(node.left);
    } else {
      n = root + u32(node.right);
    }
  }
  return nodes[n].value;
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

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.features;
  // One walk per tree; k = Σ ±m · 2^(e − e_lo) in 64-bit two's complement (lo, hi), e_lo
  // the least e so far (k shifted left when it falls). When the row passes the final
  // bound, |k| stays below 2^53 throughout (each partial sum is bounded as the whole), so
  // nothing overflows; a shift above 29 means the bound fails, and the row is flagged.
  var lo = 0u;
  var hi = 0u;
  var e_lo = 0;
  var e_hi = 0;
  var any = false;
  var bad = false;
  for (var t = 0u; t < params.trees; t = t + 1u) {
    let b = bitcast<u32>(leaf(t, base));
    let f = field(b);
    if (f == 255) {
      bad = true;
      break;
    }
    if ((b & 0x7fffffffu) == 0u) {
      continue;
    }
    let e = ulp_exp(f);
    if (!any) {
      any = true;
      e_lo = e;
      e_hi = e;
    } else if (e < e_lo) {
      let up = u32(e_lo - e);
      if (up > 29u) {
        bad = true;
        break;
      }
      hi = (hi << up) | (lo >> (32u - up));
      lo = lo << up;
      e_lo = e;
    }
    e_hi = max(e_hi, e);
    let s = u32(e - e_lo);
    if (s > 29u) {
      bad = true;
      break;
    }
    let m = mant(b, f);
    let add_lo = m << s;
    var add_hi = 0u;
    if (s > 0u) {
      add_hi = m >> (32u - s);
    }
    if ((b & 0x80000000u) == 0u) {
      let sum_lo = lo + add_lo;
      hi = hi + add_hi + select(0u, 1u, sum_lo < lo);
      lo = sum_lo;
    } else {
      let borrow = select(0u, 1u, lo < add_lo);
      lo = lo - add_lo;
      hi = hi - add_hi - borrow;
    }
  }
  var l = 0;
  if (params.trees > 1u) {
    l = 32 - i32(countLeadingZeros(params.trees - 1u));
  }
  if (bad || e_hi + 24 + l - e_lo > 53) {
    sums[row] = vec4<u32>(0u, 0u, 0u, 1u);
    return;
  }
  // Every leaf zero: k = 0 and e_lo = 0, the sum +0.
  sums[row] = vec4<u32>(lo, hi, bitcast<u32>(e_lo), 0u);
}
