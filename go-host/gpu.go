package offload

// GPU offload through capi's GPU API (offload_gpu_* in offload.h): a device is an integer
// handle into liboffload_capi's table of open backends (cpu, wgpu, cuda), a buffer an
// integer handle owned by that device. Linked like capi.go (rpath to target/release).

// #cgo CFLAGS: -I${SRCDIR}/../capi/include
/*
#include "gpu_call.h"
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
