// GPU form of scale_kernel: out = s * a over the blocks of this workgroup's thread ids
// (s: a one-element buffer; prelude.wgsl in front; strided by WG for coalesced access).
@group(0) @binding(1) var<storage, read> s: array<f64>;
@group(0) @binding(2) var<storage, read> a: array<f64>;
@group(0) @binding(3) var<storage, read_write> out: array<f64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) l: u32) {
    let r = group_span(group.x, arrayLength(&a));
    let k = s[0];
    for (var i = r.x + l; i < r.y; i = i + WG) {
        out[i] = k * a[i];
    }
}
