// offload CUDA kernels, compiled by NVRTC at first use for the device's architecture
// (see core/src/gpu/cuda.rs). Every kernel is instantiated for float and double through
// the macros at the end; names are `<kernel>_<f32|f64>`, extern "C" so that NVRTC keeps
// them unmangled.
//
// Reductions follow Harris, "Optimizing Parallel Reduction in CUDA" (NVIDIA, 2007) with
// warp shuffles for the last 32 lanes: pass 1 runs G blocks of 256 threads, each thread
// folding a grid-stride slice (4 independent accumulators, so that 4 loads are in flight),
// the block folding its values through shared memory into one partial; pass 2 is the same
// kernel over the G partials with one block. Element-wise kernels use grid-stride loops.

#define OP_SUM 0
#define OP_MIN 1
#define OP_MAX 2
#define OP_DOT 3

template <typename T, int OP>
__device__ __forceinline__ T combine(T x, T y) {
    if (OP == OP_MIN) return x < y ? x : y;
    if (OP == OP_MAX) return x > y ? x : y;
    return x + y;
}

template <typename T, int OP>
__device__ __forceinline__ T load(const T* __restrict__ a, const T* __restrict__ b, unsigned int i) {
    if (OP == OP_DOT) return a[i] * b[i];
    return __ldg(a + i);
}

template <typename T, int OP>
__device__ void reduce_block(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out,
                             unsigned int n) {
    __shared__ T sh[32];
    const unsigned int stride = gridDim.x * blockDim.x;
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    // min/max are idempotent, so the first element is a neutral start (n >= 1).
    const T start = (OP == OP_MIN || OP == OP_MAX) ? a[0] : T(0);
    T acc0 = start, acc1 = start, acc2 = start, acc3 = start;
    // n < 2^31 and stride < 2^27, so i + 4 * stride never wraps.
    for (; i + 3 * stride < n; i += 4 * stride) {
        acc0 = combine<T, OP>(acc0, load<T, OP>(a, b, i));
        acc1 = combine<T, OP>(acc1, load<T, OP>(a, b, i + stride));
        acc2 = combine<T, OP>(acc2, load<T, OP>(a, b, i + 2 * stride));
        acc3 = combine<T, OP>(acc3, load<T, OP>(a, b, i + 3 * stride));
    }
    for (; i < n; i += stride) acc0 = combine<T, OP>(acc0, load<T, OP>(a, b, i));
    T v = combine<T, OP>(combine<T, OP>(acc0, acc1), combine<T, OP>(acc2, acc3));
    for (int off = 16; off > 0; off >>= 1) v = combine<T, OP>(v, __shfl_down_sync(0xffffffffu, v, off));
    const unsigned int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const unsigned int nw = blockDim.x >> 5;
        v = lane < nw ? sh[lane] : sh[0];
        if (OP == OP_SUM || OP == OP_DOT) v = lane < nw ? v : T(0);
        for (int off = 16; off > 0; off >>= 1) v = combine<T, OP>(v, __shfl_down_sync(0xffffffffu, v, off));
        if (lane == 0) out[blockIdx.x] = v;
    }
}

#define REDUCE(NAME, T, OP) \
    extern "C" __global__ void NAME(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, \
                                    unsigned int n) { reduce_block<T, OP>(a, b, out, n); }

#define ELEMENTWISE(T, SUF) \
    extern "C" __global__ void mul_##SUF(const T* a, const T* b, T* out, T s, unsigned int n) { \
        for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = a[i] * b[i]; } \
    extern "C" __global__ void add_##SUF(const T* a, const T* b, T* out, T s, unsigned int n) { \
        for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = a[i] + b[i]; } \
    extern "C" __global__ void scale_##SUF(const T* a, const T* b, T* out, T s, unsigned int n) { \
        for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = s * a[i]; } \
    extern "C" __global__ void relu_##SUF(const T* a, const T* b, T* out, T s, unsigned int n) { \
        for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) { \
            T x = a[i]; out[i] = (x > T(0) || x != x) ? x : T(0); } }

REDUCE(sum_f32, float, OP_SUM)
REDUCE(min_f32, float, OP_MIN)
REDUCE(max_f32, float, OP_MAX)
REDUCE(dot_f32, float, OP_DOT)
REDUCE(sum_f64, double, OP_SUM)
REDUCE(min_f64, double, OP_MIN)
REDUCE(max_f64, double, OP_MAX)
REDUCE(dot_f64, double, OP_DOT)
ELEMENTWISE(float, f32)
ELEMENTWISE(double, f64)
