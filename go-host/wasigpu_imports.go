package offload

// The imports of the Go wasi:gpu host (see wasigpu.go): one declaration per WIT
// function — its module and name, its parameter and result types as WIT types
// (internal/cabi flattens them to the core signature wit-bindgen lowers to), and its
// handler — and one table of the gpu-error cases with the GPUStatus codes each stands
// for. Every import enters Go through offWasiGpuImport (wasigpu_call.go), which runs the
// declared handler and lowers its outcome into the guest's return area.

/*
#include "offload.h"
#include "wasigpu_shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"unsafe"

	"github.com/offload-project/offload/go-host/internal/cabi"
)

// ---------------------------------------------------------------------------------------
// WIT types of wasi:gpu (compute.wit, ml-kernels.wit in wasm-modules/wit/wasi-gpu).

var (
	ownBuffer       = cabi.Handle("own<buffer>")
	borrowBuffer    = cabi.Handle("borrow<buffer>")
	optBuffer       = cabi.Option(borrowBuffer)
	dtypeT          = cabi.Enum("dtype", 2)
	reduceOpT       = cabi.Enum("reduce-op", 3)
	elementwiseOpT  = cabi.Enum("elementwise-op", 4)
	matmulPrecision = cabi.Enum("matmul-precision", 2)
	splitShape      = cabi.Record("split-shape", cabi.U32, cabi.U32, cabi.U32, cabi.U32, cabi.U32)
	forestShape     = cabi.Record("forest-shape", cabi.U32, cabi.U32, cabi.U32)
	optU64          = cabi.Option(cabi.U64)
	deviceInfoT     = cabi.Record("device-info", cabi.String, cabi.String, cabi.String,
		optU64, cabi.U64, cabi.Bool, cabi.Bool, cabi.Bool)
	gpuErrorT = func() cabi.Type {
		cases := make([]cabi.Type, len(gpuErrors))
		for i := range cases {
			cases[i] = cabi.String
		}
		return cabi.Variant("gpu-error", cases...)
	}()
)

// gpuResult is result<ok, gpu-error>, the result of every wasi:gpu function.
func gpuResult(ok cabi.Type) *cabi.Type {
	t := cabi.Result(ok, gpuErrorT)
	return &t
}

// ---------------------------------------------------------------------------------------
// The gpu-error table.

// gpuErrCase is a case of wasi:gpu's gpu-error variant: its discriminant (WIT order).
// The numbers, the names and the case of each GPU status come from the wasi:gpu policy in
// offload-core, through offload.h (OFFLOAD_WASI_GPU_*, offload_wasi_gpu_error_case*):
// the Rust host applies the same policy.
type gpuErrCase uint8

// The cases of gpu-error, in WIT order.
const (
	caseUnsupported     gpuErrCase = C.OFFLOAD_WASI_GPU_UNSUPPORTED
	caseOutOfBounds     gpuErrCase = C.OFFLOAD_WASI_GPU_OUT_OF_BOUNDS
	caseZeroSize        gpuErrCase = C.OFFLOAD_WASI_GPU_ZERO_SIZE
	caseTooLarge        gpuErrCase = C.OFFLOAD_WASI_GPU_TOO_LARGE
	caseShapeMismatch   gpuErrCase = C.OFFLOAD_WASI_GPU_SHAPE_MISMATCH
	caseInvalidArgument gpuErrCase = C.OFFLOAD_WASI_GPU_INVALID_ARGUMENT
	caseQuotaExceeded   gpuErrCase = C.OFFLOAD_WASI_GPU_QUOTA_EXCEEDED
	caseDevice          gpuErrCase = C.OFFLOAD_WASI_GPU_DEVICE
)

// gpuErrors is the gpu-error table, indexed by case: its WIT name.
var gpuErrors = func() []struct{ name string } {
	t := make([]struct{ name string }, C.OFFLOAD_WASI_GPU_ERROR_CASES)
	for i := range t {
		t[i].name = C.GoString(C.offload_wasi_gpu_error_case_name(C.int32_t(i)))
	}
	return t
}()

// wasiErr is a gpu-error value to store in the guest's return area.
type wasiErr struct {
	kind gpuErrCase
	msg  string
}

func (e *wasiErr) Error() string { return gpuErrors[e.kind].name + ": " + e.msg }

func errOf(kind gpuErrCase, format string, args ...any) *wasiErr {
	return &wasiErr{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// gpuErrorCase maps a GPU wrapper error to its gpu-error case by the policy's mapping of
// its status (an error that is no *GPUError, such as a size Go cannot index, is an
// invalid argument).
func gpuErrorCase(err error) *wasiErr {
	var ge *GPUError
	if !errors.As(err, &ge) {
		return &wasiErr{kind: caseInvalidArgument, msg: err.Error()}
	}
	return &wasiErr{kind: gpuErrCase(C.offload_wasi_gpu_error_case(C.int32_t(ge.Status))), msg: ge.Msg}
}

// refused turns a refusal of the wasi:gpu policy into a gpu-error.
func refused(r *C.OffloadWasiGpuRefusal) *wasiErr {
	return &wasiErr{kind: gpuErrCase(r.error_case), msg: C.GoString(&r.message[0])}
}

// fromGPU converts a GPU wrapper error to a gpu-error (nil stays a nil error).
func fromGPU(err error) error {
	if err == nil {
		return nil
	}
	return gpuErrorCase(err)
}

// ---------------------------------------------------------------------------------------
// The declarations.

// hostFn is the Go side of one import. It reads its arguments through c, in declaration
// order, and returns nil (the result, when the function has one, is then ok: ok(_)
// unless the handler stored its payload through c.ok), a *wasiErr (stored as
// err(gpu-error)), a *trapError (traps the guest: an ABI violation) or a cTrap (a trap
// from a nested cabi_realloc, passed on).
type hostFn func(c *importCall) error

// importDecl declares one wasi:gpu import.
type importDecl struct {
	module, name string
	params       []cabi.Type
	result       *cabi.Type // nil: no result
	fn           hostFn
	// The core signature, from cabi.CoreSignature.
	coreParams, coreResults []cabi.CoreType
	retArea                 bool
}

// wasiGPUImports declares every import the host provides; an import's index is the env
// of its host function.
var wasiGPUImports = declare([]importDecl{
	{module: WasiGPUComputeModule, name: "buffer-create", fn: hostBufferCreate,
		params: []cabi.Type{cabi.U64}, result: gpuResult(ownBuffer)},
	{module: WasiGPUComputeModule, name: "buffer-write", fn: hostBufferWrite,
		params: []cabi.Type{borrowBuffer, cabi.U64, cabi.List(cabi.U8)}, result: gpuResult(cabi.Unit)},
	{module: WasiGPUComputeModule, name: "buffer-read", fn: hostBufferRead,
		params: []cabi.Type{borrowBuffer, cabi.U64, cabi.U64}, result: gpuResult(cabi.List(cabi.U8))},
	{module: WasiGPUComputeModule, name: "buffer-copy", fn: hostBufferCopy,
		params: []cabi.Type{borrowBuffer, cabi.U64, borrowBuffer, cabi.U64, cabi.U64}, result: gpuResult(cabi.Unit)},
	{module: WasiGPUComputeModule, name: "buffer-destroy", fn: hostBufferDestroy,
		params: []cabi.Type{ownBuffer}, result: gpuResult(cabi.Unit)},
	{module: WasiGPUComputeModule, name: "sync", fn: hostSync,
		result: gpuResult(cabi.Unit)},
	{module: WasiGPUComputeModule, name: "get-device-info", fn: hostGetDeviceInfo,
		result: gpuResult(deviceInfoT)},
	{module: WasiGPUComputeModule, name: "[resource-drop]buffer", fn: hostResourceDrop,
		params: []cabi.Type{ownBuffer}},
	{module: WasiGPUKernelsModule, name: "kernel-reduce", fn: hostReduce,
		params: []cabi.Type{reduceOpT, dtypeT, borrowBuffer, cabi.U64}, result: gpuResult(cabi.F64)},
	{module: WasiGPUKernelsModule, name: "kernel-elementwise", fn: hostElementwise,
		params: []cabi.Type{elementwiseOpT, dtypeT, borrowBuffer, optBuffer, cabi.F64, borrowBuffer, cabi.U64},
		result: gpuResult(cabi.Unit)},
	{module: WasiGPUKernelsModule, name: "kernel-matmul", fn: hostMatmul,
		params: []cabi.Type{matmulPrecision, borrowBuffer, borrowBuffer, borrowBuffer, cabi.U32, cabi.U32, cabi.U32},
		result: gpuResult(cabi.Unit)},
	{module: WasiGPUKernelsModule, name: "kernel-bootstrap-sample", fn: hostBootstrapSample,
		params: []cabi.Type{cabi.U64, cabi.U32, cabi.U32, cabi.U32, borrowBuffer}, result: gpuResult(cabi.Unit)},
	{module: WasiGPUKernelsModule, name: "kernel-find-split", fn: hostFindSplit,
		params: []cabi.Type{borrowBuffer, borrowBuffer, borrowBuffer, borrowBuffer, borrowBuffer, borrowBuffer, borrowBuffer, splitShape},
		result: gpuResult(cabi.Unit)},
	{module: WasiGPUKernelsModule, name: "kernel-average", fn: hostAverage,
		params: []cabi.Type{dtypeT, borrowBuffer, cabi.U32, cabi.U32, borrowBuffer}, result: gpuResult(cabi.Unit)},
	{module: WasiGPUKernelsModule, name: "kernel-batch-predict", fn: hostBatchPredict,
		params: []cabi.Type{dtypeT, borrowBuffer, borrowBuffer, borrowBuffer, borrowBuffer, borrowBuffer, borrowBuffer,
			forestShape, borrowBuffer, cabi.U32, borrowBuffer},
		result: gpuResult(cabi.Unit)},
})

// declare fills in each declaration's core signature.
func declare(ds []importDecl) []importDecl {
	for i := range ds {
		d := &ds[i]
		d.coreParams, d.coreResults, d.retArea = cabi.CoreSignature(d.params, d.result)
	}
	return ds
}

var wasiGPUImportIndex = func() map[string]int {
	m := map[string]int{}
	for i, s := range wasiGPUImports {
		m[s.module+"#"+s.name] = i
	}
	return m
}()

// WasiGPUImportNames lists the core imports this host provides, as "module.name",
// sorted.
func WasiGPUImportNames() []string {
	out := make([]string, 0, len(wasiGPUImports))
	for _, s := range wasiGPUImports {
		out = append(out, s.module+"."+s.name)
	}
	sort.Strings(out)
	return out
}

// coreBytes is a core signature as the C shim takes it (wasm_valkind_t bytes).
func coreBytes(ts []cabi.CoreType) []byte {
	out := make([]byte, len(ts))
	for i, t := range ts {
		out[i] = byte(t)
	}
	return out
}

func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// ---------------------------------------------------------------------------------------
// The handlers, one per declaration. Argument readers record the first ABI violation
// (a trap) and the first bad size (a gpu-error) in c; c.failed() reports them, the trap
// first, once the arguments are read.

func hostBufferCreate(c *importCall) error {
	w, g := c.w, c.w.host.gpu
	bytes := c.u64()
	if err := w.quota(bytes); err != nil {
		return err
	}
	n := c.size("bytes", bytes)
	if err := c.failed(); err != nil {
		return err
	}
	id, err := g.CreateBuffer(n)
	if err != nil {
		return gpuErrorCase(err)
	}
	payload, err := c.ok()
	if err != nil {
		_ = g.DestroyBuffer(id)
		return err
	}
	h := w.next
	w.next++
	w.table[h] = gpuEntry{id: id, bytes: bytes}
	w.cacheSet(h, w.table[h])
	w.bytes += bytes
	cabi.Put32(payload, h)
	return nil
}

func hostBufferWrite(c *importCall) error {
	b, off, data := c.buffer(), c.u64(), c.list("buffer-write data")
	o := c.size("offset", off)
	if err := c.failed(); err != nil {
		return err
	}
	return fromGPU(c.w.host.gpu.Write(b.id, o, data))
}

func hostBufferRead(c *importCall) error {
	b, off, bytes := c.buffer(), c.u64(), c.u64()
	if err := c.failed(); err != nil {
		return err
	}
	var r C.OffloadWasiGpuRefusal
	if !C.offload_wasi_gpu_check_read(c.w.host.quota, C.uint64_t(off), C.uint64_t(bytes), C.uint64_t(b.bytes), &r) {
		return refused(&r)
	}
	if _, err := c.area(); err != nil { // before allocating: a bad return area traps first
		return err
	}
	p, err := c.alloc(1, uint32(bytes))
	if err != nil {
		return err
	}
	if err := c.w.host.gpu.Read(b.id, int(off), c.mem[p:uint64(p)+bytes]); err != nil {
		return gpuErrorCase(err)
	}
	payload, err := c.ok()
	if err != nil {
		return err
	}
	cabi.PutString(payload, p, uint32(bytes))
	return nil
}

func hostBufferCopy(c *importCall) error {
	src, so, dst := c.buffer(), c.u64(), c.buffer()
	do, n := c.u64(), c.u64()
	srcOff, dstOff, bytes := c.size("src-offset", so), c.size("dst-offset", do), c.size("bytes", n)
	if err := c.failed(); err != nil {
		return err
	}
	return fromGPU(c.w.host.gpu.Copy(src.id, srcOff, dst.id, dstOff, bytes))
}

// dropBuffer removes the buffer of the next argument (an own<buffer>) from the table and
// destroys it on the device, returning DestroyBuffer's error; check (may be nil) runs
// between the lookup and the removal, and a failure of either keeps the buffer.
func (c *importCall) dropBuffer(check func() error) (destroyErr, err error) {
	h := c.u32()
	b, err := c.lookup(h)
	if err == nil && check != nil {
		err = check()
	}
	if err != nil {
		return nil, err
	}
	delete(c.w.table, h)
	c.w.cacheDrop(h)
	c.w.bytes -= b.bytes
	return c.w.host.gpu.DestroyBuffer(b.id), nil
}

func hostBufferDestroy(c *importCall) error {
	derr, err := c.dropBuffer(func() error { _, err := c.area(); return err })
	if err != nil {
		return err
	}
	return fromGPU(derr)
}

func hostResourceDrop(c *importCall) error {
	derr, err := c.dropBuffer(nil)
	if err != nil {
		return err
	}
	if derr != nil {
		return trapf("[resource-drop]buffer: %v", derr)
	}
	return nil
}

func hostSync(c *importCall) error { return fromGPU(c.w.host.gpu.Sync()) }

// hostGetDeviceInfo stores ok(device-info) at the offsets of the device-info record:
// three strings, option<u64> memory-bytes, u64 max-buffer-bytes, three bools.
func hostGetDeviceInfo(c *importCall) error {
	info := c.w.host.gpu.Info()
	if _, err := c.area(); err != nil {
		return err
	}
	var strs [3][2]uint32
	for i, s := range []string{info.Backend, info.Name, info.Driver} {
		p, n, err := c.lowerString(s)
		if err != nil {
			return err
		}
		strs[i] = [2]uint32{p, n}
	}
	area, err := c.area() // again: cabi_realloc may have grown memory
	if err != nil {
		return err
	}
	clear(area)
	rec, err := c.ok()
	if err != nil {
		return err
	}
	for i, s := range strs {
		cabi.PutString(rec[deviceInfoT.FieldOffset(i):], s[0], s[1])
	}
	if info.MemoryBytes != 0 {
		cabi.Put64(optU64.SetCase(rec[deviceInfoT.FieldOffset(3):], 1), info.MemoryBytes)
	}
	cabi.Put64(rec[deviceInfoT.FieldOffset(4):], info.MaxBufferBytes)
	for i, b := range []bool{info.SupportsF64, info.SupportsTF32, info.IsSoftware} {
		if b {
			rec[deviceInfoT.FieldOffset(5+i)] = 1
		}
	}
	return nil
}

func hostReduce(c *importCall) error {
	op, dt, a := c.enum(&reduceOpT), c.enum(&dtypeT), c.buffer()
	n := c.size("n", c.u64())
	if err := c.failed(); err != nil {
		return err
	}
	v, err := c.w.host.gpu.Reduce(GPUReduceOp(op), GPUDType(dt), a.id, n)
	if err != nil {
		return gpuErrorCase(err)
	}
	payload, err := c.ok()
	if err != nil {
		return err
	}
	cabi.Put64(payload, math.Float64bits(v))
	return nil
}

func hostElementwise(c *importCall) error {
	op, dt, a := c.enum(&elementwiseOpT), c.enum(&dtypeT), c.buffer()
	var bid GPUBuffer
	if some := c.enum(&optBuffer); some == 1 {
		bid = c.buffer().id
	} else {
		c.u32() // option's payload slot, unused for none
	}
	scalar, out := c.f64(), c.buffer()
	n := c.size("n", c.u64())
	if err := c.failed(); err != nil {
		return err
	}
	if bid == 0 && (op == int32(EwMul) || op == int32(EwAdd)) {
		return errOf(caseInvalidArgument, "kernel-elementwise: mul and add need operand b")
	}
	return fromGPU(c.w.host.gpu.Elementwise(GPUElementwiseOp(op), GPUDType(dt), a.id, bid, scalar, out.id, n))
}

func hostMatmul(c *importCall) error {
	p, a, b, cc := c.enum(&matmulPrecision), c.buffer(), c.buffer(), c.buffer()
	m, k, n := c.u32(), c.u32(), c.u32()
	if err := c.failed(); err != nil {
		return err
	}
	return fromGPU(c.w.host.gpu.MatmulBuffers(MatmulPrecision(p), a.id, b.id, cc.id, int(m), int(k), int(n)))
}

func hostBootstrapSample(c *importCall) error {
	seed, first, trees, rows, out := c.u64(), c.u32(), c.u32(), c.u32(), c.buffer()
	if err := c.failed(); err != nil {
		return err
	}
	return fromGPU(c.w.host.gpu.BootstrapSample(seed, first, trees, rows, out.id))
}

func hostFindSplit(c *importCall) error {
	a := GPUSplitArgs{X: c.buffer().id, Y: c.buffer().id, Order: c.buffer().id, Weights: c.buffer().id,
		NodeOf: c.buffer().id, CandRank: c.buffer().id, Out: c.buffer().id,
		NRows: c.u32(), D: c.u32(), NTrees: c.u32(), NNodes: c.u32(), MinLeaf: c.u32()} // split-shape
	if err := c.failed(); err != nil {
		return err
	}
	return fromGPU(c.w.host.gpu.FindSplit(a))
}

func hostAverage(c *importCall) error {
	dt, preds, trees, rows, out := c.enum(&dtypeT), c.buffer(), c.u32(), c.u32(), c.buffer()
	if err := c.failed(); err != nil {
		return err
	}
	return fromGPU(c.w.host.gpu.Average(GPUDType(dt), preds.id, trees, rows, out.id))
}

func hostBatchPredict(c *importCall) error {
	dt := c.enum(&dtypeT)
	f := GPUForest{Feature: c.buffer().id, Threshold: c.buffer().id, Left: c.buffer().id, Right: c.buffer().id,
		Value: c.buffer().id, TreeStart: c.buffer().id,
		NTrees: c.u32(), NNodes: c.u32(), NFeatures: c.u32()} // forest-shape
	x, rows, out := c.buffer(), c.u32(), c.buffer()
	if err := c.failed(); err != nil {
		return err
	}
	return fromGPU(c.w.host.gpu.BatchPredict(GPUDType(dt), f, x.id, rows, out.id))
}

// quota checks a new buffer of bytes bytes against the instance's handle table (the
// host's own) and quotas (the wasi:gpu policy's offload_wasi_gpu_admit_buffer).
func (w *WasiGPUInstance) quota(bytes uint64) error {
	if w.next == math.MaxUint32 {
		return errOf(caseQuotaExceeded, "instance has used all %d buffer handles", uint32(math.MaxUint32-1))
	}
	var r C.OffloadWasiGpuRefusal
	if !C.offload_wasi_gpu_admit_buffer(w.host.quota, C.uint64_t(len(w.table)), C.uint64_t(w.bytes), C.uint64_t(bytes), &r) {
		return refused(&r)
	}
	return nil
}
