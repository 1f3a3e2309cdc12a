// Helpers prepended by the wgpu backend to the shaders that need 64-bit products (WGSL has
// no 64-bit integers): ml_bootstrap.wgsl (PCG32's state) and ml_hist.wgsl (Σ w·yq).

// High 32 bits of the 64-bit product a·b (from 16-bit halves).
fn mulhi32(a: u32, b: u32) -> u32 {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}
