// GPU form of sum_kernel: partial[thread_id] = sum of a over block thread_id (prelude.wgsl
// in front).
@group(0) @binding(1) var<storage, read> a: array<f64>;
@group(0) @binding(2) var<storage, read_write> partial: array<f64>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let r = block(id.x, arrayLength(&a));
    if (id.x >= params.num_threads) {
        return;
    }
    var s: f64 = f64(0.0);
    for (var i = r.x; i < r.y; i = i + 1u) {
        s = s + a[i];
    }
    partial[id.x] = s;
}
