/*
 * offload C vector guest: the vector-guest ABI v2 (see README.md, "The vector guest
 * ABI") written in freestanding C, independently of the Rust guest and of
 * offload-core.
 *
 * Memory model: three static f64 buffers (a, b, result) of CAPACITY elements each
 * live in the module's linear memory at fixed, 16-byte-aligned byte offsets that the
 * host reads once through get_*_offset(). The host writes inputs into a and b, calls
 * an op with a length in elements, and reads the result (a return value, or the
 * result buffer for mul and scale). A length that is negative or greater than
 * CAPACITY executes `unreachable` (__builtin_trap), which the host sees as a trap; the
 * instance stays usable afterwards because no state is touched before the check.
 *
 * Build (scripts/build-c-guest.sh): Debian clang + lld,
 *   clang --target=wasm32 -nostdlib -O3 -msimd128 -Wl,--no-entry ...
 * No libc, no WASI: the module imports nothing and exports only the ABI (memory and
 * the eleven functions below). Floating point is strict IEEE-754 (no -ffast-math, and
 * -ffp-contract=off so that `s += a*b` is never fused into a multiply-add), and NaN /
 * +-Inf propagate through every op.
 *
 * Families (docs/benchmarks.md): `sum` and `dot` are strict: scalar loops that add
 * strictly left to right, giving the same bits as offload-core's vector::sum / dot.
 * `sum_simd` and `dot_simd` are fast: 128-bit wasm SIMD (f64x2) through clang's
 * <wasm_simd128.h>, with independent f64x2 accumulators (eight in sum_simd, four in
 * dot_simd) so that consecutive vector adds do not wait on each other's latency, combined pairwise,
 * then the scalar tail; their order differs from the strict ops, so they agree with
 * them only to a relative tolerance. mul and scale use f64x2 too (one rounding per
 * element: the same bits in any order).
 */

#include <wasm_simd128.h>

/** ABI version implemented by this module. */
#define ABI_VERSION 2
/** Elements (f64) in each of the three buffers. */
#define CAPACITY 100000

#define EXPORT(name) __attribute__((export_name(name)))

/* Zero-initialised statics: placed in .bss, never moved. 16-byte alignment satisfies the
 * ABI's 8-byte requirement and keeps every f64x2 load on a natural boundary. */
static double buf_a[CAPACITY] __attribute__((aligned(16)));
static double buf_b[CAPACITY] __attribute__((aligned(16)));
static double buf_result[CAPACITY] __attribute__((aligned(16)));

/** Returns len as an element count, trapping (wasm `unreachable`) when len < 0 or
 * len > CAPACITY. */
static inline unsigned checked_len(int len) {
    if (len < 0 || len > CAPACITY) {
        __builtin_trap();
    }
    return (unsigned)len;
}

/** Sum of the two lanes of an f64x2, lane 0 first. */
static inline double hsum(v128_t v) {
    return wasm_f64x2_extract_lane(v, 0) + wasm_f64x2_extract_lane(v, 1);
}

/** The eight accumulators of sum_simd added pairwise:
 * ((acc0+acc1)+(acc2+acc3)) + ((acc4+acc5)+(acc6+acc7)). */
static inline v128_t combine8(const v128_t acc[8]) {
    v128_t lo = wasm_f64x2_add(wasm_f64x2_add(acc[0], acc[1]), wasm_f64x2_add(acc[2], acc[3]));
    v128_t hi = wasm_f64x2_add(wasm_f64x2_add(acc[4], acc[5]), wasm_f64x2_add(acc[6], acc[7]));
    return wasm_f64x2_add(lo, hi);
}

/** ABI version: 2. */
EXPORT("abi_version") int abi_version(void) { return ABI_VERSION; }

/** Elements in each buffer (100000). */
EXPORT("get_capacity") int get_capacity(void) { return CAPACITY; }

/** Byte offset of buffer a in linear memory. */
EXPORT("get_buffer_a_offset") int get_buffer_a_offset(void) { return (int)(__INTPTR_TYPE__)buf_a; }

/** Byte offset of buffer b in linear memory. */
EXPORT("get_buffer_b_offset") int get_buffer_b_offset(void) { return (int)(__INTPTR_TYPE__)buf_b; }

/** Byte offset of the result buffer in linear memory. */
EXPORT("get_result_offset") int get_result_offset(void) { return (int)(__INTPTR_TYPE__)buf_result; }

/** Sum of a[0..len), added sequentially from index 0 (strict: scalar, no
 * reassociation). */
EXPORT("sum") double sum(int len) {
    unsigned n = checked_len(len);
    double s = 0.0;
    for (unsigned i = 0; i < n; i++) {
        s += buf_a[i];
    }
    return s;
}

