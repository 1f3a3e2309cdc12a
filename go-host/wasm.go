package offload

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// ABIVersion is the vector-guest ABI this host speaks (DESIGN.md, "The vector guest
// ABI (v1)").
const ABIVersion = 1

// ErrOverCapacity is wrapped by the error of an unchunked guest call whose length
// exceeds the guest's capacity (or is negative).
var ErrOverCapacity = errors.New("length over the guest's buffer capacity")

// ErrClosed is returned by calls on a closed instance.
var ErrClosed = errors.New("instance is closed")

// TrapError is a trap (or a WASI exit) raised inside a guest call. After a trap the
// instance refuses further calls: create a new one.
type TrapError struct {
	Export string // the export that was called
	Msg    string // wasmtime's or wazero's message
}

func (e *TrapError) Error() string { return fmt.Sprintf("guest trapped in %s: %s", e.Export, e.Msg) }

// CallPath selects how WasmVectorOps enters the guest.
type CallPath int

const (
	// FastCall calls wasmtime_func_call_unchecked through cgo with a raw argument
	// buffer allocated once (paths "wasm-rust", "wasm-c", "wasm-go").
	FastCall CallPath = iota
	// FuncCall uses wasmtime-go's Func.Call, which boxes arguments and allocates
	// on every call (path "wasmtime-go").
	FuncCall
)

func (p CallPath) String() string {
	if p == FuncCall {
		return "Func.Call"
	}
	return "fast"
}

// guestExports are the function exports of the vector-guest ABI v1.
var guestExports = []string{
	"abi_version", "get_capacity", "get_buffer_a_offset", "get_buffer_b_offset",
	"get_result_offset", "sum", "dot", "mul", "scale", "sum_simd",
}

// WasmModule is a vector guest compiled by wasmtime (cranelift), ready to be
// instantiated any number of times. Safe for concurrent use.
type WasmModule struct {
	name     string
	engine   *wasmtime.Engine
	module   *wasmtime.Module
	needWasi bool
}

// LoadWasmModule reads and compiles a guest (.wasm file).
func LoadWasmModule(path string) (*WasmModule, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load guest: %w", err)
	}
	return CompileWasmModule(filepath.Base(path), wasm)
}

// CompileWasmModule compiles guest bytes; name is used in messages.
func CompileWasmModule(name string, wasm []byte) (*WasmModule, error) {
	engine, err := newEngine()
	if err != nil {
		return nil, err
	}
	mod, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile guest %s: %w", name, err)
	}
	m := &WasmModule{name: name, engine: engine, module: mod}
	for _, imp := range mod.Imports() {
		if imp.Module() == "wasi_snapshot_preview1" {
			m.needWasi = true
		} else {
			n := ""
			if imp.Name() != nil {
				n = *imp.Name()
			}
			return nil, fmt.Errorf("guest %s imports %s.%s: only wasi_snapshot_preview1 is provided", name, imp.Module(), n)
		}
	}
	return m, nil
}

// Name is the guest's file name.
func (m *WasmModule) Name() string { return m.name }

// guestFunc is one export: its wasmtime-go Func (FuncCall path) and its index in the
// fast path's C-side table.
type guestFunc struct {
	f      *wasmtime.Func
	idx    int
	export string
}

// WasmVectorOps runs one instance of a vector guest in wasmtime. Inputs are copied
// into the guest's static buffers through a zero-copy view of linear memory,
// inputs longer than the capacity run in capacity-sized chunks, and traps come back
// as *TrapError. A mutex serialises calls, so one WasmVectorOps is safe for
// concurrent use (calls run one at a time); use a [WasmPool] for parallelism.
type WasmVectorOps struct {
	mu       sync.Mutex
	name     string
	path     CallPath
	store    *wasmtime.Store
	inst     *wasmtime.Instance
	mem      *wasmtime.Memory
	fns      map[string]*wasmtime.Func
	fSum     guestFunc
	fDot     guestFunc
	fMul     guestFunc
	fScale   guestFunc
	fSumSIMD guestFunc
	fABI     guestFunc
	fast     *fastCaller
	data     []byte // linear memory view for FuncCall; fast.memory() for FastCall
	capacity int
	offA     int
	offB     int
	offR     int
	broken   error
}

