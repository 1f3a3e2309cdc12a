// Shared head of every kernel of this guest; scripts/build-parallel-guest.sh puts it in
// front of <op>.wgsl before `offload attach-kernel`, so each attached section is one whole
// shader. Bindings (host/src/parallel/gpu.rs): 0 the parameters, then the inputs and
// outputs in the order parallel_for lists them. One invocation per thread_id; block
// thread_id is elements [thread_id * block_size, min((thread_id + 1) * block_size, n)).
// Every kernel is `@workgroup_size(64)` (WG).
struct Params {
    num_threads: u32,
    block_size: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

const WG: u32 = 64u;

// Block `tid` of n elements as [start, end); empty for tid >= num_threads.
fn block(tid: u32, n: u32) -> vec2<u32> {
    if (tid >= params.num_threads) {
        return vec2<u32>(n, n);
    }
    let start = min(tid * params.block_size, n);
    return vec2<u32>(start, min(start + params.block_size, n));
}

// The blocks of workgroup `group` (thread ids [group * WG, (group + 1) * WG)) as one
// contiguous range [start, end): element-wise kernels stride it by WG from their local
// index, so neighbouring invocations touch neighbouring elements (coalesced) and every
// element of every block is written exactly once.
fn group_span(group: u32, n: u32) -> vec2<u32> {
    let first = block(group * WG, n);
    let last_tid = min(group * WG + WG, params.num_threads);
    if (last_tid <= group * WG) {
        return vec2<u32>(n, n);
    }
    let last = block(last_tid - 1u, n);
    return vec2<u32>(first.x, last.y);
}
