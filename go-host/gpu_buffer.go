package offload

// Device buffers of the GPU API (see gpu.go): create, destroy, write, read, copy, sync.

// #cgo CFLAGS: -I${SRCDIR}/../capi/include
/*
#include "gpu_call.h"
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
*/
import "C"

import (
	"unsafe"
)

// GPUBuffer is a device buffer handle, valid on the GPU that created it; 0 is none.
type GPUBuffer uint64

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

// rawCall is a capi buffer write or read of n bytes at p, at byte offset off of buffer b.
type rawCall func(d, b, off C.uint64_t, p unsafe.Pointer, n C.size_t) C.off_gres

// transferRaw checks the byte offset off for capi function fn and runs call on b.
func (g *GPU) transferRaw(fn string, call rawCall, b GPUBuffer, off int, p unsafe.Pointer, n int) error {
	o, err := u64(fn, "offset", off)
	if err != nil {
		return err
	}
	return gpuErr(fn, call(g.handle(), C.uint64_t(b), o, p, C.size_t(n)))
}

// writeRaw copies n bytes at p to b at byte offset off.
func (g *GPU) writeRaw(b GPUBuffer, off int, p unsafe.Pointer, n int) error {
	return g.transferRaw("offload_gpu_buffer_write", func(d, b, off C.uint64_t, p unsafe.Pointer, n C.size_t) C.off_gres {
		return C.off_gpu_write(d, b, off, p, n)
	}, b, off, p, n)
}

func (g *GPU) readRaw(b GPUBuffer, off int, p unsafe.Pointer, n int) error {
	return g.transferRaw("offload_gpu_buffer_read", func(d, b, off C.uint64_t, p unsafe.Pointer, n C.size_t) C.off_gres {
		return C.off_gpu_read(d, b, off, p, n)
	}, b, off, p, n)
}

// sliceRaw is the address and byte length of x (nil, 0 when empty).
func sliceRaw[T any](x []T) (unsafe.Pointer, int) {
	if len(x) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(&x[0]), len(x) * int(unsafe.Sizeof(x[0]))
}

// writeSlice copies x's elements to b at byte offset off.
func writeSlice[T any](g *GPU, b GPUBuffer, off int, x []T) error {
	p, n := sliceRaw(x)
	return g.writeRaw(b, off, p, n)
}

// readSlice fills out from b starting at byte offset off.
func readSlice[T any](g *GPU, b GPUBuffer, off int, out []T) error {
	p, n := sliceRaw(out)
	return g.readRaw(b, off, p, n)
}

// Write copies data to buffer b at byte offset off. An empty data is a GPUZeroSize
// error.
func (g *GPU) Write(b GPUBuffer, off int, data []byte) error { return writeSlice(g, b, off, data) }

// Read copies len(out) bytes of buffer b from byte offset off into out, after all
// queued work.
func (g *GPU) Read(b GPUBuffer, off int, out []byte) error { return readSlice(g, b, off, out) }

// WriteFloat32s copies x to buffer b at byte offset off.
func (g *GPU) WriteFloat32s(b GPUBuffer, off int, x []float32) error { return writeSlice(g, b, off, x) }

// WriteFloat64s copies x to buffer b at byte offset off.
func (g *GPU) WriteFloat64s(b GPUBuffer, off int, x []float64) error { return writeSlice(g, b, off, x) }

// ReadFloat32s fills out from buffer b starting at byte offset off.
func (g *GPU) ReadFloat32s(b GPUBuffer, off int, out []float32) error {
	return readSlice(g, b, off, out)
}

// ReadFloat64s fills out from buffer b starting at byte offset off.
func (g *GPU) ReadFloat64s(b GPUBuffer, off int, out []float64) error {
	return readSlice(g, b, off, out)
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