// NewWasmVectorOps loads, compiles and instantiates the guest at path with the fast
// call path; name is the benchmark path name (e.g. "wasm-rust").
func NewWasmVectorOps(path, name string) (*WasmVectorOps, error) {
	m, err := LoadWasmModule(path)
	if err != nil {
		return nil, err
	}
	return m.Instantiate(name, FastCall)
}

// Instantiate makes a new instance with its own store: links WASI when the guest
// imports it, runs `_initialize` when exported, checks `abi_version` and caches the
// capacity, buffer offsets and exported functions.
func (m *WasmModule) Instantiate(name string, path CallPath) (*WasmVectorOps, error) {
	store := wasmtime.NewStore(m.engine)
	linker := wasmtime.NewLinker(m.engine)
	if m.needWasi {
		if err := linker.DefineWasi(); err != nil {
			return nil, fmt.Errorf("guest %s: define WASI: %w", m.name, err)
		}
		store.SetWasi(wasmtime.NewWasiConfig())
	}
	inst, err := linker.Instantiate(store, m.module)
	if err != nil {
		return nil, fmt.Errorf("guest %s: instantiate: %w", m.name, err)
	}
	w := &WasmVectorOps{name: name, path: path, store: store, inst: inst, fns: map[string]*wasmtime.Func{}}
	if f := inst.GetFunc(store, "_initialize"); f != nil {
		if _, err := f.Call(store); err != nil {
			return nil, fmt.Errorf("guest %s: _initialize: %w", m.name, err)
		}
	}
	ext := inst.GetExport(store, "memory")
	if ext == nil || ext.Memory() == nil {
		return nil, fmt.Errorf("guest %s: missing export \"memory\"", m.name)
	}
	w.mem = ext.Memory()
	for _, e := range guestExports {
		f := inst.GetFunc(store, e)
		if f == nil {
			return nil, fmt.Errorf("guest %s: missing export %q (vector-guest ABI v1)", m.name, e)
		}
		w.fns[e] = f
	}
	getI32 := func(e string) (int, error) {
		v, err := w.fns[e].Call(store)
		if err != nil {
			return 0, fmt.Errorf("guest %s: %s: %w", m.name, e, err)
		}
		i, ok := v.(int32)
		if !ok {
			return 0, fmt.Errorf("guest %s: %s returned %T, want i32", m.name, e, v)
		}
		return int(i), nil
	}
	abi, err := getI32("abi_version")
	if err != nil {
		return nil, err
	}
	if abi != ABIVersion {
		return nil, fmt.Errorf("guest %s: abi_version %d, this host speaks %d", m.name, abi, ABIVersion)
	}
	if w.capacity, err = getI32("get_capacity"); err != nil {
		return nil, err
	}
	if w.offA, err = getI32("get_buffer_a_offset"); err != nil {
		return nil, err
	}
	if w.offB, err = getI32("get_buffer_b_offset"); err != nil {
		return nil, err
	}
	if w.offR, err = getI32("get_result_offset"); err != nil {
		return nil, err
	}
	size := int(w.mem.DataSize(store))
	for _, o := range []int{w.offA, w.offB, w.offR} {
		if w.capacity <= 0 || o < 0 || o%8 != 0 || o+8*w.capacity > size {
			return nil, fmt.Errorf("guest %s: buffer at offset %d with capacity %d does not fit an 8-byte aligned range in %d bytes of memory", m.name, o, w.capacity, size)
		}
	}
	if path == FastCall {
		if w.fast, err = newFastCaller(store, w.mem); err != nil {
			return nil, err
		}
		runtime.SetFinalizer(w, (*WasmVectorOps).Close)
	} else {
		w.data = w.mem.UnsafeData(store)
	}
	for _, g := range []struct {
		dst    *guestFunc
		export string
	}{{&w.fSum, "sum"}, {&w.fDot, "dot"}, {&w.fMul, "mul"}, {&w.fScale, "scale"}, {&w.fSumSIMD, "sum_simd"}, {&w.fABI, "abi_version"}} {
		*g.dst = guestFunc{f: w.fns[g.export], export: g.export}
		if w.fast != nil {
			if g.dst.idx, err = w.fast.register(g.dst.f); err != nil {
				return nil, err
			}
		}
	}
	return w, nil
}

// Close frees the fast path's C state; the store itself is freed by wasmtime-go's
// finalizer. Calls after Close return ErrClosed.
func (w *WasmVectorOps) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fast != nil {
		w.fast.free()
		w.fast = nil
	}
	w.broken = ErrClosed
	return nil
}

