// mul: out[i] = a[i]·b[i], grid-stride (invocation i takes i, i + stride, ...).
struct Params {
    n: u32,
    stride: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    var i: u32 = gid.x;
    loop {
        if i >= p.n {
            break;
        }
        out[i] = a[i] * b[i];
        i = i + p.stride;
    }
}