/** Sum of a[0..len) with f64x2 SIMD: eight vector accumulators over blocks of 16
 * elements, combined as ((acc0+acc1)+(acc2+acc3)) + ((acc4+acc5)+(acc6+acc7)), lanes added,
 * then the scalar tail. */
EXPORT("sum_simd") double sum_simd(int len) {
    unsigned n = checked_len(len);
    v128_t acc[8];
    for (int k = 0; k < 8; k++) {
        acc[k] = wasm_f64x2_splat(0.0);
    }
    unsigned i = 0;
    /* Four blocks of 16 per iteration: wasmtime checks its deadline at every loop header,
     * and because that check's slow path is a call, Cranelift keeps the accumulators in
     * stack slots across iterations (a reload and a store of each per iteration); four
     * blocks share one. Each accumulator takes its elements in the same order as one block
     * at a time. */
    for (; i + 64 <= n; i += 64) {
        for (int j = 0; j < 64; j += 16) {
            for (int k = 0; k < 8; k++) {
                acc[k] = wasm_f64x2_add(acc[k], wasm_v128_load(&buf_a[i + j + 2 * k]));
            }
        }
    }
    for (; i + 16 <= n; i += 16) {
        for (int k = 0; k < 8; k++) {
            acc[k] = wasm_f64x2_add(acc[k], wasm_v128_load(&buf_a[i + 2 * k]));
        }
    }
    double s = hsum(combine8(acc));
    for (; i < n; i++) {
        s += buf_a[i];
    }
    return s;
}

/** Dot product sum(a[i]*b[i]) over [0, len), added sequentially from index 0 (strict:
 * scalar, each product rounded, then added; no fused multiply-add, no reassociation). */
EXPORT("dot") double dot(int len) {
    unsigned n = checked_len(len);
    double s = 0.0;
    for (unsigned i = 0; i < n; i++) {
        s += buf_a[i] * buf_b[i];
    }
    return s;
}

/** Dot product sum(a[i]*b[i]) over [0, len) with f64x2 SIMD (fast: separate multiply
 * and add, no fused multiply-add): four vector accumulators over blocks of 8 elements,
 * combined as ((acc0+acc1)+(acc2+acc3)), lanes added, then the scalar tail. (Eight
 * accumulators, as in sum_simd, measured slower here: 29-32 vs 27-28 us at 10^5.) */
EXPORT("dot_simd") double dot_simd(int len) {
    unsigned n = checked_len(len);
    v128_t acc0 = wasm_f64x2_splat(0.0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    unsigned i = 0;
    /* Two blocks of 8 per iteration (one deadline check for both); each accumulator takes
     * its elements in the same order as one block at a time. */
#define DOT2(acc, j) acc = wasm_f64x2_add(acc, wasm_f64x2_mul(wasm_v128_load(&buf_a[(j)]), wasm_v128_load(&buf_b[(j)])));
#define DOT8(j) DOT2(acc0, (j)) DOT2(acc1, (j) + 2) DOT2(acc2, (j) + 4) DOT2(acc3, (j) + 6)
    for (; i + 16 <= n; i += 16) {
        DOT8(i)
        DOT8(i + 8)
    }
    for (; i + 8 <= n; i += 8) {
        DOT8(i)
    }
#undef DOT8
#undef DOT2
    double s = hsum(wasm_f64x2_add(wasm_f64x2_add(acc0, acc1), wasm_f64x2_add(acc2, acc3)));
    for (; i < n; i++) {
        s += buf_a[i] * buf_b[i];
    }
    return s;
}

/** Element-wise product: result[i] = a[i]*b[i] for i in [0, len). */
EXPORT("mul") void mul(int len) {
    unsigned n = checked_len(len);
    unsigned i = 0;
    for (; i + 2 <= n; i += 2) {
        wasm_v128_store(&buf_result[i], wasm_f64x2_mul(wasm_v128_load(&buf_a[i]), wasm_v128_load(&buf_b[i])));
    }
    for (; i < n; i++) {
        buf_result[i] = buf_a[i] * buf_b[i];
    }
}

/** Scaling: result[i] = scalar*a[i] for i in [0, len). */
EXPORT("scale") void scale(double scalar, int len) {
    unsigned n = checked_len(len);
    v128_t s = wasm_f64x2_splat(scalar);
    unsigned i = 0;
    for (; i + 2 <= n; i += 2) {
        wasm_v128_store(&buf_result[i], wasm_f64x2_mul(s, wasm_v128_load(&buf_a[i])));
    }
    for (; i < n; i++) {
        buf_result[i] = scalar * buf_a[i];
    }
}
