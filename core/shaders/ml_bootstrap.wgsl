// bootstrap-sample: out[t·n_rows + r] = how often row r is drawn among n_rows draws of
// Pcg32::new(seed, 2·(first_tree + t)).below(n_rows) (core/src/rng.rs, forest::bootstrap_counts).
//
// WGSL has no 64-bit integers here, so the PCG32 state (a 64-bit LCG) is a vec2<u32>
// (x = low word, y = high word) with 64-bit multiply-add built from 16-bit halves (mulhi32, in
// mul64.wgsl, which the backend prepends).
// Invocation (t, c) draws the c-th chunk of CHUNK draws of tree t: it seeds the generator,
// jumps ahead c·CHUNK steps (F. Brown, "Random number generation with arbitrary strides",
// Trans. Am. Nucl. Soc. 1994: the LCG's affine map raised to a power by squaring, as
// pcg32_advance_r does), and adds its draws to the counts with atomicAdd, so the counts are
// those of the sequential generator whatever order the chunks run in.
//
// Entry points: `clear` (zero the counts), `draw`.

const CHUNK: u32 = 256u;
const MUL: vec2<u32> = vec2<u32>(0x4c957f2du, 0x5851f42du); // 6364136223846793005

struct Params {
    seed: vec2<u32>,   // seed, low word first
    first_tree: u32,
    n_trees: u32,
    n_rows: u32,
    chunks: u32,       // ceil(n_rows / CHUNK)
    total: u32,        // n_trees · n_rows
    pad: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<atomic<u32>>;
@group(0) @binding(1) var<uniform> p0: vec4<u32>;
@group(0) @binding(2) var<uniform> p1: vec4<u32>;

fn params() -> Params {
    return Params(p0.xy, p0.z, p0.w, p1.x, p1.y, p1.z, p1.w);
}


// a·b mod 2^64.
fn mul64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x * b.x;
    let hi = mulhi32(a.x, b.x) + a.x * b.y + a.y * b.x;
    return vec2<u32>(lo, hi);
}

// a + b mod 2^64.
fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    let carry = select(0u, 1u, lo < a.x);
    return vec2<u32>(lo, a.y + b.y + carry);
}

struct Pcg {
    state: vec2<u32>,
    inc: vec2<u32>,
}

fn next_u32(g: ptr<function, Pcg>) -> u32 {
    let old = (*g).state;
    (*g).state = add64(mul64(old, MUL), (*g).inc);
    // xorshifted = ((old >> 18) ^ old) >> 27, as u32; rot = old >> 59.
    let s18 = vec2<u32>((old.x >> 18u) | (old.y << 14u), old.y >> 18u);
    let v = vec2<u32>(s18.x ^ old.x, s18.y ^ old.y);
    let xorshifted = (v.x >> 27u) | (v.y << 5u);
    let rot = old.y >> 27u;
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

// Pcg32::new(seed, stream) with stream = 2·tree: inc = (stream << 1) | 1 = 4·tree + 1.
fn seeded(seed: vec2<u32>, tree: vec2<u32>) -> Pcg {
    let inc = vec2<u32>((tree.x << 2u) | 1u, (tree.y << 2u) | (tree.x >> 30u));
    var g = Pcg(vec2<u32>(0u, 0u), inc);
    _ = next_u32(&g);
    g.state = add64(g.state, seed);
    _ = next_u32(&g);
    return g;
}

// Advances the generator by `delta` steps.
fn advance(g: ptr<function, Pcg>, delta_in: u32) {
    var delta = delta_in;
    var acc_mult = vec2<u32>(1u, 0u);
    var acc_plus = vec2<u32>(0u, 0u);
    var cur_mult = MUL;
    var cur_plus = (*g).inc;
    while delta > 0u {
        if (delta & 1u) != 0u {
            acc_mult = mul64(acc_mult, cur_mult);
            acc_plus = add64(mul64(acc_plus, cur_mult), cur_plus);
        }
        cur_plus = mul64(add64(cur_mult, vec2<u32>(1u, 0u)), cur_plus);
        cur_mult = mul64(cur_mult, cur_mult);
        delta = delta >> 1u;
    }
    (*g).state = add64(mul64(acc_mult, (*g).state), acc_plus);
}

fn flat(wid: vec3<u32>, lid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid.x;
}

@compute @workgroup_size(64)
fn clear(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let p = params();
    let i = flat(wid, lid, nwg);
    if i < p.total {
        atomicStore(&out[i], 0u);
    }
}

@compute @workgroup_size(64)
fn draw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let p = params();
    let i = flat(wid, lid, nwg);
    if i >= p.n_trees * p.chunks {
        return;
    }
    let t = i / p.chunks;
    let c = i % p.chunks;
    let tree = add64(vec2<u32>(p.first_tree, 0u), vec2<u32>(t, 0u));
    var g = seeded(p.seed, tree);
    let first = c * CHUNK;
    advance(&g, first);
    let end = min(first + CHUNK, p.n_rows);
    let base = t * p.n_rows;
    for (var k = first; k < end; k++) {
        let r = mulhi32(next_u32(&g), p.n_rows);
        atomicAdd(&out[base + r], 1u);
    }
}
