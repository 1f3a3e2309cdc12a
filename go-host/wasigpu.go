package offload

// The Go host of wasi:gpu 0.1.0 (wasm-modules/wit/wasi-gpu): wasmtime-go has no component
// model, so the imports of a wit-bindgen core module (built for wasm32-wasip1, before it is
// wrapped as a component) are implemented here as core host functions that follow the
// Canonical ABI (component-model/design/mvp/CanonicalABI.md) by hand:
//
//   - parameters are flattened (MAX_FLAT_PARAMS = 16); every wasi:gpu function returns a
//     result whose flattening exceeds MAX_FLAT_RESULTS = 1, so the guest passes a
//     return-area pointer as the last parameter and the host stores the result there
//     (discriminant byte at 0, payload at the payload's alignment);
//   - list<u8> and string are (ptr, len) in linear memory; the host allocates the lists and
//     strings it returns through the guest's exported cabi_realloc;
//   - own<buffer> and borrow<buffer> are i32 indices into a per-instance handle table
//     starting at 1: a handle the instance does not own, a pointer or length outside linear
//     memory, a misaligned return area or an out-of-range enum/option discriminant traps the
//     guest, as the component model does; a GpuError is the gpu-error case with its message.
//
// The imports are created with wasmtime's unchecked host-function API
// (wasmtime_func_new_unchecked): a C trampoline (wasigpu_shim.c) passes the raw argument
// slots and the caller's memory to offWasiGpuImport below, with no boxing per call.

