package offload

// The Go host of wasi:gpu 0.1.0 (wasm-modules/wit/wasi-gpu): wasmtime-go has no component
// model, so the imports of a wit-bindgen core module (built for wasm32-wasip1, before it is
// wrapped as a component) are implemented as core host functions that follow the
// Canonical ABI (component-model/design/mvp/CanonicalABI.md; its layouts and checks are
// internal/cabi) by hand:
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
// slots and the caller's memory to offWasiGpuImport (wasigpu_call.go), with no boxing per
// call.
//
// This file is the host, its instances and the exports it calls; wasigpu_imports.go
// declares the imports (one declaration and handler per WIT function, and the gpu-error
// table); wasigpu_call.go runs one import call.

/*
#include <stdlib.h>
#include "offload.h"
#include "wasigpu_shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/cgo"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/offload-project/offload/go-host/internal/cabi"
)

// Import module names of the wasi:gpu interfaces in a wit-bindgen core module.
const (
	WasiGPUComputeModule = "wasi:gpu/compute@0.1.0"
	WasiGPUKernelsModule = "wasi:gpu/ml-kernels@0.1.0"
)

// WasiGPUOptions configures a [WasiGPUHost]. Zero fields take the defaults.
type WasiGPUOptions struct {
	// MaxBuffers is the most buffers one instance may hold at once (default: the wasi:gpu
	// policy's, 4096, OFFLOAD_WASI_GPU_DEFAULT_MAX_BUFFERS in offload.h).
	MaxBuffers int
	// MaxBytes is the most device bytes one instance may hold at once, and the largest
	// buffer-read (the copy lands in linear memory) (default: the policy's, 1 GiB).
	MaxBytes uint64
	// Deadline bounds the wall-clock time of one export call: a guest still running
	// after it (and at most two EpochTicks more) is interrupted by wasmtime's epoch check
	// and traps (default: the policy's, 60 s).
	Deadline time.Duration
	// EpochTick is the period of the engine's epoch counter, the resolution of Deadline
	// (default 5 ms).
	EpochTick time.Duration
}

func (o WasiGPUOptions) withDefaults() WasiGPUOptions {
	if o.MaxBuffers <= 0 {
		o.MaxBuffers = C.OFFLOAD_WASI_GPU_DEFAULT_MAX_BUFFERS
	}
	if o.MaxBuffers > math.MaxUint32 {
		o.MaxBuffers = math.MaxUint32
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = C.OFFLOAD_WASI_GPU_DEFAULT_MAX_BYTES
	}
	if o.Deadline <= 0 {
		o.Deadline = C.OFFLOAD_WASI_GPU_DEFAULT_DEADLINE_MS * time.Millisecond
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
	ticks  uint64                // epoch ticks per Deadline
	quota  C.OffloadWasiGpuQuota // opts' quotas, as the policy functions take them
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
		// Two ticks more than Deadline/EpochTick: the epoch may advance just after the
		// deadline is set, and a time.Ticker that fell behind fires its next tick early
		// to keep its schedule (one interval came 0.4 ms short of EpochTick on a loaded
		// 2-core machine), so a guest runs at least Deadline and at most two ticks more.
		ticks: uint64((opts.Deadline+opts.EpochTick-1)/opts.EpochTick) + 2,
		stop:  make(chan struct{}),
		quota: C.OffloadWasiGpuQuota{max_buffers: C.uint32_t(opts.MaxBuffers), max_bytes: C.uint64_t(opts.MaxBytes)},
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
	funcs    []string // the names of the module's function exports, read once at Compile
}

// Compile reads and compiles a core module and checks its imports: only the wasi:gpu
// functions declared in wasigpu_imports.go and wasi_snapshot_preview1 are provided.
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
	// Read once here: each Exports() call makes ExportType objects that wasmtime-go frees
	// only in finalizers, so reading them per instance grows C memory between collections.
	for _, e := range mod.Exports() {
		if e.Type().FuncType() != nil {
			m.funcs = append(m.funcs, e.Name())
		}
	}
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
	// calls are the states of the import calls in progress, one per nesting depth
	// (an import's cabi_realloc could call another import), reused so that an import
	// call allocates nothing; depth is the number in progress.
	calls [2]importCall
	depth int
	// goImports counts the import calls that entered Go (all but the buffer-writes the
	// C fast path completed), for tests.
	goImports uint64
}

// Instantiate makes a new instance with its own store and handle table: links WASI and
// the wasi:gpu imports, runs `_initialize`, and looks up the exports.
func (m *WasiGPUModule) Instantiate() (_ *WasiGPUInstance, err error) {
	h := m.host
	w := &WasiGPUInstance{host: h, name: m.name, table: map[uint32]gpuEntry{}, next: 1, exports: map[string]*wasmtime.Func{}}
	w.store = wasmtime.NewStore(h.engine)
	w.store.SetEpochDeadline(h.ticks) // before a start function runs at instantiation
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
		params, results := coreBytes(spec.coreParams), coreBytes(spec.coreResults)
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
		return nil, fmt.Errorf("wasi:gpu guest %s: instantiate: %w", m.name, w.trapErr("instantiate", err))
	}
	mem := w.inst.GetExport(w.store, "memory")
	if mem == nil || mem.Memory() == nil {
		return nil, fmt.Errorf("wasi:gpu guest %s: missing export \"memory\"", m.name)
	}
	w.c.mem = *(*C.off_gw_memory_t)(unsafe.Pointer(mem.Memory()))
	w.c.has_mem = 1
	w.enableFastWrite()
	if f := w.inst.GetFunc(w.store, "cabi_realloc"); f != nil {
		w.c.realloc = *(*C.off_gw_func_t)(unsafe.Pointer(f))
		w.c.has_realloc = 1
	} else {
		return nil, fmt.Errorf("wasi:gpu guest %s: missing export \"cabi_realloc\" (canonical ABI)", m.name)
	}
	for _, name := range m.funcs {
		if fn := w.inst.GetFunc(w.store, name); fn != nil {
			w.exports[name] = fn
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

// enableFastWrite turns on the C fast path of buffer-write (off_gpu_fast_write in
// wasigpu_shim.c) for this instance: it needs the import's index, the device and the
// layout of the import's return area; the handle cache starts empty and follows the
// table (cacheSet, cacheDrop).
func (w *WasiGPUInstance) enableFastWrite() {
	i, ok := wasiGPUImportIndex[WasiGPUComputeModule+"#buffer-write"]
	if !ok {
		return
	}
	r := wasiGPUImports[i].result
	if r == nil || r.DiscSize() == 0 {
		return
	}
	w.c.device = C.uint64_t(w.host.gpu.h)
	w.c.write_area_size = C.uint32_t(r.Size())
	w.c.write_area_align = C.uint32_t(r.Align())
	w.c.write_disc = C.uint32_t(r.DiscSize())
	w.c.write_fn = C.int32_t(i)
}

// wasiGPUCacheSlots is the number of slots of an instance's C handle cache.
const wasiGPUCacheSlots = C.OFF_GPU_CACHE_SLOTS

// cacheSlot is the slot of handle h in the C handle cache.
func (w *WasiGPUInstance) cacheSlot(h uint32) *C.off_gpu_slot_t {
	return &w.c.cache[h&(wasiGPUCacheSlots-1)]
}

// cacheSet records the new buffer h of the handle table in the C handle cache (taking
// over the slot from any other handle, which then goes through Go).
func (w *WasiGPUInstance) cacheSet(h uint32, e gpuEntry) {
	*w.cacheSlot(h) = C.off_gpu_slot_t{handle: C.uint32_t(h), id: C.uint64_t(e.id), bytes: C.uint64_t(e.bytes)}
}

// cacheDrop removes h, just deleted from the handle table, from the C handle cache.
func (w *WasiGPUInstance) cacheDrop(h uint32) {
	if s := w.cacheSlot(h); uint32(s.handle) == h {
		*s = C.off_gpu_slot_t{}
	}
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
// message for a trap raised by an import; an epoch interrupt is the host's Deadline
// (errors.Is(err, ErrDeadline)).
func (w *WasiGPUInstance) trapErr(export string, err error) error {
	msg := err.Error()
	if w.trap != "" {
		msg = w.trap // wasmtime's message repeats it, with a backtrace
		w.trap = ""
	}
	if isInterrupt(err) {
		return deadlineTrap(export, wasmtimeInterrupt, w.host.opts.Deadline)
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

// liftString reads a (ptr, len) string at addr of memory as UTF-8 (cabi.LiftString).
func (w *WasiGPUInstance) liftString(export string, addr int) (string, error) {
	s, err := cabi.LiftString(w.mem(), addr)
	if err != nil {
		return "", fmt.Errorf("wasi:gpu guest %s: %s returned %w", w.name, export, err)
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
// lift_list does (cabi.LiftList): ptr aligned to align, the len·elemSize bytes inside
// linear memory. The slice aliases linear memory: copy it out before the next call into
// the guest.
func (w *WasiGPUInstance) liftList(export string, m []byte, addr, elemSize, align int) ([]byte, error) {
	b, err := cabi.LiftList(m, addr, elemSize, align)
	if err != nil {
		return nil, fmt.Errorf("wasi:gpu guest %s: %s returned %w", w.name, export, err)
	}
	return b, nil
}

// Result types of the demo and forest guests' exports: result<T, string> for the T they
// return (the return area's layout comes from internal/cabi).
var (
	resultUnit   = cabi.Result(cabi.Unit, cabi.String)
	resultString = cabi.Result(cabi.String, cabi.String)
	resultF64    = cabi.Result(cabi.F64, cabi.String)
)

// callResult calls an export whose result, of type rt = result<T, string>, comes back
// through a return area: lift (nil when T is unit) reads T's payload at offset at of
// memory m; an err(string) becomes a *GuestError. cabi_post_<export> runs afterwards.
func (w *WasiGPUInstance) callResult(export string, rt *cabi.Type, lift func(m []byte, at int) error, args ...interface{}) error {
	if err := w.ready(); err != nil {
		return err
	}
	ptr, err := w.resultPtr(export, int(rt.Size()), int(rt.Align()), args...)
	if err != nil {
		return err
	}
	m := w.mem()
	at := ptr + int(rt.PayloadOffset())
	var res error
	switch c := rt.Case(m[ptr:]); c {
	case 0:
		if lift != nil {
			res = lift(m, at)
		}
	case 1:
		msg, err := w.liftString(export, at)
		if err != nil {
			res = err
		} else {
			res = &GuestError{Export: export, Msg: msg}
		}
	default:
		res = fmt.Errorf("wasi:gpu guest %s: %s returned result discriminant %d", w.name, export, c)
	}
	if err := w.postReturn(export, ptr); err != nil {
		return err
	}
	return res
}

func (w *WasiGPUInstance) stringResult(export string, args ...interface{}) (string, error) {
	var out string
	err := w.callResult(export, &resultString, func(_ []byte, at int) error {
		s, err := w.liftString(export, at)
		out = s
		return err
	}, args...)
	return out, err
}

func (w *WasiGPUInstance) f64Result(export string, args ...interface{}) (float64, error) {
	var out float64
	err := w.callResult(export, &resultF64, func(m []byte, at int) error {
		out = math.Float64frombits(cabi.Le64(m[at:]))
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
	return w.callResult("call-loop", &resultUnit, nil, int32(n))
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
