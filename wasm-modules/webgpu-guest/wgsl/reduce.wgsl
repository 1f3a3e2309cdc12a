// sum and dot: one partial sum per workgroup of 256 invocations. Invocation i of the grid
// adds elements i, i + stride, i + 2·stride, ... (stride = the grid's invocations), then the
// workgroup adds its 256 values as a tree in shared memory; partials[w] = workgroup w's
// sum. `DOT` (an override constant) multiplies by b first. The guest adds the partials.
override DOT: bool = false;

struct Params {
    n: u32,
    stride: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> acc: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    var s: f32 = 0.0;
    var i: u32 = gid.x;
    loop {
        if i >= p.n {
            break;
        }
        if DOT {
            s = s + a[i] * b[i];
        } else {
            s = s + a[i];
        }
        i = i + p.stride;
    }
    acc[lid] = s;
    workgroupBarrier();
    var half: u32 = 128u;
    loop {
        if half == 0u {
            break;
        }
        if lid < half {
            acc[lid] = acc[lid] + acc[lid + half];
        }
        workgroupBarrier();
        half = half / 2u;
    }
    if lid == 0u {
        partials[wid.x] = acc[0];
    }
}