// Name is the benchmark path name given at creation.
func (w *WasmVectorOps) Name() string { return w.name }

// Capacity is the guest's buffer capacity in elements.
func (w *WasmVectorOps) Capacity() int { return w.capacity }

// memory returns the current linear-memory view.
func (w *WasmVectorOps) memory() []byte {
	if w.fast != nil {
		return w.fast.memory()
	}
	return w.data
}

// buf returns n float64 of the buffer at byte offset off.
func (w *WasmVectorOps) buf(off, n int) []float64 {
	if n == 0 {
		return nil
	}
	m := w.memory()
	return unsafe.Slice((*float64)(unsafe.Pointer(&m[off])), n)
}

// call invokes an export with i32/f64 arguments and returns its f64 result (0 when
// it has none). Traps mark the instance broken.
func (w *WasmVectorOps) call(g guestFunc, scalar float64, hasScalar bool, n int, hasResult bool) (float64, error) {
	if w.path == FastCall {
		slot := 0
		if hasScalar {
			w.fast.setF64(0, scalar)
			slot = 1
		}
		w.fast.setI32(slot, int32(n))
		if err := w.fast.call(g.idx, g.export, slot+1); err != nil {
			w.broken = err
			return 0, err
		}
		runtime.KeepAlive(w.store)
		if hasResult {
			return w.fast.f64(0), nil
		}
		return 0, nil
	}
	var v interface{}
	var err error
	if hasScalar {
		v, err = g.f.Call(w.store, scalar, int32(n))
	} else {
		v, err = g.f.Call(w.store, int32(n))
	}
	// Re-take the view: the call may have grown memory.
	w.data = w.mem.UnsafeData(w.store)
	if err != nil {
		err = &TrapError{Export: g.export, Msg: err.Error()}
		w.broken = err
		return 0, err
	}
	if hasResult {
		r, ok := v.(float64)
		if !ok {
			return 0, fmt.Errorf("guest %s: %s returned %T, want f64", w.name, g.export, v)
		}
		return r, nil
	}
	return 0, nil
}

func (w *WasmVectorOps) ready() error {
	if w.broken != nil {
		if errors.Is(w.broken, ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("guest %s unusable after an earlier trap (%w); create a new instance", w.name, w.broken)
	}
	return nil
}

// chunks calls fn(lo, hi) for each capacity-sized piece of [0, n), and once with
// (0, 0) when n == 0, so an empty input still runs the guest.
func (w *WasmVectorOps) chunks(n int, fn func(lo, hi int) error) error {
	if n == 0 {
		return fn(0, 0)
	}
	for lo := 0; lo < n; lo += w.capacity {
		if err := fn(lo, min(lo+w.capacity, n)); err != nil {
			return err
		}
	}
	return nil
}

func (w *WasmVectorOps) reduce(g guestFunc, a, b []float64) (float64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return 0, err
	}
	total := 0.0
	err := w.chunks(len(a), func(lo, hi int) error {
		copy(w.buf(w.offA, hi-lo), a[lo:hi])
		if b != nil {
			copy(w.buf(w.offB, hi-lo), b[lo:hi])
		}
		r, err := w.call(g, 0, false, hi-lo, true)
		total += r
		return err
	})
	return total, err
}

// Sum returns Σ x[i]; over the capacity, the sum of per-chunk sums.
func (w *WasmVectorOps) Sum(x []float64) (float64, error) {
	return w.reduce(w.fSum, x, nil)
}

// SumSIMD returns Σ x[i] from the guest's simd128 kernel.
func (w *WasmVectorOps) SumSIMD(x []float64) (float64, error) {
	return w.reduce(w.fSumSIMD, x, nil)
}

// Dot returns Σ a[i]·b[i].
func (w *WasmVectorOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	if b == nil {
		b = []float64{}
	}
	return w.reduce(w.fDot, a, b)
}

// Mul sets dst[i] = a[i]·b[i]; dst may alias a or b.
func (w *WasmVectorOps) Mul(dst, a, b []float64) error {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return err
	}
	if err := checkLen("dst", len(dst), len(a)); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return err
	}
	return w.chunks(len(a), func(lo, hi int) error {
		copy(w.buf(w.offA, hi-lo), a[lo:hi])
		copy(w.buf(w.offB, hi-lo), b[lo:hi])
		if _, err := w.call(w.fMul, 0, false, hi-lo, false); err != nil {
			return err
		}
		copy(dst[lo:hi], w.buf(w.offR, hi-lo))
		return nil
	})
}

