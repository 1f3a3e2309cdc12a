package offload

// GPU offload through capi's GPU API (offload_gpu_* in offload.h): a device is an integer
// handle into liboffload_capi's table of open backends (cpu, wgpu, cuda), a buffer an
// integer handle owned by that device. Linked like capi.go (rpath to target/release).

// #cgo CFLAGS: -I${SRCDIR}/../capi/include
/*
#include <stdlib.h>
#include <string.h>
#include "offload.h"

// One capi call and, on failure, a copy of the thread-local message, in a single cgo
// call (a goroutine may change OS threads between two cgo calls). u and f carry the
// call's scalar result.
typedef struct { int32_t rc; uint64_t u; double f; char *msg; } off_gres;

static off_gres off_g(int32_t rc, uint64_t u, double f) {
	off_gres r = { rc, u, f, NULL };
	if (rc != OFFLOAD_OK) r.msg = strdup(offload_last_error());
	return r;
}
static off_gres off_gpu_open(const char *name) {
	OffloadGpuDevice d = 0; int32_t rc = offload_gpu_open(name, &d); return off_g(rc, d, 0);
}
static off_gres off_gpu_close(uint64_t d) { return off_g(offload_gpu_close(d), 0, 0); }
static off_gres off_gpu_info(uint64_t d, OffloadGpuDeviceInfo *info) {
	return off_g(offload_gpu_info(d, info), 0, 0);
}
static off_gres off_gpu_probe(OffloadGpuProbe *out, size_t cap) {
	size_t n = 0; int32_t rc = offload_gpu_probe(out, cap, &n); return off_g(rc, n, 0);
}
static off_gres off_gpu_create(uint64_t d, uint64_t bytes) {
	OffloadGpuBuffer b = 0; int32_t rc = offload_gpu_buffer_create(d, bytes, &b); return off_g(rc, b, 0);
}
static off_gres off_gpu_destroy(uint64_t d, uint64_t b) { return off_g(offload_gpu_buffer_destroy(d, b), 0, 0); }
static off_gres off_gpu_size(uint64_t d, uint64_t b) {
	uint64_t s = 0; int32_t rc = offload_gpu_buffer_size(d, b, &s); return off_g(rc, s, 0);
}
static off_gres off_gpu_write(uint64_t d, uint64_t b, uint64_t off, const void *p, size_t n) {
	return off_g(offload_gpu_buffer_write(d, b, off, p, n), 0, 0);
}
static off_gres off_gpu_read(uint64_t d, uint64_t b, uint64_t off, void *p, size_t n) {
	return off_g(offload_gpu_buffer_read(d, b, off, p, n), 0, 0);
}
static off_gres off_gpu_copy(uint64_t d, uint64_t s, uint64_t so, uint64_t t, uint64_t to, uint64_t n) {
	return off_g(offload_gpu_buffer_copy(d, s, so, t, to, n), 0, 0);
}
static off_gres off_gpu_sync(uint64_t d) { return off_g(offload_gpu_sync(d), 0, 0); }
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
static off_gres off_gpu_bootstrap(uint64_t d, uint64_t seed, uint32_t first, uint32_t trees, uint32_t rows, uint64_t out) {
	return off_g(offload_gpu_bootstrap_sample(d, seed, first, trees, rows, out), 0, 0);
}
static off_gres off_gpu_find_split(uint64_t d, const OffloadGpuSplitArgs *a) {
	return off_g(offload_gpu_find_split(d, a), 0, 0);
}
static off_gres off_gpu_average(uint64_t d, int32_t dt, uint64_t preds, uint32_t trees, uint32_t rows, uint64_t out) {
	return off_g(offload_gpu_average(d, dt, preds, trees, rows, out), 0, 0);
}
static off_gres off_gpu_batch_predict(uint64_t d, int32_t dt, const OffloadGpuForest *f, uint64_t x, uint32_t rows, uint64_t out) {
	return off_g(offload_gpu_batch_predict(d, dt, f, x, rows, out), 0, 0);
}
static off_gres off_gpu_set_timing(uint64_t d, int on) {
	return off_g(offload_gpu_set_kernel_timing(d, on != 0), 0, 0);
}
static off_gres off_gpu_last_ns(uint64_t d) {
	uint64_t ns = 0; bool ok = false; int32_t rc = offload_gpu_last_kernel_ns(d, &ns, &ok);
	return off_g(rc, ns, ok ? 1.0 : 0.0);
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// GPUStatus is the status code of a failed GPU call: 1–10 are offload-capi's
// gpu::Status (OFFLOAD_GPU_ERR_* in offload.h; 10 is an invalid device handle), the negative
// ones capi's shared codes. It is an error itself, so that
// errors.Is(err, offload.GPUInvalidHandle) tests a *GPUError's status.
type GPUStatus int32

// Status codes of the GPU API.
const (
	GPUBackendUnavailable GPUStatus = C.OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE // backend could not start
	GPUUnsupported        GPUStatus = C.OFFLOAD_GPU_ERR_UNSUPPORTED         // kernel or dtype not on this device
	GPUInvalidHandle      GPUStatus = C.OFFLOAD_GPU_ERR_INVALID_HANDLE      // buffer never created or destroyed
	GPUOutOfBounds        GPUStatus = C.OFFLOAD_GPU_ERR_OUT_OF_BOUNDS       // offset + size past a buffer's end
	GPUZeroSize           GPUStatus = C.OFFLOAD_GPU_ERR_ZERO_SIZE           // 0 bytes or 0 elements
	GPUTooLarge           GPUStatus = C.OFFLOAD_GPU_ERR_TOO_LARGE           // over the device's limit
	GPUShapeMismatch      GPUStatus = C.OFFLOAD_GPU_ERR_SHAPE_MISMATCH      // buffers too small for the shape
	GPUInvalidArgument    GPUStatus = C.OFFLOAD_GPU_ERR_INVALID_ARGUMENT    // unknown name/op, missing operand, negative size
	GPUDeviceError        GPUStatus = C.OFFLOAD_GPU_ERR_DEVICE              // device or driver failure
	GPUInvalidDevice      GPUStatus = C.OFFLOAD_GPU_ERR_INVALID_DEVICE      // closed or nil device
	GPUNullPointer        GPUStatus = C.OFFLOAD_ERR_NULL_POINTER            // a null pointer reached capi (a bug here)
	GPUPanic              GPUStatus = C.OFFLOAD_ERR_PANIC                   // a Rust panic caught in capi (a bug there)
)

var gpuStatusNames = map[GPUStatus]string{
	GPUBackendUnavailable: "backend unavailable", GPUUnsupported: "unsupported",
	GPUInvalidHandle: "invalid buffer handle", GPUOutOfBounds: "out of bounds",
	GPUZeroSize: "zero size", GPUTooLarge: "too large", GPUShapeMismatch: "shape mismatch",
	GPUInvalidArgument: "invalid argument", GPUDeviceError: "device error",
	GPUInvalidDevice: "invalid device handle", GPUNullPointer: "null pointer", GPUPanic: "panic",
}

func (s GPUStatus) String() string {
	if n, ok := gpuStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status %d", int32(s))
}

func (s GPUStatus) Error() string { return "offload gpu: " + s.String() }

// GPUError is a failed GPU call: the C function, its status and capi's message.
type GPUError struct {
	Func   string
	Status GPUStatus
	Msg    string
}

func (e *GPUError) Error() string {
	return fmt.Sprintf("offload %s: %s (%d): %s", e.Func, e.Status, int32(e.Status), e.Msg)
}

// Unwrap returns the status, so that errors.Is(err, GPUOutOfBounds) and
// errors.As(err, &status) work.
func (e *GPUError) Unwrap() error { return e.Status }

func gpuErr(fn string, r C.off_gres) error {
	if r.rc == C.OFFLOAD_OK {
		return nil
	}
	msg := "(no message)"
	if r.msg != nil {
		msg = C.GoString(r.msg)
		C.free(unsafe.Pointer(r.msg))
	}
	return &GPUError{Func: fn, Status: GPUStatus(r.rc), Msg: msg}
}

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

// GPUBuffer is a device buffer handle, valid on the GPU that created it; 0 is none.
type GPUBuffer uint64

// GPUInfo is what a device reports about itself.
type GPUInfo struct {
	Backend        string // "cpu", "wgpu" or "cuda"
	Name           string // device name, e.g. "llvmpipe (LLVM 19.1.7, 256 bits)"
	Driver         string // driver or API details
	MemoryBytes    uint64 // device memory in bytes; 0 where not reported
	MaxBufferBytes uint64 // largest single buffer in bytes
	SupportsF64    bool   // f64 kernels run (else they fail with GPUUnsupported)
	SupportsTF32   bool   // MatmulTF32 runs
	KernelTiming   bool   // kernel times are measured on the device
	IsSoftware     bool   // a software rasteriser (lavapipe) or the host CPU
}

func backendName(code C.int32_t) string {
	switch code {
	case C.OFFLOAD_GPU_BACKEND_CPU:
		return "cpu"
	case C.OFFLOAD_GPU_BACKEND_WGPU:
		return "wgpu"
	case C.OFFLOAD_GPU_BACKEND_CUDA:
		return "cuda"
	}
	return fmt.Sprintf("backend %d", int32(code))
}

func goInfo(i *C.OffloadGpuDeviceInfo) GPUInfo {
	return GPUInfo{
		Backend:        backendName(i.backend),
		Name:           C.GoString(&i.name[0]),
		Driver:         C.GoString(&i.driver[0]),
		MemoryBytes:    uint64(i.memory_bytes),
		MaxBufferBytes: uint64(i.max_buffer_bytes),
		SupportsF64:    bool(i.supports_f64),
		SupportsTF32:   bool(i.supports_tf32),
		KernelTiming:   bool(i.kernel_timing),
		IsSoftware:     bool(i.is_software),
	}
}

// GPUProbe is one backend as seen by [ProbeGPUs]: its device, or why it did not start.
type GPUProbe struct {
	Backend   string  // "cpu", "wgpu" or "cuda"
	Available bool    // whether it started
	Info      GPUInfo // its device, when Available
	Reason    string  // why not, when !Available
}

// ProbeGPUs tries every backend (cpu, wgpu, cuda), opening and closing each.
func ProbeGPUs() ([]GPUProbe, error) {
	var out [3]C.OffloadGpuProbe
	r := C.off_gpu_probe(&out[0], C.size_t(len(out)))
	if err := gpuErr("offload_gpu_probe", r); err != nil {
		return nil, err
	}
	n := min(int(r.u), len(out))
	ps := make([]GPUProbe, n)
	for i := range ps {
		p := &out[i]
		ps[i] = GPUProbe{Backend: backendName(p.backend), Available: bool(p.available), Reason: C.GoString(&p.reason[0])}
		if ps[i].Available {
			ps[i].Info = goInfo(&p.info)
		}
	}
	return ps, nil
}

// GPU is an open device of one backend. Buffer and kernel methods are safe for concurrent
// use (capi serialises calls on one device); the convenience ops (Sum, Dot, Mul, Scale,
// Matmul and their F32 forms) reuse per-device scratch buffers under a mutex. Kernels
// run in the order they are called; Elementwise and MatmulBuffers are queued, and
// reads, reductions and Sync wait for them.
type GPU struct {
	h    uint64
	info GPUInfo

	mu      sync.Mutex
	scratch [3]scratchBuf
}

type scratchBuf struct {
	id    GPUBuffer
	bytes int
}

// OpenGPU opens a backend by name: "cpu", "wgpu", "cuda" or "auto" (cuda if it starts,
// else wgpu on a hardware adapter, else cpu). An unavailable backend gives a *GPUError
// with status GPUBackendUnavailable whose message says why.
func OpenGPU(name string) (*GPU, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	r := C.off_gpu_open(cs)
	if err := gpuErr("offload_gpu_open", r); err != nil {
		return nil, err
	}
	g := &GPU{h: uint64(r.u)}
	var info C.OffloadGpuDeviceInfo
	if err := gpuErr("offload_gpu_info", C.off_gpu_info(C.uint64_t(g.h), &info)); err != nil {
		_ = g.Close()
		return nil, err
	}
	g.info = goInfo(&info)
	return g, nil
}

func (g *GPU) handle() C.uint64_t {
	if g == nil {
		return 0 // capi answers GPUInvalidDevice
	}
	return C.uint64_t(g.h)
}

// Close closes the device and frees all its buffers. Closing twice, or using the GPU
// afterwards, gives GPUInvalidDevice errors.
func (g *GPU) Close() error {
	return gpuErr("offload_gpu_close", C.off_gpu_close(g.handle()))
}

// Info is what the device reported when it was opened.
func (g *GPU) Info() GPUInfo {
	if g == nil {
		return GPUInfo{}
	}
	return g.info
}

// Path is the benchmark path name of this device's transfers-included ops, "gpu-<backend>".
func (g *GPU) Path() string { return "gpu-" + g.Info().Backend }

func badArg(fn, format string, args ...any) error {
	return &GPUError{Func: fn, Status: GPUInvalidArgument, Msg: fmt.Sprintf(format, args...)}
}

// u64 converts a size, offset or count to uint64, refusing negative values.
func u64(fn, what string, v int) (C.uint64_t, error) {
	if v < 0 {
		return 0, badArg(fn, "%s is negative (%d)", what, v)
	}
	return C.uint64_t(v), nil
}

// CreateBuffer allocates a device buffer of bytes bytes (contents unspecified).
func (g *GPU) CreateBuffer(bytes int) (GPUBuffer, error) {
	const fn = "offload_gpu_buffer_create"
	n, err := u64(fn, "bytes", bytes)
	if err != nil {
		return 0, err
	}
	r := C.off_gpu_create(g.handle(), n)
	return GPUBuffer(r.u), gpuErr(fn, r)
}

// DestroyBuffer frees a buffer; its handle becomes invalid.
func (g *GPU) DestroyBuffer(b GPUBuffer) error {
	return gpuErr("offload_gpu_buffer_destroy", C.off_gpu_destroy(g.handle(), C.uint64_t(b)))
}

// BufferSize is a buffer's size in bytes.
func (g *GPU) BufferSize(b GPUBuffer) (int, error) {
	r := C.off_gpu_size(g.handle(), C.uint64_t(b))
	return int(r.u), gpuErr("offload_gpu_buffer_size", r)
}

// writeRaw copies n bytes at p to b at byte offset off.
func (g *GPU) writeRaw(b GPUBuffer, off int, p unsafe.Pointer, n int) error {
	const fn = "offload_gpu_buffer_write"
	o, err := u64(fn, "offset", off)
	if err != nil {
		return err
	}
	return gpuErr(fn, C.off_gpu_write(g.handle(), C.uint64_t(b), o, p, C.size_t(n)))
}

func (g *GPU) readRaw(b GPUBuffer, off int, p unsafe.Pointer, n int) error {
	const fn = "offload_gpu_buffer_read"
	o, err := u64(fn, "offset", off)
	if err != nil {
		return err
	}
	return gpuErr(fn, C.off_gpu_read(g.handle(), C.uint64_t(b), o, p, C.size_t(n)))
}

// sliceRaw is the address and byte length of x (nil, 0 when empty).
func sliceRaw[T any](x []T) (unsafe.Pointer, int) {
	if len(x) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(&x[0]), len(x) * int(unsafe.Sizeof(x[0]))
}

// Write copies data to buffer b at byte offset off. An empty data is a GPUZeroSize
// error.
func (g *GPU) Write(b GPUBuffer, off int, data []byte) error {
	p, n := sliceRaw(data)
	return g.writeRaw(b, off, p, n)
}

// Read copies len(out) bytes of buffer b from byte offset off into out, after all
// queued work.
func (g *GPU) Read(b GPUBuffer, off int, out []byte) error {
	p, n := sliceRaw(out)
	return g.readRaw(b, off, p, n)
}

// WriteFloat32s copies x to buffer b at byte offset off.
func (g *GPU) WriteFloat32s(b GPUBuffer, off int, x []float32) error {
	p, n := sliceRaw(x)
	return g.writeRaw(b, off, p, n)
}

// WriteFloat64s copies x to buffer b at byte offset off.
func (g *GPU) WriteFloat64s(b GPUBuffer, off int, x []float64) error {
	p, n := sliceRaw(x)
	return g.writeRaw(b, off, p, n)
}

// ReadFloat32s fills out from buffer b starting at byte offset off.
func (g *GPU) ReadFloat32s(b GPUBuffer, off int, out []float32) error {
	p, n := sliceRaw(out)
	return g.readRaw(b, off, p, n)
}

// ReadFloat64s fills out from buffer b starting at byte offset off.
func (g *GPU) ReadFloat64s(b GPUBuffer, off int, out []float64) error {
	p, n := sliceRaw(out)
	return g.readRaw(b, off, p, n)
}

// upload creates a buffer holding x.
func upload[T float32 | float64](g *GPU, x []T) (GPUBuffer, error) {
	p, n := sliceRaw(x)
	b, err := g.CreateBuffer(n)
	if err != nil {
		return 0, err
	}
	if err := g.writeRaw(b, 0, p, n); err != nil {
		_ = g.DestroyBuffer(b)
		return 0, err
	}
	return b, nil
}

// UploadFloat32s creates a buffer of 4·len(x) bytes holding x.
func (g *GPU) UploadFloat32s(x []float32) (GPUBuffer, error) { return upload(g, x) }

// UploadFloat64s creates a buffer of 8·len(x) bytes holding x.
func (g *GPU) UploadFloat64s(x []float64) (GPUBuffer, error) { return upload(g, x) }

// Copy copies bytes bytes from src at byte srcOff to dst at byte dstOff on the device.
func (g *GPU) Copy(src GPUBuffer, srcOff int, dst GPUBuffer, dstOff, bytes int) error {
	const fn = "offload_gpu_buffer_copy"
	so, err := u64(fn, "src offset", srcOff)
	if err != nil {
		return err
	}
	do, err := u64(fn, "dst offset", dstOff)
	if err != nil {
		return err
	}
	n, err := u64(fn, "bytes", bytes)
	if err != nil {
		return err
	}
	return gpuErr(fn, C.off_gpu_copy(g.handle(), C.uint64_t(src), so, C.uint64_t(dst), do, n))
}

// Sync waits until all work queued on the device has finished.
func (g *GPU) Sync() error { return gpuErr("offload_gpu_sync", C.off_gpu_sync(g.handle())) }

// Reduce reduces the first n elements of a (resident on the device) with op.
func (g *GPU) Reduce(op GPUReduceOp, dt GPUDType, a GPUBuffer, n int) (float64, error) {
	const fn = "offload_gpu_reduce"
	cn, err := u64(fn, "n", n)
	if err != nil {
		return 0, err
	}
	r := C.off_gpu_reduce(g.handle(), C.int32_t(op), C.int32_t(dt), C.uint64_t(a), cn)
	return float64(r.f), gpuErr(fn, r)
}

// DotBuffers is Σ a[i]·b[i] over the first n elements of two resident buffers.
func (g *GPU) DotBuffers(dt GPUDType, a, b GPUBuffer, n int) (float64, error) {
	const fn = "offload_gpu_dot"
	cn, err := u64(fn, "n", n)
	if err != nil {
		return 0, err
	}
	r := C.off_gpu_dot(g.handle(), C.int32_t(dt), C.uint64_t(a), C.uint64_t(b), cn)
	return float64(r.f), gpuErr(fn, r)
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

// SetKernelTiming turns measuring each kernel's device time on or off.
func (g *GPU) SetKernelTiming(on bool) error {
	v := C.int(0)
	if on {
		v = 1
	}
	return gpuErr("offload_gpu_set_kernel_timing", C.off_gpu_set_timing(g.handle(), v))
}

// LastKernelNs is the device time of the last kernel in ns; ok is false when timing is
// off or no kernel has run since it was turned on.
func (g *GPU) LastKernelNs() (ns uint64, ok bool, err error) {
	r := C.off_gpu_last_ns(g.handle())
	return uint64(r.u), r.f != 0, gpuErr("offload_gpu_last_kernel_ns", r)
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

// ---------------------------------------------------------------------------------------
// ML kernels (random forests) on resident buffers: capi's offload_gpu_bootstrap_sample,
// _find_split, _average and _batch_predict. A backend without a kernel answers
// GPUUnsupported, naming it.

// GPUSplitArgs are the operands and shape of [GPU.FindSplit] (OffloadGpuSplitArgs):
// X f32 NRows×D row-major, Y f64 NRows, Order u32 D×NRows (rows of each feature in
// order of (x, row)), Weights u32 NTrees×NRows (bootstrap weights), NodeOf u32
// NTrees×NRows (open node of each row or 0xFFFFFFFF), CandRank u32 NNodes×D (rank of each
// candidate feature or 0xFFFFFFFF); Out receives NNodes records of 24 bytes
// ([GPUSplitRecord]). Counts are elements.
type GPUSplitArgs struct {
	X, Y, Order, Weights, NodeOf, CandRank, Out GPUBuffer
	NRows, D, NTrees, NNodes, MinLeaf           uint32
}

// GPUSplitRecord is one node's result of [GPU.FindSplit] as laid out in Out (24 bytes,
// little-endian).
type GPUSplitRecord struct {
	Score      float64 // S_L²/W_L + S_R²/W_R; 0 when there is no split
	Feature    int32   // split feature, -1 when the node has no valid split
	Threshold  float32 // rows with x[Feature] <= Threshold go left
	WeightLeft uint32  // bootstrap weight sent left
	Pad        uint32  // zero
}

// GPUForest is a forest in device buffers for [GPU.BatchPredict] (OffloadGpuForest): the
// node arrays of all trees end to end (NNodes nodes): Feature i32 (-1 at a leaf), Threshold
// f32, Left and Right i32 (child ids relative to the tree's root), Value f32, TreeStart u32
// NTrees (each root's index).
type GPUForest struct {
	Feature, Threshold, Left, Right, Value, TreeStart GPUBuffer
	NTrees, NNodes, NFeatures                         uint32
}

// BootstrapSample writes the bootstrap weights of trees firstTree … firstTree+nTrees−1 to
// out (u32 nTrees×nRows): how often each row is drawn among nRows draws of PCG32 seeded
// with seed on stream 2·tree (offload_core::forest::bootstrap_counts). Queued.
func (g *GPU) BootstrapSample(seed uint64, firstTree, nTrees, nRows uint32, out GPUBuffer) error {
	return gpuErr("offload_gpu_bootstrap_sample", C.off_gpu_bootstrap(g.handle(), C.uint64_t(seed),
		C.uint32_t(firstTree), C.uint32_t(nTrees), C.uint32_t(nRows), C.uint64_t(out)))
}

// FindSplit writes the best split (CART, squared error) of every open node of a batch of
// trees to a.Out, one [GPUSplitRecord] per node. Queued.
func (g *GPU) FindSplit(a GPUSplitArgs) error {
	ca := C.OffloadGpuSplitArgs{
		x: C.uint64_t(a.X), y: C.uint64_t(a.Y), order: C.uint64_t(a.Order), weights: C.uint64_t(a.Weights),
		node_of: C.uint64_t(a.NodeOf), cand_rank: C.uint64_t(a.CandRank), out: C.uint64_t(a.Out),
		n_rows: C.uint32_t(a.NRows), d: C.uint32_t(a.D), n_trees: C.uint32_t(a.NTrees),
		n_nodes: C.uint32_t(a.NNodes), min_leaf: C.uint32_t(a.MinLeaf),
	}
	return gpuErr("offload_gpu_find_split", C.off_gpu_find_split(g.handle(), &ca))
}

// Average writes out[r] = (Σ_t preds[t·nRows + r]) / nTrees (preds f32 nTrees×nRows, sum
// in tree order in dt, out nRows elements of dt). Queued.
func (g *GPU) Average(dt GPUDType, preds GPUBuffer, nTrees, nRows uint32, out GPUBuffer) error {
	return gpuErr("offload_gpu_average", C.off_gpu_average(g.handle(), C.int32_t(dt), C.uint64_t(preds),
		C.uint32_t(nTrees), C.uint32_t(nRows), C.uint64_t(out)))
}

// BatchPredict writes the forest's mean prediction for each of the nRows rows of x (f32
// nRows×f.NFeatures) to out (nRows elements of dt), summed in tree order in dt. Queued.
func (g *GPU) BatchPredict(dt GPUDType, f GPUForest, x GPUBuffer, nRows uint32, out GPUBuffer) error {
	cf := C.OffloadGpuForest{
		feature: C.uint64_t(f.Feature), threshold: C.uint64_t(f.Threshold), left: C.uint64_t(f.Left),
		right: C.uint64_t(f.Right), value: C.uint64_t(f.Value), tree_start: C.uint64_t(f.TreeStart),
		n_trees: C.uint32_t(f.NTrees), n_nodes: C.uint32_t(f.NNodes), n_features: C.uint32_t(f.NFeatures),
	}
	return gpuErr("offload_gpu_batch_predict", C.off_gpu_batch_predict(g.handle(), C.int32_t(dt), &cf,
		C.uint64_t(x), C.uint32_t(nRows), C.uint64_t(out)))
}