/*
#include <stdlib.h>
#include "wasigpu_shim.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/cgo"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Import module names of the wasi:gpu interfaces in a wit-bindgen core module.
const (
	WasiGPUComputeModule = "wasi:gpu/compute@0.1.0"
	WasiGPUKernelsModule = "wasi:gpu/ml-kernels@0.1.0"
)

// WasiGPUOptions configures a [WasiGPUHost]. Zero fields take the defaults.
type WasiGPUOptions struct {
	// MaxBuffers is the most buffers one instance may hold at once (default 1024).
	MaxBuffers int
	// MaxBytes is the most device bytes one instance may hold at once, and the largest
	// buffer-read (the copy lands in linear memory) (default 1 GiB).
	MaxBytes uint64
	// Deadline bounds the wall-clock time of one export call: a guest still running
	// after it (and at most one EpochTick more) is interrupted by wasmtime's epoch check
	// and traps (default 10 s).
	Deadline time.Duration
	// EpochTick is the period of the engine's epoch counter, the resolution of Deadline
	// (default 5 ms).
	EpochTick time.Duration
}

func (o WasiGPUOptions) withDefaults() WasiGPUOptions {
	if o.MaxBuffers <= 0 {
		o.MaxBuffers = 1024
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 30
	}
	if o.Deadline <= 0 {
		o.Deadline = 10 * time.Second
	}
	if o.EpochTick <= 0 {
		o.EpochTick = 5 * time.Millisecond
	}
	return o
}

// WasiGPUHost runs wasi:gpu guests (core modules) on one device shared by all their
// instances; each instance has its own handle table and quotas. Safe for concurrent use.
// Close stops its epoch ticker; it does not close the GPU.
type WasiGPUHost struct {
	gpu    *GPU
	opts   WasiGPUOptions
	engine *wasmtime.Engine
	ticks  uint64 // epoch ticks per Deadline
	stop   chan struct{}
	once   sync.Once
}

// NewWasiGPUHost makes a host over gpu (opened with [OpenGPU]; the caller closes it after
// the host and its instances). An engine with epoch interruption is created, and a
// goroutine advances its epoch every opts.EpochTick until Close.
func NewWasiGPUHost(gpu *GPU, opts WasiGPUOptions) (*WasiGPUHost, error) {
	if gpu == nil {
		return nil, errors.New("wasi:gpu host: nil *GPU")
	}
	if err := checkLayout(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	cfg := wasmtime.NewConfig()
	cfg.SetEpochInterruption(true)
	h := &WasiGPUHost{
		gpu:    gpu,
		opts:   opts,
		engine: wasmtime.NewEngineWithConfig(cfg),
		// One tick more than Deadline/EpochTick: the epoch may advance just after the
		// deadline is set, so a guest runs at least Deadline and at most one tick more.
		ticks: uint64((opts.Deadline+opts.EpochTick-1)/opts.EpochTick) + 1,
		stop:  make(chan struct{}),
	}
	go func(engine *wasmtime.Engine, tick time.Duration, stop <-chan struct{}) {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				engine.IncrementEpoch()
			}
		}
	}(h.engine, opts.EpochTick, h.stop)
	return h, nil
}

// Close stops the epoch ticker; instances still open can no longer be interrupted, so
// close them first.
func (h *WasiGPUHost) Close() error {
	h.once.Do(func() { close(h.stop) })
	return nil
}

// GPU is the device the host's guests run on.
func (h *WasiGPUHost) GPU() *GPU { return h.gpu }

// Options are the host's options with defaults filled in.
func (h *WasiGPUHost) Options() WasiGPUOptions { return h.opts }

// WasiGPUModule is a compiled wasi:gpu guest, ready to be instantiated any number of times.
type WasiGPUModule struct {
	host     *WasiGPUHost
	name     string
	module   *wasmtime.Module
	gpuFns   []int // indices into wasiGPUImports, in the module's import order
	needWasi bool
}

// Compile reads and compiles a core module and checks its imports: only the wasi:gpu
// functions below and wasi_snapshot_preview1 are provided.
func (h *WasiGPUHost) Compile(path string) (*WasiGPUModule, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasi:gpu guest: %w", err)
	}
	name := filepath.Base(path)
	mod, err := wasmtime.NewModule(h.engine, wasm)
	if err != nil {
		return nil, fmt.Errorf("wasi:gpu guest %s: compile: %w", name, err)
	}
	m := &WasiGPUModule{host: h, name: name, module: mod}
	var unknown []string
	for _, imp := range mod.Imports() {
		field := ""
		if imp.Name() != nil {
			field = *imp.Name()
		}
		switch imp.Module() {
		case "wasi_snapshot_preview1":
			m.needWasi = true
		case WasiGPUComputeModule, WasiGPUKernelsModule:
			i, ok := wasiGPUImportIndex[imp.Module()+"#"+field]
			if !ok {
				unknown = append(unknown, imp.Module()+"."+field)
				continue
			}
			m.gpuFns = append(m.gpuFns, i)
		default:
			unknown = append(unknown, imp.Module()+"."+field)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("wasi:gpu guest %s imports what this host does not provide: %s", name, strings.Join(unknown, ", "))
	}
	return m, nil
}

// Instantiate compiles the core module at path and makes one instance of it.
func (h *WasiGPUHost) Instantiate(path string) (*WasiGPUInstance, error) {
	m, err := h.Compile(path)
	if err != nil {
		return nil, err
	}
	return m.Instantiate()
}

// Name is the module's file name.
func (m *WasiGPUModule) Name() string { return m.name }

// GuestError is an export's err(string) result: the guest ran and reported a failure
// (its gpu-error cases arrive as "<case>: <message>" in the demo guest).
type GuestError struct {
	Export string
	Msg    string
}

func (e *GuestError) Error() string { return fmt.Sprintf("guest %s returned err: %s", e.Export, e.Msg) }

// gpuEntry is one live buffer of an instance's handle table.
type gpuEntry struct {
	id    GPUBuffer
	bytes uint64
}

// WasiGPUInstance is one instance of a wasi:gpu guest: its store, linear memory, handle
// table (buffers it owns) and quota counters. Calls are serialised by a mutex, so one
// instance is safe for concurrent use; run instances in parallel for parallelism. After a
// trap (including an interrupt at the deadline) the instance refuses further calls, as a
// trapped component instance does. Close frees its buffers; it must be called.
type WasiGPUInstance struct {
	mu     sync.Mutex
	host   *WasiGPUHost
	name   string
	store  *wasmtime.Store
	inst   *wasmtime.Instance
	c      *C.off_gpu_inst_t
	handle cgo.Handle

	table map[uint32]gpuEntry
	next  uint32 // next handle; handles are never reused within an instance
	bytes uint64 // device bytes held

	exports map[string]*wasmtime.Func
	broken  error
	// trap is the message of the last trap raised by an import, kept because wasmtime
	// reports host traps with its own wording.
	trap string
}

// Instantiate makes a new instance with its own store and handle table: links WASI and
// the wasi:gpu imports, runs `_initialize`, and looks up the exports.
func (m *WasiGPUModule) Instantiate() (_ *WasiGPUInstance, err error) {
	h := m.host
	w := &WasiGPUInstance{host: h, name: m.name, table: map[uint32]gpuEntry{}, next: 1, exports: map[string]*wasmtime.Func{}}
	w.store = wasmtime.NewStore(h.engine)
	w.handle = cgo.NewHandle(w)
	w.c = C.off_gpu_inst_new(C.uintptr_t(w.handle))
	if w.c == nil {
		w.handle.Delete()
		return nil, errors.New("wasi:gpu host: out of C memory")
	}
	defer func() {
		if err != nil {
			_ = w.Close()
		}
	}()
	linker := wasmtime.NewLinker(h.engine)
	defer linker.Close()
	if m.needWasi {
		if err := linker.DefineWasi(); err != nil {
			return nil, fmt.Errorf("wasi:gpu guest %s: define WASI: %w", m.name, err)
		}
		w.store.SetWasi(wasmtime.NewWasiConfig())
	}
	ctx := (*C.wasmtime_context_t)(unsafe.Pointer(w.store.Context()))
	for _, i := range m.gpuFns {
		spec := &wasiGPUImports[i]
		var raw C.off_gw_func_t
		params, results := kindBytes(spec.params), kindBytes(spec.results)
		if C.off_gpu_func_new(ctx, w.c, C.int32_t(i), bytesPtr(params), C.size_t(len(params)),
			bytesPtr(results), C.size_t(len(results)), &raw) != 0 {
			return nil, fmt.Errorf("wasi:gpu host: cannot create import %s", spec.name)
		}
		f := new(wasmtime.Func)
		// wasmtime-go's Func is exactly a wasmtime_func_t (checked by checkLayout).
		*(*C.off_gw_func_t)(unsafe.Pointer(f)) = raw
		if err := linker.Define(w.store, spec.module, spec.name, f); err != nil {
			return nil, fmt.Errorf("wasi:gpu guest %s: define %s.%s: %w", m.name, spec.module, spec.name, err)
		}
	}
	w.inst, err = linker.Instantiate(w.store, m.module)
	if err != nil {
		return nil, fmt.Errorf("wasi:gpu guest %s: instantiate: %w", m.name, err)
	}
	mem := w.inst.GetExport(w.store, "memory")
	if mem == nil || mem.Memory() == nil {
		return nil, fmt.Errorf("wasi:gpu guest %s: missing export \"memory\"", m.name)
	}
	w.c.mem = *(*C.off_gw_memory_t)(unsafe.Pointer(mem.Memory()))
	w.c.has_mem = 1
	if f := w.inst.GetFunc(w.store, "cabi_realloc"); f != nil {
		w.c.realloc = *(*C.off_gw_func_t)(unsafe.Pointer(f))
		w.c.has_realloc = 1
	} else {
		return nil, fmt.Errorf("wasi:gpu guest %s: missing export \"cabi_realloc\" (canonical ABI)", m.name)
	}
	for _, e := range m.module.Exports() {
		if e.Type().FuncType() != nil {
			if fn := w.inst.GetFunc(w.store, e.Name()); fn != nil {
				w.exports[e.Name()] = fn
			}
		}
	}
	if f := w.exports["_initialize"]; f != nil {
		w.store.SetEpochDeadline(h.ticks)
		if _, err := f.Call(w.store); err != nil {
			return nil, fmt.Errorf("wasi:gpu guest %s: _initialize: %w", m.name, w.trapErr("_initialize", err))
		}
	}
	return w, nil
}

// Close destroys every buffer the instance still holds, closes its store and frees its C
// state. Calls afterwards return ErrClosed; closing twice is a no-op.
func (w *WasiGPUInstance) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.c == nil {
		return nil
	}
	var errs []error
	for h, e := range w.table {
		if err := w.host.gpu.DestroyBuffer(e.id); err != nil {
			errs = append(errs, fmt.Errorf("buffer handle %d: %w", h, err))
		}
	}
	w.table = map[uint32]gpuEntry{}
	w.bytes = 0
	if w.store != nil {
		w.store.Close()
	}
	C.off_gpu_inst_free(w.c)
	w.c = nil
	w.handle.Delete()
	w.broken = ErrClosed
	return errors.Join(errs...)
}

// Buffers is the number of buffers the instance holds and their size in bytes.
func (w *WasiGPUInstance) Buffers() (n int, bytes uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.table), w.bytes
}

// Name is the module's file name.
func (w *WasiGPUInstance) Name() string { return w.name }

// ---------------------------------------------------------------------------------------
// Exports: calling the guest and lifting its results.

func (w *WasiGPUInstance) ready() error {
	if w.broken != nil {
		if errors.Is(w.broken, ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("wasi:gpu guest %s unusable after an earlier trap (%w); create a new instance", w.name, w.broken)
	}
	return nil
}

// trapErr turns an error of a guest call into a *TrapError, preferring the host's own
// message for a trap raised by an import.
func (w *WasiGPUInstance) trapErr(export string, err error) error {
	msg := err.Error()
	if w.trap != "" {
		msg = w.trap // wasmtime's message repeats it, with a backtrace
		w.trap = ""
	}
	return &TrapError{Export: export, Msg: msg}
}

// call runs an export under the deadline; a trap marks the instance broken.
func (w *WasiGPUInstance) call(export string, args ...interface{}) (interface{}, error) {
	f := w.exports[export]
	if f == nil {
		return nil, fmt.Errorf("wasi:gpu guest %s: missing export %q", w.name, export)
	}
	w.store.SetEpochDeadline(w.host.ticks)
	v, err := f.Call(w.store, args...)
	if err != nil {
		err = w.trapErr(export, err)
		w.broken = err
		return nil, err
	}
	return v, nil
}

// mem is the current linear memory.
func (w *WasiGPUInstance) mem() []byte {
	ext := w.inst.GetExport(w.store, "memory")
	return ext.Memory().UnsafeData(w.store)
}

// resultPtr calls an export whose result goes through a return area and returns the
// area's address, checked against memory and alignment.
func (w *WasiGPUInstance) resultPtr(export string, size, align int, args ...interface{}) (int, error) {
	v, err := w.call(export, args...)
	if err != nil {
		return 0, err
	}
	p, ok := v.(int32)
	if !ok {
		return 0, fmt.Errorf("wasi:gpu guest %s: %s returned %T, want an i32 return-area pointer", w.name, export, v)
	}
	ptr := int(uint32(p))
	if ptr%align != 0 || ptr+size > len(w.mem()) {
		return 0, fmt.Errorf("wasi:gpu guest %s: %s returned return area %d (%d bytes, align %d) outside memory of %d bytes", w.name, export, ptr, size, align, len(w.mem()))
	}
	return ptr, nil
}

// postReturn calls cabi_post_<export>(ptr) when the guest exports it.
func (w *WasiGPUInstance) postReturn(export string, ptr int) error {
	name := "cabi_post_" + export
	if w.exports[name] == nil {
		return nil
	}
	_, err := w.call(name, int32(uint32(ptr)))
	return err
}

// liftString reads a (ptr, len) string at addr of memory as UTF-8.
func (w *WasiGPUInstance) liftString(export string, addr int) (string, error) {
	m := w.mem()
	p := int(le32(m[addr:]))
	n := int(le32(m[addr+4:]))
	if p+n > len(m) {
		return "", fmt.Errorf("wasi:gpu guest %s: %s returned a string at %d of %d bytes outside memory of %d bytes", w.name, export, p, n, len(m))
	}
	s := string(m[p : p+n])
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("wasi:gpu guest %s: %s returned a string that is not UTF-8", w.name, export)
	}
	return s, nil
}

// guestAlloc allocates n bytes of alignment align in linear memory through the guest's
// cabi_realloc(0, 0, align, n), as the canonical ABI lowers a list or string argument of
// an export (the guest owns the block from then on: the export's lifting code frees it).
// n = 0 makes no call and returns align, an aligned address any empty list may carry.
// Errors: n over 2^31−1 bytes, a trap in cabi_realloc (the instance is then unusable),
// an address misaligned or with the block outside linear memory.
func (w *WasiGPUInstance) guestAlloc(export string, align, n int) (int, error) {
	if n == 0 {
		return align, nil
	}
	if n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("wasi:gpu guest %s: %s: an argument of %d bytes does not fit 32-bit linear memory", w.name, export, n)
	}
	v, err := w.call("cabi_realloc", int32(0), int32(0), int32(align), int32(n))
	if err != nil {
		return 0, err
	}
	p, ok := v.(int32)
	if !ok {
		return 0, fmt.Errorf("wasi:gpu guest %s: cabi_realloc returned %T, want i32", w.name, v)
	}
	ptr := int(uint32(p))
	if ptr%align != 0 || uint64(ptr)+uint64(n) > uint64(len(w.mem())) {
		return 0, fmt.Errorf("wasi:gpu guest %s: cabi_realloc(0, 0, %d, %d) returned %d, misaligned or outside memory of %d bytes", w.name, align, n, ptr, len(w.mem()))
	}
	return ptr, nil
}

// lowerList copies data (a list's elements, already little-endian as linear memory is)
// into a block from guestAlloc of alignment align and returns the (ptr, len) pair of the
// flattened list, len in elements of elemSize bytes.
func (w *WasiGPUInstance) lowerList(export string, align, elemSize int, data []byte) (ptr, n int32, err error) {
	p, err := w.guestAlloc(export, align, len(data))
	if err != nil {
		return 0, 0, err
	}
	copy(w.mem()[p:], data)
	return int32(uint32(p)), int32(len(data) / elemSize), nil
}

// liftList reads the (ptr, len) pair of a list at addr of memory (ptr at addr, length in
// elements at addr+4) and returns the list's bytes, checked as the canonical ABI's
// lift_list does: ptr aligned to align, the len·elemSize bytes inside linear memory. The
// slice aliases linear memory: copy it out before the next call into the guest.
func (w *WasiGPUInstance) liftList(export string, m []byte, addr, elemSize, align int) ([]byte, error) {
	if addr < 0 || addr+8 > len(m) {
		return nil, fmt.Errorf("wasi:gpu guest %s: %s: list header at %d outside memory of %d bytes", w.name, export, addr, len(m))
	}
	p, n := uint64(le32(m[addr:])), uint64(le32(m[addr+4:]))
	end := p + n*uint64(elemSize)
	if p%uint64(align) != 0 || end > uint64(len(m)) {
		return nil, fmt.Errorf("wasi:gpu guest %s: %s returned a list at %d of %d elements of %d bytes (align %d), misaligned or outside memory of %d bytes", w.name, export, p, n, elemSize, align, len(m))
	}
	return m[p:end], nil
}

// callResult calls an export returning result<T, string>: lift reads T's payload at
// offset payload of the return area (payload = 4 for T = string or unit, 8 for f64).
func (w *WasiGPUInstance) callResult(export string, payload int, lift func(m []byte, at int) error, args ...interface{}) error {
	return w.callResultN(export, payload, 8, lift, args...)
}

// callResultN is callResult for a T of any size: the return area holds the discriminant
// byte at 0 and max(size(T), 8) payload bytes (8: the err string's (ptr, len)) at
// payload, T's alignment (at least 4).
func (w *WasiGPUInstance) callResultN(export string, payload, payloadSize int, lift func(m []byte, at int) error, args ...interface{}) error {
	if err := w.ready(); err != nil {
		return err
	}
	size := payload + max(payloadSize, 8)
	ptr, err := w.resultPtr(export, size, payload, args...)
	if err != nil {
		return err
	}
	m := w.mem()
	var res error
	switch m[ptr] {
	case 0:
		if lift != nil {
			res = lift(m, ptr+payload)
		}
	case 1:
		msg, err := w.liftString(export, ptr+payload)
		if err != nil {
			res = err
		} else {
			res = &GuestError{Export: export, Msg: msg}
		}
	default:
		res = fmt.Errorf("wasi:gpu guest %s: %s returned result discriminant %d", w.name, export, m[ptr])
	}
	if err := w.postReturn(export, ptr); err != nil {
		return err
	}
	return res
}

func (w *WasiGPUInstance) stringResult(export string, args ...interface{}) (string, error) {
	var out string
	err := w.callResult(export, 4, func(_ []byte, at int) error {
		s, err := w.liftString(export, at)
		out = s
		return err
	}, args...)
	return out, err
}

func (w *WasiGPUInstance) f64Result(export string, args ...interface{}) (float64, error) {
	var out float64
	err := w.callResult(export, 8, func(m []byte, at int) error {
		out = math.Float64frombits(le64(m[at:]))
		return nil
	}, args...)
	return out, err
}

// Run calls the guest's `run` export (sum, dot and matmul through wasi:gpu, checked in
// the guest) and returns its report.
func (w *WasiGPUInstance) Run() (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stringResult("run")
}

// CallLoop calls `call-loop(n)`: n buffer-write imports of 4 bytes each.
func (w *WasiGPUInstance) CallLoop(n uint32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.callResult("call-loop", 4, nil, int32(n))
}

// Sum calls `sum(n)`: Σ of the guest's seeded f32 vector of n elements on the device
// (upload, kernel-reduce, destroy).
func (w *WasiGPUInstance) Sum(n uint32) (float64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f64Result("sum", int32(n))
}

// Dot calls `dot(n)`: Σ a·b of the guest's seeded f32 vectors of n elements on the device.
func (w *WasiGPUInstance) Dot(n uint32) (float64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f64Result("dot", int32(n))
}

// Matmul calls `matmul(n, tf32)`: C = A·B of the guest's seeded n×n f32 matrices through
// the device (uploads, kernel-matmul, read-back of C) and returns Σ C.
func (w *WasiGPUInstance) Matmul(n uint32, tf32 bool) (float64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := int32(0)
	if tf32 {
		t = 1
	}
	return w.f64Result("matmul", int32(n), t)
}

// Probe calls `probe(name, arg)`, one of the guest's isolation probes. A probe the host
// refuses with a gpu-error comes back as *GuestError, an ABI violation as *TrapError.
func (w *WasiGPUInstance) Probe(name string, arg uint64) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return "", err
	}
	// Lower the string argument: allocate it in the guest through cabi_realloc.
	v, err := w.call("cabi_realloc", int32(0), int32(0), int32(1), int32(len(name)))
	if err != nil {
		return "", err
	}
	p, ok := v.(int32)
	if !ok {
		return "", fmt.Errorf("wasi:gpu guest %s: cabi_realloc returned %T", w.name, v)
	}
	m := w.mem()
	if int(uint32(p))+len(name) > len(m) {
		return "", fmt.Errorf("wasi:gpu guest %s: cabi_realloc returned %d, outside memory", w.name, uint32(p))
	}
	copy(m[uint32(p):], name)
	return w.stringResult("probe", p, int32(len(name)), int64(arg))
}

// ---------------------------------------------------------------------------------------
// Imports: the host side of the wasi:gpu functions.

// Import function indices (the env of each host function).
const (
	impBufferCreate = iota
	impBufferWrite
	impBufferRead
	impBufferCopy
	impBufferDestroy
	impSync
	impGetDeviceInfo
	impResourceDrop
	impReduce
	impElementwise
	impMatmul
	impBootstrapSample
	impFindSplit
	impAverage
	impBatchPredict
)

type importSpec struct {
	module, name    string
	params, results []wasmtime.ValKind
}

func kinds(spec string) []wasmtime.ValKind {
	out := make([]wasmtime.ValKind, 0, len(spec))
	for _, c := range spec {
		switch c {
		case 'i':
			out = append(out, wasmtime.KindI32)
		case 'I':
			out = append(out, wasmtime.KindI64)
		case 'F':
			out = append(out, wasmtime.KindF64)
		}
	}
	return out
}

// wasiGPUImports are the core signatures wit-bindgen lowers the WIT functions to:
// i = i32, I = i64, F = f64; the last i of each function with a result is the
// return-area pointer.
var wasiGPUImports = [...]importSpec{
	impBufferCreate:    {WasiGPUComputeModule, "buffer-create", kinds("Ii"), nil},
	impBufferWrite:     {WasiGPUComputeModule, "buffer-write", kinds("iIiii"), nil},
	impBufferRead:      {WasiGPUComputeModule, "buffer-read", kinds("iIIi"), nil},
	impBufferCopy:      {WasiGPUComputeModule, "buffer-copy", kinds("iIiIIi"), nil},
	impBufferDestroy:   {WasiGPUComputeModule, "buffer-destroy", kinds("ii"), nil},
	impSync:            {WasiGPUComputeModule, "sync", kinds("i"), nil},
	impGetDeviceInfo:   {WasiGPUComputeModule, "get-device-info", kinds("i"), nil},
	impResourceDrop:    {WasiGPUComputeModule, "[resource-drop]buffer", kinds("i"), nil},
	impReduce:          {WasiGPUKernelsModule, "kernel-reduce", kinds("iiiIi"), nil},
	impElementwise:     {WasiGPUKernelsModule, "kernel-elementwise", kinds("iiiiiFiIi"), nil},
	impMatmul:          {WasiGPUKernelsModule, "kernel-matmul", kinds("iiiiiiii"), nil},
	impBootstrapSample: {WasiGPUKernelsModule, "kernel-bootstrap-sample", kinds("Iiiiii"), nil},
	impFindSplit:       {WasiGPUKernelsModule, "kernel-find-split", kinds("iiiiiiiiiiiii"), nil},
	impAverage:         {WasiGPUKernelsModule, "kernel-average", kinds("iiiiii"), nil},
	impBatchPredict:    {WasiGPUKernelsModule, "kernel-batch-predict", kinds("iiiiiiiiiiiiii"), nil},
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

func kindBytes(ks []wasmtime.ValKind) []byte {
	out := make([]byte, len(ks))
	for i, k := range ks {
		out[i] = byte(k) // wasm_valkind_t: 0 i32, 1 i64, 2 f32, 3 f64
	}
	return out
}

func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// gpu-error cases, in WIT order.
const (
	gpuErrUnsupported uint8 = iota
	gpuErrOutOfBounds
	gpuErrZeroSize
	gpuErrTooLarge
	gpuErrShapeMismatch
	gpuErrInvalidArgument
	gpuErrQuotaExceeded
	gpuErrDevice
)

// wasiErr is a gpu-error value to store in the guest's return area.
type wasiErr struct {
	kind uint8
	msg  string
}

func errOf(kind uint8, format string, args ...any) *wasiErr {
	return &wasiErr{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// gpuErrorCase maps a capi error to its gpu-error case.
func gpuErrorCase(err error) *wasiErr {
	var ge *GPUError
	if !errors.As(err, &ge) {
		return &wasiErr{kind: gpuErrInvalidArgument, msg: err.Error()}
	}
	k := gpuErrDevice
	switch ge.Status {
	case GPUUnsupported:
		k = gpuErrUnsupported
	case GPUOutOfBounds:
		k = gpuErrOutOfBounds
	case GPUZeroSize:
		k = gpuErrZeroSize
	case GPUTooLarge:
		k = gpuErrTooLarge
	case GPUShapeMismatch:
		k = gpuErrShapeMismatch
	case GPUInvalidArgument, GPUInvalidHandle:
		k = gpuErrInvalidArgument
	}
	return &wasiErr{kind: k, msg: ge.Msg}
}

// trapError is an ABI violation: the import traps the guest with this message.
type trapError struct{ msg string }

func (t *trapError) Error() string { return t.msg }

func trapf(format string, args ...any) *trapError {
	return &trapError{msg: "wasi:gpu: " + fmt.Sprintf(format, args...)}
}

// importCall is the state of one import call: the instance, the raw argument slots and
// the caller's memory.
type importCall struct {
	w    *WasiGPUInstance
	ctx  *C.wasmtime_context_t
	args []C.off_gw_val_raw_t
	mem  []byte
}

func (c *importCall) u32(i int) uint32 {
	return uint32(*(*int32)(unsafe.Pointer(&c.args[i])))
}
func (c *importCall) u64(i int) uint64 {
	return uint64(*(*int64)(unsafe.Pointer(&c.args[i])))
}
func (c *importCall) f64(i int) float64 { return *(*float64)(unsafe.Pointer(&c.args[i])) }

// span checks [ptr, ptr+n) against linear memory (a trap otherwise).
func (c *importCall) span(what string, ptr, n uint32) ([]byte, *trapError) {
	end := uint64(ptr) + uint64(n)
	if end > uint64(len(c.mem)) {
		return nil, trapf("%s [%d, %d) is outside linear memory of %d bytes", what, ptr, end, len(c.mem))
	}
	return c.mem[ptr:end], nil
}

// retArea checks the return-area pointer (last argument) for size and alignment.
func (c *importCall) retArea(i int, size, align uint32) ([]byte, *trapError) {
	p := c.u32(i)
	if p%align != 0 {
		return nil, trapf("return area %d is not %d-byte aligned", p, align)
	}
	return c.span("return area", p, size)
}

// buffer looks up a handle the instance owns (a trap otherwise: canonical ABI).
func (c *importCall) buffer(i int) (gpuEntry, *trapError) {
	h := c.u32(i)
	e, ok := c.w.table[h]
	if !ok {
		return gpuEntry{}, trapf("unknown handle %d: this instance owns no buffer with that handle (never created, destroyed, or another instance's)", h)
	}
	return e, nil
}

// alloc allocates n bytes of alignment align in the guest through cabi_realloc and
// refreshes the memory view.
func (c *importCall) alloc(align, n uint32) (uint32, *trapError, *C.wasm_trap_t) {
	r := C.off_gpu_realloc(c.ctx, c.w.c, C.int32_t(align), C.int32_t(n))
	if r.trap != nil {
		return 0, nil, r.trap
	}
	c.mem = unsafe.Slice((*byte)(unsafe.Pointer(r.base)), int(r.size))
	p := uint32(r.ptr)
	if p%align != 0 || uint64(p)+uint64(n) > uint64(len(c.mem)) {
		return 0, trapf("cabi_realloc returned %d for %d bytes (align %d), outside linear memory of %d bytes", p, n, align, len(c.mem)), nil
	}
	return p, nil, nil
}

// lowerString allocates s in the guest and returns (ptr, len).
func (c *importCall) lowerString(s string) (uint32, uint32, *trapError, *C.wasm_trap_t) {
	if len(s) == 0 {
		return 1, 0, nil, nil // any aligned pointer for an empty string
	}
	p, t, wt := c.alloc(1, uint32(len(s)))
	if t != nil || wt != nil {
		return 0, 0, t, wt
	}
	copy(c.mem[p:], s)
	return p, uint32(len(s)), nil, nil
}

// storeErr stores err(gpu-error) in a return area at retptr (argument slot i) whose
// payload is at payload bytes: result discriminant 1, then the gpu-error case byte and
// its string (ptr, len) at payload+4.
func (c *importCall) storeErr(i int, payload uint32, e *wasiErr) (*trapError, *C.wasm_trap_t) {
	p, n, t, wt := c.lowerString(e.msg)
	if t != nil || wt != nil {
		return t, wt
	}
	align := max(4, payload)
	ret, t := c.retArea(i, (payload+12+align-1)/align*align, align)
	if t != nil {
		return t, nil
	}
	ret[0] = 1
	ret[payload] = e.kind
	put32(ret[payload+4:], p)
	put32(ret[payload+8:], n)
	return nil, nil
}

// storeOK stores ok(_) (discriminant 0) in a result<_, gpu-error> return area.
func (c *importCall) storeOK(i int) *trapError {
	ret, t := c.retArea(i, 16, 4)
	if t != nil {
		return t
	}
	ret[0] = 0
	return nil
}

var le = binary.LittleEndian

func le32(b []byte) uint32     { return le.Uint32(b) }
func le64(b []byte) uint64     { return le.Uint64(b) }
func put32(b []byte, v uint32) { le.PutUint32(b, v) }
func put64(b []byte, v uint64) { le.PutUint64(b, v) }

// intArg converts a u64 offset or size to int for the GPU wrapper; values past
// math.MaxInt64 cannot address any buffer.
func intArg(what string, v uint64) (int, *wasiErr) {
	if v > math.MaxInt64 {
		return 0, errOf(gpuErrOutOfBounds, "%s %d is past the end of any buffer", what, v)
	}
	return int(v), nil
}

// enumArg checks an enum or option discriminant (a trap when out of range).
func (c *importCall) enumArg(i int, what string, cases uint32) (int32, *trapError) {
	v := c.u32(i)
	if v >= cases {
		return 0, trapf("%s discriminant %d out of range (%d cases)", what, v, cases)
	}
	return int32(v), nil
}

//export offWasiGpuImport
func offWasiGpuImport(handle C.uintptr_t, fn C.int32_t, base *C.uint8_t, size C.size_t,
	ctx *C.wasmtime_context_t, args *C.off_gw_val_raw_t, nargs C.size_t) (trap *C.wasm_trap_t) {
	var w *WasiGPUInstance
	defer func() {
		// No Go panic may unwind through wasmtime's frames: it becomes a trap.
		if p := recover(); p != nil {
			msg := fmt.Sprintf("wasi:gpu host panic in import %d: %v", int(fn), p)
			if w != nil {
				w.trap = msg
			}
			trap = newTrap(msg)
		}
	}()
	w, _ = cgo.Handle(handle).Value().(*WasiGPUInstance)
	if w == nil {
		return newTrap("wasi:gpu host: unknown instance")
	}
	c := importCall{w: w, ctx: ctx, args: unsafe.Slice(args, int(nargs))}
	if base != nil {
		c.mem = unsafe.Slice((*byte)(unsafe.Pointer(base)), int(size))
	}
	t, wt := c.dispatch(int(fn))
	if wt != nil {
		return wt
	}
	if t != nil {
		w.trap = t.msg
		return newTrap(t.msg)
	}
	return nil
}

// newTrap makes a wasmtime trap with message msg (wasmtime copies it).
func newTrap(msg string) *C.wasm_trap_t {
	cs := C.CString(msg)
	defer C.free(unsafe.Pointer(cs))
	return C.off_gpu_trap(cs, C.size_t(len(msg)))
}

// result finishes an import returning result<_, gpu-error> from an error (nil = ok).
func (c *importCall) result(ret int, e *wasiErr) (*trapError, *C.wasm_trap_t) {
	if e != nil {
		return c.storeErr(ret, 4, e)
	}
	return c.storeOK(ret), nil
}

// fromGPU converts a GPU wrapper error to a gpu-error (nil stays nil).
func fromGPU(err error) *wasiErr {
	if err == nil {
		return nil
	}
	return gpuErrorCase(err)
}

// dispatch runs import fn: a *trapError traps the guest with its message, a
// *C.wasm_trap_t (from a nested cabi_realloc) is passed on as it is.
func (c *importCall) dispatch(fn int) (*trapError, *C.wasm_trap_t) {
	w, g := c.w, c.w.host.gpu
	switch fn {
	case impBufferCreate: // (bytes: u64, ret) -> result<own<buffer>, gpu-error>
		bytes := c.u64(0)
		if e := w.quota(bytes); e != nil {
			return c.storeErr(1, 4, e)
		}
		n, e := intArg("bytes", bytes)
		if e != nil {
			return c.storeErr(1, 4, e)
		}
		id, err := g.CreateBuffer(n)
		if err != nil {
			return c.storeErr(1, 4, gpuErrorCase(err))
		}
		ret, t := c.retArea(1, 16, 4)
		if t != nil {
			_ = g.DestroyBuffer(id)
			return t, nil
		}
		h := w.next
		w.next++
		w.table[h] = gpuEntry{id: id, bytes: bytes}
		w.bytes += bytes
		ret[0] = 0
		put32(ret[4:], h)
		return nil, nil

	case impBufferWrite: // (buf, offset: u64, data ptr, data len, ret)
		b, t := c.buffer(0)
		if t != nil {
			return t, nil
		}
		data, t := c.span("buffer-write data", c.u32(2), c.u32(3))
		if t != nil {
			return t, nil
		}
		off, e := intArg("offset", c.u64(1))
		if e != nil {
			return c.result(4, e)
		}
		return c.result(4, fromGPU(g.Write(b.id, off, data)))

	case impBufferRead: // (buf, offset: u64, bytes: u64, ret) -> result<list<u8>, gpu-error>
		b, t := c.buffer(0)
		if t != nil {
			return t, nil
		}
		off, bytes := c.u64(1), c.u64(2)
		switch {
		case bytes == 0:
			return c.storeErr(3, 4, errOf(gpuErrZeroSize, "buffer-read of 0 bytes"))
		case bytes > w.host.opts.MaxBytes:
			return c.storeErr(3, 4, errOf(gpuErrQuotaExceeded, "buffer-read of %d bytes is over the instance's byte quota of %d", bytes, w.host.opts.MaxBytes))
		case off > b.bytes || bytes > b.bytes-off:
			return c.storeErr(3, 4, errOf(gpuErrOutOfBounds, "buffer-read of %d bytes at offset %d is past the end of a %d-byte buffer", bytes, off, b.bytes))
		case bytes > math.MaxInt32:
			return c.storeErr(3, 4, errOf(gpuErrTooLarge, "buffer-read of %d bytes does not fit 32-bit linear memory", bytes))
		}
		if _, t := c.retArea(3, 16, 4); t != nil {
			return t, nil
		}
		p, t, wt := c.alloc(1, uint32(bytes))
		if t != nil || wt != nil {
			return t, wt
		}
		if err := g.Read(b.id, int(off), c.mem[p:uint64(p)+bytes]); err != nil {
			return c.storeErr(3, 4, gpuErrorCase(err))
		}
		ret, t := c.retArea(3, 16, 4)
		if t != nil {
			return t, nil
		}
		ret[0] = 0
		put32(ret[4:], p)
		put32(ret[8:], uint32(bytes))
		return nil, nil

	case impBufferCopy: // (src, src-off, dst, dst-off, bytes, ret)
		src, t := c.buffer(0)
		if t != nil {
			return t, nil
		}
		dst, t := c.buffer(2)
		if t != nil {
			return t, nil
		}
		so, e := intArg("src-offset", c.u64(1))
		if e == nil {
			var do, n int
			if do, e = intArg("dst-offset", c.u64(3)); e == nil {
				if n, e = intArg("bytes", c.u64(4)); e == nil {
					e = fromGPU(g.Copy(src.id, so, dst.id, do, n))
				}
			}
		}
		return c.result(5, e)

	case impBufferDestroy, impResourceDrop: // (own<buffer>[, ret])
		b, t := c.buffer(0)
		if t != nil {
			return t, nil
		}
		if fn == impBufferDestroy {
			if _, t := c.retArea(1, 16, 4); t != nil {
				return t, nil
			}
		}
		delete(w.table, c.u32(0))
		w.bytes -= b.bytes
		err := g.DestroyBuffer(b.id)
		if fn == impResourceDrop {
			if err != nil {
				return trapf("[resource-drop]buffer: %v", err), nil
			}
			return nil, nil
		}
		return c.result(1, fromGPU(err))

	case impSync: // (ret)
		return c.result(0, fromGPU(g.Sync()))

	case impGetDeviceInfo: // (ret) -> result<device-info, gpu-error>
		return c.deviceInfo(g.Info())

	case impReduce: // (op, dtype, a, n: u64, ret) -> result<f64, gpu-error>
		op, t := c.enumArg(0, "reduce-op", 3)
		if t != nil {
			return t, nil
		}
		dt, t := c.enumArg(1, "dtype", 2)
		if t != nil {
			return t, nil
		}
		a, t := c.buffer(2)
		if t != nil {
			return t, nil
		}
		n, e := intArg("n", c.u64(3))
		if e != nil {
			return c.storeErr(4, 8, e)
		}
		v, err := g.Reduce(GPUReduceOp(op), GPUDType(dt), a.id, n)
		if err != nil {
			return c.storeErr(4, 8, gpuErrorCase(err))
		}
		ret, t := c.retArea(4, 24, 8)
		if t != nil {
			return t, nil
		}
		ret[0] = 0
		put64(ret[8:], math.Float64bits(v))
		return nil, nil

	case impElementwise: // (op, dtype, a, b-disc, b, scalar: f64, out, n: u64, ret)
		op, t := c.enumArg(0, "elementwise-op", 4)
		if t != nil {
			return t, nil
		}
		dt, t := c.enumArg(1, "dtype", 2)
		if t != nil {
			return t, nil
		}
		a, t := c.buffer(2)
		if t != nil {
			return t, nil
		}
		some, t := c.enumArg(3, "option<borrow<buffer>>", 2)
		if t != nil {
			return t, nil
		}
		var bid GPUBuffer
		if some == 1 {
			b, t := c.buffer(4)
			if t != nil {
				return t, nil
			}
			bid = b.id
		}
		out, t := c.buffer(6)
		if t != nil {
			return t, nil
		}
		n, e := intArg("n", c.u64(7))
		if e != nil {
			return c.result(8, e)
		}
		if bid == 0 && (op == int32(EwMul) || op == int32(EwAdd)) {
			return c.result(8, errOf(gpuErrInvalidArgument, "kernel-elementwise: mul and add need operand b"))
		}
		return c.result(8, fromGPU(g.Elementwise(GPUElementwiseOp(op), GPUDType(dt), a.id, bid, c.f64(5), out.id, n)))

	case impMatmul: // (precision, a, b, c, m, k, n, ret)
		p, t := c.enumArg(0, "matmul-precision", 2)
		if t != nil {
			return t, nil
		}
		var ids [3]GPUBuffer
		for i := range ids {
			b, t := c.buffer(1 + i)
			if t != nil {
				return t, nil
			}
			ids[i] = b.id
		}
		return c.result(7, fromGPU(g.MatmulBuffers(MatmulPrecision(p), ids[0], ids[1], ids[2],
			int(c.u32(4)), int(c.u32(5)), int(c.u32(6)))))

	case impBootstrapSample: // (seed: u64, first-tree, n-trees, n-rows, out, ret)
		out, t := c.buffer(4)
		if t != nil {
			return t, nil
		}
		return c.result(5, fromGPU(g.BootstrapSample(c.u64(0), c.u32(1), c.u32(2), c.u32(3), out.id)))

	case impFindSplit: // (x, y, order, weights, node-of, cand-rank, out, shape×5, ret)
		var ids [7]GPUBuffer
		for i := range ids {
			b, t := c.buffer(i)
			if t != nil {
				return t, nil
			}
			ids[i] = b.id
		}
		a := GPUSplitArgs{X: ids[0], Y: ids[1], Order: ids[2], Weights: ids[3], NodeOf: ids[4], CandRank: ids[5], Out: ids[6],
			NRows: c.u32(7), D: c.u32(8), NTrees: c.u32(9), NNodes: c.u32(10), MinLeaf: c.u32(11)}
		return c.result(12, fromGPU(g.FindSplit(a)))

	case impAverage: // (dtype, preds, n-trees, n-rows, out, ret)
		dt, t := c.enumArg(0, "dtype", 2)
		if t != nil {
			return t, nil
		}
		preds, t := c.buffer(1)
		if t != nil {
			return t, nil
		}
		out, t := c.buffer(4)
		if t != nil {
			return t, nil
		}
		return c.result(5, fromGPU(g.Average(GPUDType(dt), preds.id, c.u32(2), c.u32(3), out.id)))

	case impBatchPredict: // (dtype, feature, threshold, left, right, value, tree-start, shape×3, x, n-rows, out, ret)
		dt, t := c.enumArg(0, "dtype", 2)
		if t != nil {
			return t, nil
		}
		var ids [6]GPUBuffer
		for i := range ids {
			b, t := c.buffer(1 + i)
			if t != nil {
				return t, nil
			}
			ids[i] = b.id
		}
		x, t := c.buffer(10)
		if t != nil {
			return t, nil
		}
		out, t := c.buffer(12)
		if t != nil {
			return t, nil
		}
		f := GPUForest{Feature: ids[0], Threshold: ids[1], Left: ids[2], Right: ids[3], Value: ids[4], TreeStart: ids[5],
			NTrees: c.u32(7), NNodes: c.u32(8), NFeatures: c.u32(9)}
		return c.result(13, fromGPU(g.BatchPredict(GPUDType(dt), f, x.id, c.u32(11), out.id)))
	}
	return trapf("unknown import %d", fn), nil
}

// quota checks a new buffer of bytes bytes against the instance's quotas.
func (w *WasiGPUInstance) quota(bytes uint64) *wasiErr {
	o := w.host.opts
	if w.next == math.MaxUint32 {
		return errOf(gpuErrQuotaExceeded, "instance has used all %d buffer handles", uint32(math.MaxUint32-1))
	}
	if len(w.table) >= o.MaxBuffers {
		return errOf(gpuErrQuotaExceeded, "instance holds %d buffers, its quota", len(w.table))
	}
	if bytes > o.MaxBytes || w.bytes > o.MaxBytes-bytes {
		return errOf(gpuErrQuotaExceeded, "a buffer of %d bytes would bring the instance to %d bytes, over its quota of %d", bytes, w.bytes+bytes, o.MaxBytes)
	}
	return nil
}

// deviceInfo stores ok(device-info) (record of align 8 at offset 8 of a 64-byte return
// area: strings at 8, 16, 24; option<u64> at 32 (value at 40); u64 at 48; bools at 56–58).
func (c *importCall) deviceInfo(info GPUInfo) (*trapError, *C.wasm_trap_t) {
	if _, t := c.retArea(0, 64, 8); t != nil {
		return t, nil
	}
	var strs [3][2]uint32
	for i, s := range []string{info.Backend, info.Name, info.Driver} {
		p, n, t, wt := c.lowerString(s)
		if t != nil || wt != nil {
			return t, wt
		}
		strs[i] = [2]uint32{p, n}
	}
	ret, t := c.retArea(0, 64, 8)
	if t != nil {
		return t, nil
	}
	clear(ret)
	for i, s := range strs {
		put32(ret[8+8*i:], s[0])
		put32(ret[12+8*i:], s[1])
	}
	if info.MemoryBytes != 0 {
		ret[32] = 1
		put64(ret[40:], info.MemoryBytes)
	}
	put64(ret[48:], info.MaxBufferBytes)
	for i, b := range []bool{info.SupportsF64, info.SupportsTF32, info.IsSoftware} {
		if b {
			ret[56+i] = 1
		}
	}
	return nil, nil
}
