package offload

// Vector kernels and matmul of the GPU API (see gpu.go) on resident buffers, and the
// convenience ops that upload, run and download on per-device scratch buffers.

// #cgo CFLAGS: -I${SRCDIR}/../capi/include
/*
#include "gpu_call.h"
static off_gres off_gpu_reduce(uint64_t d, int32_t op, int32_t dt, uint64_t a, uint64_t n) {
	double v = 0; int32_t rc = offload_gpu_reduce(d, op, dt, a, n, &v); return off_g(rc, 0, v);
}
static off_gres off_gpu_dot(uint64_t d, int32_t dt, uint64_t a, uint64_t b, uint64_t n) {
	double v = 0; int32_t rc = offload_gpu_dot(d, dt, a, b, n, &v); return off_g(rc, 0, v);
}
static off_gres off_gpu_elementwise(uint64_t d, int32_t op, int32_t dt, uint64_t a, uint64_t b,
                                    double s, uint64_t out, uint64_t n) {
	return off_g(offload_gpu_elementwise(d, op, dt, a, b, s, out, n), 0, 0);
}
static off_gres off_gpu_matmul(uint64_t d, int32_t p, uint64_t a, uint64_t b, uint64_t c,
                               uint64_t m, uint64_t k, uint64_t n) {
	return off_g(offload_gpu_matmul(d, p, a, b, c, m, k, n), 0, 0);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// GPUDType is a kernel's element type.
type GPUDType int32

// Element types.
const (
	F32 GPUDType = C.OFFLOAD_GPU_F32 // IEEE-754 binary32, 4 bytes
	F64 GPUDType = C.OFFLOAD_GPU_F64 // IEEE-754 binary64, 8 bytes; see GPUInfo.SupportsF64
)

// Size is the element size in bytes.
func (d GPUDType) Size() int {
	if d == F64 {
		return 8
	}
	return 4
}

// GPUReduceOp is a reduction of one vector to a scalar.
type GPUReduceOp int32

// Reductions.
const (
	ReduceSum GPUReduceOp = C.OFFLOAD_GPU_REDUCE_SUM // Σ a[i]
	ReduceMin GPUReduceOp = C.OFFLOAD_GPU_REDUCE_MIN // min a[i]
	ReduceMax GPUReduceOp = C.OFFLOAD_GPU_REDUCE_MAX // max a[i]
)

// GPUElementwiseOp is an element-wise kernel out[i] = f(a[i], b[i]).
type GPUElementwiseOp int32

// Element-wise ops.
const (
	EwMul   GPUElementwiseOp = C.OFFLOAD_GPU_EW_MUL   // a·b
	EwAdd   GPUElementwiseOp = C.OFFLOAD_GPU_EW_ADD   // a + b
	EwScale GPUElementwiseOp = C.OFFLOAD_GPU_EW_SCALE // scalar·a
	EwRelu  GPUElementwiseOp = C.OFFLOAD_GPU_EW_RELU  // max(a, 0)
)

// MatmulPrecision is the arithmetic of an f32 matrix product.
type MatmulPrecision int32

// Matmul precisions.
const (
	MatmulFP32 MatmulPrecision = C.OFFLOAD_GPU_MATMUL_FP32 // plain FP32 (default)
	MatmulTF32 MatmulPrecision = C.OFFLOAD_GPU_MATMUL_TF32 // TF32 tensor cores, FP32 accumulation; cuda only
)

// scalarKernel checks the element count n of capi function fn and returns the scalar that
// call, given n, answers.
func scalarKernel(fn string, n int, call func(n C.uint64_t) C.off_gres) (float64, error) {
	cn, err := u64(fn, "n", n)
	if err != nil {
		return 0, err
	}
	r := call(cn)
	return float64(r.f), gpuErr(fn, r)
}

// Reduce reduces the first n elements of a (resident on the device) with op.
func (g *GPU) Reduce(op GPUReduceOp, dt GPUDType, a GPUBuffer, n int) (float64, error) {
	return scalarKernel("offload_gpu_reduce", n, func(n C.uint64_t) C.off_gres {
		return C.off_gpu_reduce(g.handle(), C.int32_t(op), C.int32_t(dt), C.uint64_t(a), n)
	})
}

// DotBuffers is Σ a[i]·b[i] over the first n elements of two resident buffers.
func (g *GPU) DotBuffers(dt GPUDType, a, b GPUBuffer, n int) (float64, error) {
	return scalarKernel("offload_gpu_dot", n, func(n C.uint64_t) C.off_gres {
		return C.off_gpu_dot(g.handle(), C.int32_t(dt), C.uint64_t(a), C.uint64_t(b), n)
	})
}

// Elementwise queues out[i] = op(a[i], b[i]) for i < n on resident buffers: EwMul and
// EwAdd read b, EwScale uses scalar, EwScale and EwRelu take b = 0. out may be a or b.
func (g *GPU) Elementwise(op GPUElementwiseOp, dt GPUDType, a, b GPUBuffer, scalar float64, out GPUBuffer, n int) error {
	const fn = "offload_gpu_elementwise"
	cn, err := u64(fn, "n", n)
	if err != nil {
		return err
	}
	return gpuErr(fn, C.off_gpu_elementwise(g.handle(), C.int32_t(op), C.int32_t(dt),
		C.uint64_t(a), C.uint64_t(b), C.double(scalar), C.uint64_t(out), cn))
}

// MatmulBuffers queues the f32 product C = A·B on resident buffers, row-major, A m×k,
// B k×n, C m×n (c distinct from a and b).
func (g *GPU) MatmulBuffers(p MatmulPrecision, a, b, c GPUBuffer, m, k, n int) error {
	const fn = "offload_gpu_matmul"
	var dims [3]C.uint64_t
	for i, d := range [3]int{m, k, n} {
		v, err := u64(fn, "matmul dimension", d)
		if err != nil {
			return err
		}
		dims[i] = v
	}
	return gpuErr(fn, C.off_gpu_matmul(g.handle(), C.int32_t(p), C.uint64_t(a), C.uint64_t(b),
		C.uint64_t(c), dims[0], dims[1], dims[2]))
}

// ---------------------------------------------------------------------------------------
// Convenience ops: upload, run, download, on per-device scratch buffers.

// lock takes the scratch mutex; a nil *GPU is a GPUInvalidDevice error, not a panic.
func (g *GPU) lock() error {
	if g == nil {
		return &GPUError{Func: "GPU", Status: GPUInvalidDevice, Msg: "nil *GPU"}
	}
	g.mu.Lock()
	return nil
}

// scratchFor returns scratch buffer slot i with at least bytes bytes; g.mu must be held.
func (g *GPU) scratchFor(i, bytes int) (GPUBuffer, error) {
	s := &g.scratch[i]
	if s.id != 0 && s.bytes >= bytes {
		return s.id, nil
	}
	if s.id != 0 {
		_ = g.DestroyBuffer(s.id)
		*s = scratchBuf{}
	}
	id, err := g.CreateBuffer(bytes)
	if err != nil {
		return 0, err
	}
	*s = scratchBuf{id: id, bytes: bytes}
	return id, nil
}

// stage writes each input into its own scratch slot (0, 1, ...).
func stage[T float32 | float64](g *GPU, xs ...[]T) ([]GPUBuffer, error) {
	ids := make([]GPUBuffer, len(xs))
	for i, x := range xs {
		p, n := sliceRaw(x)
		id, err := g.scratchFor(i, n)
		if err != nil {
			return nil, err
		}
		if err := g.writeRaw(id, 0, p, n); err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

func dtypeOf[T float32 | float64]() GPUDType {
	var z T
	if unsafe.Sizeof(z) == 8 {
		return F64
	}
	return F32
}

func lengths(fn string, want int, got ...int) error {
	for _, n := range got {
		if n != want {
			return fmt.Errorf("offload %s: lengths %d and %d: %w", fn, want, n, ErrLengthMismatch)
		}
	}
	return nil
}

func gpuSum[T float32 | float64](g *GPU, x []T) (float64, error) {
	if len(x) == 0 {
		return 0, nil
	}
	if err := g.lock(); err != nil {
		return 0, err
	}
	defer g.mu.Unlock()
	ids, err := stage(g, x)
	if err != nil {
		return 0, err
	}
	return g.Reduce(ReduceSum, dtypeOf[T](), ids[0], len(x))
}

func gpuDot[T float32 | float64](g *GPU, a, b []T) (float64, error) {
	if err := lengths("Dot", len(a), len(b)); err != nil {
		return 0, err
	}
	if len(a) == 0 {
		return 0, nil
	}
	if err := g.lock(); err != nil {
		return 0, err
	}
	defer g.mu.Unlock()
	ids, err := stage(g, a, b)
	if err != nil {
		return 0, err
	}
	return g.DotBuffers(dtypeOf[T](), ids[0], ids[1], len(a))
}

func gpuElementwise[T float32 | float64](g *GPU, op GPUElementwiseOp, dst, a, b []T, s float64) error {
	if err := lengths(fmt.Sprintf("elementwise %d", op), len(a), len(b), len(dst)); err != nil {
		return err
	}
	if len(a) == 0 {
		return nil
	}
	if err := g.lock(); err != nil {
		return err
	}
	defer g.mu.Unlock()
	ins := [][]T{a}
	var bid GPUBuffer
	if op == EwMul || op == EwAdd {
		ins = append(ins, b)
	}
	ids, err := stage(g, ins...)
	if err != nil {
		return err
	}
	if len(ids) > 1 {
		bid = ids[1]
	}
	p, n := sliceRaw(dst)
	out, err := g.scratchFor(2, n)
	if err != nil {
		return err
	}
	if err := g.Elementwise(op, dtypeOf[T](), ids[0], bid, s, out, len(a)); err != nil {
		return err
	}
	return g.readRaw(out, 0, p, n)
}

// Sum returns Σ x[i] (0 for an empty x, without touching the device), uploading x to the
// device: the transfers-included path "gpu-<backend>". GPUUnsupported where the device
// lacks f64.
func (g *GPU) Sum(x []float64) (float64, error) { return gpuSum(g, x) }

// SumF32 returns Σ x[i] computed in f32 on the device, as float64.
func (g *GPU) SumF32(x []float32) (float64, error) { return gpuSum(g, x) }

// Dot returns Σ a[i]·b[i]; different lengths wrap [ErrLengthMismatch].
func (g *GPU) Dot(a, b []float64) (float64, error) { return gpuDot(g, a, b) }

// DotF32 returns Σ a[i]·b[i] computed in f32 on the device.
func (g *GPU) DotF32(a, b []float32) (float64, error) { return gpuDot(g, a, b) }

// Mul sets dst[i] = a[i]·b[i] (dst may be a or b).
func (g *GPU) Mul(dst, a, b []float64) error { return gpuElementwise(g, EwMul, dst, a, b, 0) }

// MulF32 sets dst[i] = a[i]·b[i] in f32.
func (g *GPU) MulF32(dst, a, b []float32) error { return gpuElementwise(g, EwMul, dst, a, b, 0) }

// Scale sets dst[i] = s·a[i] (dst may be a).
func (g *GPU) Scale(dst, a []float64, s float64) error {
	return gpuElementwise(g, EwScale, dst, a, a, s)
}

// ScaleF32 sets dst[i] = s·a[i] in f32 (s rounded to f32 on the device).
func (g *GPU) ScaleF32(dst, a []float32, s float64) error {
	return gpuElementwise(g, EwScale, dst, a, a, s)
}

// Matmul sets c = a·b for row-major f32 matrices a (m×k) and b (k×n) into c (m×n),
// uploading a and b and downloading c. Wrong slice lengths wrap [ErrLengthMismatch].
func (g *GPU) Matmul(p MatmulPrecision, c, a, b []float32, m, k, n int) error {
	if m < 0 || k < 0 || n < 0 {
		return badArg("Matmul", "negative dimension %d×%d·%d×%d", m, k, k, n)
	}
	for _, s := range []struct {
		got, want int
		name      string
	}{{len(a), m * k, "a"}, {len(b), k * n, "b"}, {len(c), m * n, "c"}} {
		if s.got != s.want {
			return fmt.Errorf("offload Matmul: %s has %d elements, want %d for %d×%d·%d×%d: %w",
				s.name, s.got, s.want, m, k, k, n, ErrLengthMismatch)
		}
	}
	if err := g.lock(); err != nil {
		return err
	}
	defer g.mu.Unlock()
	ids, err := stage(g, a, b)
	if err != nil {
		return err
	}
	cp, cn := sliceRaw(c)
	cid, err := g.scratchFor(2, cn)
	if err != nil {
		return err
	}
	if err := g.MatmulBuffers(p, ids[0], ids[1], cid, m, k, n); err != nil {
		return err
	}
	return g.readRaw(cid, 0, cp, cn)
}
