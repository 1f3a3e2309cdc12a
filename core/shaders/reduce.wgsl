// Tree reduction (sum, min, max, dot) in two passes, after Harris, "Optimizing Parallel
// Reduction in CUDA" (NVIDIA, 2007): pass 1 runs G workgroups of 256 invocations, each
// invocation folding a grid-stride slice of the input with 4 independent accumulators
// (so that 4 loads are in flight), then the workgroup folds its 256 values in workgroup
// memory and writes one partial; pass 2 is the same entry point over the G partials with
// one workgroup.
//
// The host prepends `alias T = f32;` (or f64) and replaces three placeholders:
//   COMBINE(x, y)  sum: x + y;  min: min(x, y);  max: max(x, y)
//   LOAD(i)        sum/min/max: a[i];  dot: a[i] * b[i]
//   IDENTITY       sum/dot: T(0);  min/max: LOAD(0u) (min and max are idempotent, and
//                  n >= 1 always, so the first element is a neutral start)
//
// Bindings: a, b (read-only inputs; b is a again for one-input ops), out (one value per
// workgroup), params { n: elements, pad }.

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<T>;
@group(0) @binding(1) var<storage, read> b: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> sh: array<T, 256>;

fn combine(x: T, y: T) -> T {
    return COMBINE;
}

fn load(i: u32) -> T {
    return LOAD;
}

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let n = params.n;
    let stride = nwg.x * 256u;
    var i = wid.x * 256u + lid.x;
    let start = IDENTITY;
    var acc0 = start;
    var acc1 = start;
    var acc2 = start;
    var acc3 = start;
    // n < 2^31 and stride <= 2^20, so i + 4 * stride never wraps.
    loop {
        if i + 3u * stride >= n {
            break;
        }
        acc0 = combine(acc0, load(i));
        acc1 = combine(acc1, load(i + stride));
        acc2 = combine(acc2, load(i + 2u * stride));
        acc3 = combine(acc3, load(i + 3u * stride));
        i += 4u * stride;
    }
    loop {
        if i >= n {
            break;
        }
        acc0 = combine(acc0, load(i));
        i += stride;
    }
    sh[lid.x] = combine(combine(acc0, acc1), combine(acc2, acc3));
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if lid.x < s {
            sh[lid.x] = combine(sh[lid.x], sh[lid.x + s]);
        }
        workgroupBarrier();
    }
    if lid.x == 0u {
        out[wid.x] = sh[0];
    }
}
