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

// ABIVersion is the newest vector-guest ABI this host speaks (DESIGN.md, "The vector
// guest ABI (v2)"): `sum` and `dot` strict (left to right), `sum_simd` and `dot_simd`
// fast. Guests of [MinABIVersion] (v1: no `dot_simd`, a `dot` of unspecified order)
// still load: their `dot` serves DotFast, and Dot (strict) is an error wrapping
// [ErrFamilyUnsupported].
const ABIVersion = 2

// MinABIVersion is the oldest vector-guest ABI this host loads.
const MinABIVersion = 1

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

// guestExports are the function exports of the vector-guest ABI v1; v2 adds
// guestExportsV2.
var guestExports = []string{
	"abi_version", "get_capacity", "get_buffer_a_offset", "get_buffer_b_offset",
	"get_result_offset", "sum", "dot", "mul", "scale", "sum_simd",
}

// guestExportsV2 are the exports ABI v2 adds to v1.
var guestExportsV2 = []string{"dot_simd"}

// checkGuestABI accepts ABI versions MinABIVersion..ABIVersion.
func checkGuestABI(file string, abi int) error {
	if abi < MinABIVersion || abi > ABIVersion {
		return fmt.Errorf("guest %s: abi_version %d, this host speaks %d to %d", file, abi, MinABIVersion, ABIVersion)
	}
	return nil
}

