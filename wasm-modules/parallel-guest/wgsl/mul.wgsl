// GPU form of mul_kernel: out = a * b over block thread_id.
// Bindings (host/src/parallel/gpu.rs): 0 the parameters, then the inputs and outputs in the
// order parallel_for lists them. One invocation per thread_id; block thread_id is elements
// [thread_id * block_size, min((thread_id + 1) * block_size, n)).
struct Params {
    num_threads: u32,
    block_size: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f64>;
@group(0) @binding(2) var<storage, read> b: array<f64>;
@group(0) @binding(3) var<storage, read_write> out: array<f64>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let tid = id.x;
    if (tid >= params.num_threads) {
        return;
    }
    let n = arrayLength(&a);
    let start = min(tid * params.block_size, n);
    let end = min(start + params.block_size, n);
    for (var i = start; i < end; i = i + 1u) {
        out[i] = a[i] * b[i];
    }
}
