// SGEMM: C (m×n) = A (m×k) · B (k×n), row-major f32. 16×16 tiles of A and B in shared
// memory; each invocation computes one C[row, col], adding the products in the order
// p = 0, 1, ..., k−1. Workgroup (x, y) covers columns 16x.. and rows 16y.. .
struct Params {
    m: u32,
    n: u32,
    k: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let row = gid.y;
    let col = gid.x;
    var s: f32 = 0.0;
    let tiles = (p.k + 15u) / 16u;
    for (var t: u32 = 0u; t < tiles; t = t + 1u) {
        let ka = t * 16u + lid.x;
        let kb = t * 16u + lid.y;
        if row < p.m && ka < p.k {
            ta[lid.y][lid.x] = a[row * p.k + ka];
        } else {
            ta[lid.y][lid.x] = 0.0;
        }
        if col < p.n && kb < p.k {
            tb[lid.y][lid.x] = b[kb * p.n + col];
        } else {
            tb[lid.y][lid.x] = 0.0;
        }
        workgroupBarrier();
        for (var q: u32 = 0u; q < 16u; q = q + 1u) {
            s = s + ta[lid.y][q] * tb[q][lid.x];
        }
        workgroupBarrier();
    }
    if row < p.m && col < p.n {
        c[row * p.n + col] = s;
    }
}