// Scale sets dst[i] = s·a[i]; dst may alias a.
func (w *WasmVectorOps) Scale(dst, a []float64, s float64) error {
	if err := checkLen("dst", len(dst), len(a)); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return err
	}
	return w.chunks(len(a), func(lo, hi int) error {
		copy(w.buf(w.offA, hi-lo), a[lo:hi])
		if _, err := w.call(w.fScale, s, true, hi-lo, false); err != nil {
			return err
		}
		copy(dst[lo:hi], w.buf(w.offR, hi-lo))
		return nil
	})
}

// SumUnchecked calls the guest's `sum` with n exactly as given, over whatever
// buffer a holds, without the host's range check: a negative n or one over the
// capacity makes the guest trap, which comes back as *TrapError. For tests of the
// trap path; [WasmVectorOps.Sum] never does this.
func (w *WasmVectorOps) SumUnchecked(n int32) (float64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return 0, err
	}
	return w.call(w.fSum, 0, false, int(n), true)
}

// SumBuffer sums the first n elements already in buffer a, checking n against the
// capacity first (an [ErrOverCapacity] error, no guest call).
func (w *WasmVectorOps) SumBuffer(n int) (float64, error) {
	if n < 0 || n > w.capacity || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: n = %d, capacity %d", ErrOverCapacity, n, w.capacity)
	}
	return w.SumUnchecked(int32(n))
}

// CopyIn copies x into buffer a (len(x) ≤ capacity) without calling the guest: the
// host-to-guest copy measured by BenchmarkCopyIn.
func (w *WasmVectorOps) CopyIn(x []float64) error {
	if len(x) > w.capacity {
		return fmt.Errorf("%w: %d elements, capacity %d", ErrOverCapacity, len(x), w.capacity)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return err
	}
	copy(w.buf(w.offA, len(x)), x)
	return nil
}

// EmptyCall calls the guest's `abi_version` (no work, no memory traffic) and
// returns its value: the call overhead of this instance's call path.
func (w *WasmVectorOps) EmptyCall() (int32, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return 0, err
	}
	if w.path == FastCall {
		if err := w.fast.call(w.fABI.idx, "abi_version", 1); err != nil {
			w.broken = err
			return 0, err
		}
		runtime.KeepAlive(w.store)
		return w.fast.i32(0), nil
	}
	v, err := w.fABI.f.Call(w.store)
	if err != nil {
		err = &TrapError{Export: "abi_version", Msg: err.Error()}
		w.broken = err
		return 0, err
	}
	i, ok := v.(int32)
	if !ok {
		return 0, fmt.Errorf("guest %s: abi_version returned %T, want i32", w.name, v)
	}
	return i, nil
}

// WasmPool hands out instances of one module, one caller at a time each, so calls
// run in parallel on separate instances. An instance that trapped is replaced by a
// fresh one when it comes back. Safe for concurrent use.
type WasmPool struct {
	module *WasmModule
	name   string
	path   CallPath
	free   chan *WasmVectorOps
}

// NewWasmPool instantiates size instances of m with the given call path.
func NewWasmPool(m *WasmModule, name string, path CallPath, size int) (*WasmPool, error) {
	if size <= 0 {
		return nil, fmt.Errorf("pool size %d: must be positive", size)
	}
	p := &WasmPool{module: m, name: name, path: path, free: make(chan *WasmVectorOps, size)}
	for i := 0; i < size; i++ {
		w, err := m.Instantiate(name, path)
		if err != nil {
			return nil, err
		}
		p.free <- w
	}
	return p, nil
}

// Do runs fn with an instance taken from the pool, waiting for one if all are busy,
// and returns fn's error.
func (p *WasmPool) Do(fn func(*WasmVectorOps) error) error {
	w := <-p.free
	defer func() {
		w.mu.Lock()
		trapped := w.broken != nil && !errors.Is(w.broken, ErrClosed)
		w.mu.Unlock()
		if trapped {
			if fresh, err := p.module.Instantiate(p.name, p.path); err == nil {
				_ = w.Close()
				w = fresh
			}
		}
		p.free <- w
	}()
	return fn(w)
}
