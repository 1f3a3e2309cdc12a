// Element-wise kernels: out[i] = f(a[i], b[i]) for i < n, one invocation per element in
// a grid-stride loop (the dispatch is capped at 65535 workgroups of 256).
//
// The host prepends `alias T = f32;` (or f64). Entry points: mul, add, scale, relu.
// Bindings are all read_write storage so that `out` may be `a` or `b` (in place): wgpu
// allows one buffer in several writable bindings of a dispatch, not read-only and writable
// together. For unary ops the host binds a in place of b.

struct Params {
    scalar: T,
    n: u32,
}

@group(0) @binding(0) var<storage, read_write> a: array<T>;
@group(0) @binding(1) var<storage, read_write> b: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
@group(0) @binding(3) var<uniform> params: Params;

fn first(wid: vec3<u32>, lid: vec3<u32>) -> u32 {
    return wid.x * 256u + lid.x;
}

@compute @workgroup_size(256)
fn mul(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
       @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = first(wid, lid); i < params.n; i += nwg.x * 256u) {
        out[i] = a[i] * b[i];
    }
}

@compute @workgroup_size(256)
fn add(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
       @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = first(wid, lid); i < params.n; i += nwg.x * 256u) {
        out[i] = a[i] + b[i];
    }
}

@compute @workgroup_size(256)
fn scale(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = first(wid, lid); i < params.n; i += nwg.x * 256u) {
        out[i] = params.scalar * a[i];
    }
}

@compute @workgroup_size(256)
fn relu(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = first(wid, lid); i < params.n; i += nwg.x * 256u) {
        let x = a[i];
        // select keeps NaN (x > 0 is false for NaN, x != x is true).
        out[i] = select(T(0), x, x > T(0) || x != x);
    }
}