// strictChunks runs a strict (left-to-right) reduction over n elements through a guest
// of the given capacity, one guest call per piece: fn(lo, hi, carry, total) must put
// elements [lo, hi) in the guest's buffers (after the running total when carry is set)
// and return the guest's result, the new running total. The first piece is
// [0, min(n, capacity)); each later piece is capacity-1 elements, preceded in slot 0 of
// buffer a by the running total (and by 1.0 in slot 0 of buffer b for dot), so the
// guest's left-to-right loop continues exactly where the previous call stopped (±0 +
// total and total·1 are total, bit for bit): the result has the bits of [SumGo] and
// [DotGo] at every n, not those of a sum of per-chunk sums.
func strictChunks(n, capacity int, fn func(lo, hi int, carry bool, total float64) (float64, error)) (float64, error) {
	if n <= capacity {
		return fn(0, n, false, 0)
	}
	if capacity < 2 {
		return 0, fmt.Errorf("%w: a strict reduction of %d elements in pieces needs a capacity of at least 2, the guest has %d", ErrOverCapacity, n, capacity)
	}
	total, err := fn(0, capacity, false, 0)
	for lo := capacity; lo < n && err == nil; {
		hi := min(lo+capacity-1, n)
		total, err = fn(lo, hi, true, total)
		lo = hi
	}
	return total, err
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
	fDotSIMD guestFunc // export "dot_simd" (v2); export "dot" for a v1 guest
	fABI     guestFunc
	abi      int
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
	if err := checkGuestABI(m.name, abi); err != nil {
		return nil, err
	}
	w.abi = abi
	dotSIMD := "dot"
	if abi >= 2 {
		for _, e := range guestExportsV2 {
			f := inst.GetFunc(store, e)
			if f == nil {
				return nil, fmt.Errorf("guest %s: missing export %q (vector-guest ABI v%d)", m.name, e, abi)
			}
			w.fns[e] = f
		}
		dotSIMD = "dot_simd"
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
	}{{&w.fSum, "sum"}, {&w.fDot, "dot"}, {&w.fMul, "mul"}, {&w.fScale, "scale"}, {&w.fSumSIMD, "sum_simd"}, {&w.fDotSIMD, dotSIMD}, {&w.fABI, "abi_version"}} {
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

// ABI is the guest's abi_version (1 or 2).
func (w *WasmVectorOps) ABI() int { return w.abi }

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

// reduceStrict is a strict reduction, chunked with the running total carried into
// each next piece (see strictChunks).
func (w *WasmVectorOps) reduceStrict(g guestFunc, a, b []float64) (float64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return 0, err
	}
	return strictChunks(len(a), w.capacity, func(lo, hi int, carry bool, total float64) (float64, error) {
		k := 0
		if carry {
			k = 1
		}
		va := w.buf(w.offA, k+hi-lo)
		copy(va[k:], a[lo:hi])
		if carry {
			va[0] = total
		}
		if b != nil {
			vb := w.buf(w.offB, k+hi-lo)
			copy(vb[k:], b[lo:hi])
			if carry {
				vb[0] = 1
			}
		}
		return w.call(g, 0, false, k+hi-lo, true)
	})
}

// reduce is a fast reduction: the sum of per-chunk results.
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

// Sum returns Σ x[i] through the guest's `sum`, strictly left to right at every n
// (past the capacity the running total is carried into the next piece).
func (w *WasmVectorOps) Sum(x []float64) (float64, error) {
	return w.reduceStrict(w.fSum, x, nil)
}

// SumFast returns Σ x[i] from the guest's `sum_simd` (simd128 partial sums); past the
// capacity, the sum of per-chunk sums.
func (w *WasmVectorOps) SumFast(x []float64) (float64, error) {
	return w.reduce(w.fSumSIMD, x, nil)
}

// Dot returns Σ a[i]·b[i] through the guest's `dot`, strictly left to right at every n.
// An ABI v1 guest's `dot` has no defined order: there it is an error wrapping
// [ErrFamilyUnsupported] (use DotFast).
func (w *WasmVectorOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	if w.abi < 2 {
		return 0, familyErr(w.name, "dot", Strict, "ABI v1 guest: its dot adds in an unspecified order; rebuild it for ABI v2")
	}
	if b == nil {
		b = []float64{}
	}
	return w.reduceStrict(w.fDot, a, b)
}

// DotFast returns Σ a[i]·b[i] from the guest's `dot_simd` (`dot` on an ABI v1 guest);
// past the capacity, the sum of per-chunk results.
func (w *WasmVectorOps) DotFast(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	if b == nil {
		b = []float64{}
	}
	return w.reduce(w.fDotSIMD, a, b)
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

// ErrNoExport is wrapped by the error of a resident call naming an export the guest
// does not have (e.g. "dot_simd" on an ABI v1 guest).
var ErrNoExport = errors.New("no such vector-guest export")

// residentExport is the export that runs op ("Sum", "Dot") in family f on a guest of
// ABI abi: sum/dot (strict), sum_simd/dot_simd (fast; dot on ABI v1). A v1 guest has no
// strict dot: an error wrapping ErrFamilyUnsupported.
func residentExport(path string, abi int, op string, f Family) (string, error) {
	switch {
	case op == "Sum" && f == Strict:
		return "sum", nil
	case op == "Sum":
		return "sum_simd", nil
	case op == "Dot" && f == Strict && abi < 2:
		return "", familyErr(path, "dot", Strict, "ABI v1 guest: its dot adds in an unspecified order; rebuild it for ABI v2")
	case op == "Dot" && f == Strict:
		return "dot", nil
	case op == "Dot" && abi < 2:
		return "dot", nil
	case op == "Dot":
		return "dot_simd", nil
	}
	return "", fmt.Errorf("%w: no resident reduction %q", ErrNoExport, op)
}

// CopyInB copies x into buffer b (len(x) ≤ capacity) without calling the guest.
func (w *WasmVectorOps) CopyInB(x []float64) error {
	if len(x) > w.capacity {
		return fmt.Errorf("%w: %d elements, capacity %d", ErrOverCapacity, len(x), w.capacity)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return err
	}
	copy(w.buf(w.offB, len(x)), x)
	return nil
}

// ReadResult copies the first len(dst) elements of the result buffer into dst.
func (w *WasmVectorOps) ReadResult(dst []float64) error {
	if len(dst) > w.capacity {
		return fmt.Errorf("%w: %d elements, capacity %d", ErrOverCapacity, len(dst), w.capacity)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return err
	}
	copy(dst, w.buf(w.offR, len(dst)))
	return nil
}

// CallResident calls one export of the vector-guest ABI ("sum", "dot", "sum_simd",
// "dot_simd", "mul", "scale") on the first n elements already in the guest's buffers
// (0 ≤ n ≤ capacity, checked: no trap), without copying anything: the guest's compute
// alone, as the Rust host's `<op>-resident` benches. scalar is scale's factor; the
// result is the reduction's value (0 for mul and scale, whose output is in the result
// buffer, see ReadResult).
func (w *WasmVectorOps) CallResident(export string, n int, scalar float64) (float64, error) {
	if n < 0 || n > w.capacity {
		return 0, fmt.Errorf("%w: n = %d, capacity %d", ErrOverCapacity, n, w.capacity)
	}
	var g guestFunc
	switch export {
	case "sum":
		g = w.fSum
	case "dot":
		g = w.fDot
	case "sum_simd":
		g = w.fSumSIMD
	case "mul":
		g = w.fMul
	case "scale":
		g = w.fScale
	case "dot_simd":
		if w.abi >= 2 {
			g = w.fDotSIMD
		}
	}
	if g.f == nil {
		return 0, fmt.Errorf("%w: guest %s (ABI v%d) has no export %q", ErrNoExport, w.name, w.abi, export)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return 0, err
	}
	switch export {
	case "mul":
		return w.call(g, 0, false, n, false)
	case "scale":
		return w.call(g, scalar, true, n, false)
	}
	return w.call(g, 0, false, n, true)
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
