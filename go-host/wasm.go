package offload

// Vector guests in wasmtime-go: WasmModule (compile once), WasmVectorOps (one instance,
// entered through the fast unchecked call of fastcall.go or through Func.Call) and
// WasmPool. The driving of the vector-guest ABI itself (exports, chunking, the strict
// carry, ABI v1 and v2) is internal/vecabi's, shared with wazero.go; this file is the
// wasmtime side of its Runtime interface and the public API.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/offload-project/offload/go-host/internal/vecabi"
)

// ABIVersion is the newest vector-guest ABI this host speaks (README.md, "The vector
// guest ABI (v2)"): `sum` and `dot` strict (left to right), `sum_simd` and `dot_simd`
// fast. Guests of [MinABIVersion] (v1: no `dot_simd`, a `dot` of unspecified order)
// still load: their `dot` serves DotFast, and Dot (strict) is an error wrapping
// [ErrFamilyUnsupported].
const ABIVersion = vecabi.Version

// MinABIVersion is the oldest vector-guest ABI this host loads.
const MinABIVersion = vecabi.MinVersion

// ErrOverCapacity is wrapped by the error of an unchunked guest call whose length
// exceeds the guest's capacity (or is negative).
var ErrOverCapacity = vecabi.ErrOverCapacity

// ErrClosed is returned by calls on a closed instance.
var ErrClosed = vecabi.ErrClosed

// ErrNoExport is wrapped by the error of a resident call naming an export the guest
// does not have (e.g. "dot_simd" on an ABI v1 guest).
var ErrNoExport = vecabi.ErrNoExport

// TrapError is a trap (or a WASI exit) raised inside a guest call, or the interrupt of
// a call that ran past its deadline (Deadline > 0; errors.Is(err, ErrDeadline)). After
// a trap the instance refuses further calls: create a new one.
type TrapError struct {
	Export string // the export that was called
	Msg    string // wasmtime's or wazero's message
	// Deadline is the deadline the call ran past when it was interrupted for it, else 0.
	Deadline time.Duration
}

func (e *TrapError) Error() string {
	if e.Deadline > 0 {
		return fmt.Sprintf("guest call %s interrupted: it ran past its deadline of %v (%s)", e.Export, e.Deadline, e.Msg)
	}
	return fmt.Sprintf("guest trapped in %s: %s", e.Export, e.Msg)
}

// Unwrap is ErrDeadline for an interrupt at the deadline, else nil.
func (e *TrapError) Unwrap() error {
	if e.Deadline > 0 {
		return ErrDeadline
	}
	return nil
}

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

// guestErr turns the driver's refusal of a strict dot on an ABI v1 guest into the
// family error every path returns (wrapping ErrFamilyUnsupported, naming ABI v1).
func guestErr(path string, err error) error {
	if errors.Is(err, vecabi.ErrV1StrictDot) {
		return familyErr(path, "dot", Strict, vecabi.ErrV1StrictDot.Error())
	}
	return err
}

// residentExport is the export that runs op ("Sum", "Dot") in family f on a guest of
// ABI abi: sum/dot (strict), sum_simd/dot_simd (fast; dot on ABI v1). A v1 guest has no
// strict dot: an error wrapping ErrFamilyUnsupported.
func residentExport(path string, abi int, op string, f Family) (string, error) {
	e, err := vecabi.ReductionExport(abi, op, f == Strict)
	return e, guestErr(path, err)
}

// WasmModule is a vector guest compiled by wasmtime (cranelift), ready to be
// instantiated any number of times. Safe for concurrent use.
type WasmModule struct {
	name     string
	engine   *wasmtime.Engine
	module   *wasmtime.Module
	needWasi bool
	deadline atomic.Int64 // time.Duration of the instances made next; 0: DefaultGuestDeadline
}

// SetDeadline sets the deadline of every call into instances made afterwards (and of
// their start function and _initialize): a call still running d after it began is
// interrupted and returns a *TrapError wrapping ErrDeadline (resolution 10 ms: it runs at
// most about 20 ms more). The default is DefaultGuestDeadline. Errors: d not positive.
func (m *WasmModule) SetDeadline(d time.Duration) error {
	if err := checkDeadline(d); err != nil {
		return err
	}
	m.deadline.Store(int64(d))
	return nil
}

// Deadline is the deadline of the instances made next (see SetDeadline).
func (m *WasmModule) Deadline() time.Duration {
	if d := time.Duration(m.deadline.Load()); d > 0 {
		return d
	}
	return DefaultGuestDeadline
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
	engine, err := guestEngine()
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

// wasmRuntime is one wasmtime instance of a vector guest as internal/vecabi drives it
// (its Runtime): exports are called through the fast path's C-side table once fast is
// set, else through wasmtime-go's Func.Call.
type wasmRuntime struct {
	engine   *wasmtime.Engine // kept alive with the store
	deadline time.Duration    // of each call
	ticks    uint64           // deadline in epoch ticks
	clock    bool             // holds a clockAcquire, released by Close
	store    *wasmtime.Store
	mem      *wasmtime.Memory
	inst     *wasmtime.Instance
	fns      [vecabi.NumExports]*wasmtime.Func
	names    [vecabi.NumExports]string
	idx      [vecabi.NumExports]int // index in fast's table, -1 when not registered
	fast     *fastCaller            // nil on the FuncCall path (and until Instantiate sets it)
	data     []byte                 // linear memory view for FuncCall; fast.memory() for FastCall
}

func (r *wasmRuntime) Bind(e vecabi.Export, name string) bool {
	f := r.inst.GetFunc(r.store, name)
	if f == nil {
		return false
	}
	r.fns[e], r.names[e] = f, name
	return true
}

func (r *wasmRuntime) Memory() []byte {
	if r.fast != nil {
		return r.fast.memory()
	}
	return r.data
}

func (r *wasmRuntime) CallI32(e vecabi.Export) (int32, error) {
	if r.fast != nil && r.idx[e] >= 0 {
		if err := r.fast.call(r.idx[e], r.names[e], 1, r.deadline); err != nil {
			return 0, err
		}
		runtime.KeepAlive(r.store)
		return r.fast.i32(0), nil
	}
	r.store.SetEpochDeadline(r.ticks)
	v, err := r.fns[e].Call(r.store)
	if err != nil {
		return 0, r.trap(e, err)
	}
	i, ok := v.(int32)
	if !ok {
		return 0, &vecabi.ResultError{Export: r.names[e], Got: fmt.Sprintf("%T", v), Want: "i32"}
	}
	return i, nil
}

func (r *wasmRuntime) Call(e vecabi.Export, scalar float64, hasScalar bool, n int32, hasResult bool) (float64, error) {
	if r.fast != nil {
		slot := 0
		if hasScalar {
			r.fast.setF64(0, scalar)
			slot = 1
		}
		r.fast.setI32(slot, n)
		if err := r.fast.call(r.idx[e], r.names[e], slot+1, r.deadline); err != nil {
			return 0, err
		}
		runtime.KeepAlive(r.store)
		if hasResult {
			return r.fast.f64(0), nil
		}
		return 0, nil
	}
	var v interface{}
	var err error
	r.store.SetEpochDeadline(r.ticks)
	if hasScalar {
		v, err = r.fns[e].Call(r.store, scalar, n)
	} else {
		v, err = r.fns[e].Call(r.store, n)
	}
	// Re-take the view: the call may have grown memory.
	r.data = r.mem.UnsafeData(r.store)
	if err != nil {
		return 0, r.trap(e, err)
	}
	if hasResult {
		f, ok := v.(float64)
		if !ok {
			return 0, &vecabi.ResultError{Export: r.names[e], Got: fmt.Sprintf("%T", v), Want: "f64"}
		}
		return f, nil
	}
	return 0, nil
}

// trap is the *TrapError of a failed Func.Call of export e (Deadline set for the
// interrupt at the deadline).
func (r *wasmRuntime) trap(e vecabi.Export, err error) *TrapError {
	if isInterrupt(err) {
		return deadlineTrap(r.names[e], wasmtimeInterrupt, r.deadline)
	}
	return &TrapError{Export: r.names[e], Msg: err.Error()}
}

// setDeadline sets the deadline of later calls.
func (r *wasmRuntime) setDeadline(d time.Duration) {
	r.deadline, r.ticks = d, deadlineTicks(d, epochTick)
	if r.fast != nil {
		r.fast.setTicks(r.ticks)
	}
}

// WasmVectorOps runs one instance of a vector guest in wasmtime. Inputs are copied
// into the guest's static buffers through a zero-copy view of linear memory,
// inputs longer than the capacity run in capacity-sized chunks, and traps come back
// as *TrapError. A mutex serialises calls, so one WasmVectorOps is safe for
// concurrent use (calls run one at a time); use a [WasmPool] for parallelism.
type WasmVectorOps struct {
	d  *vecabi.Driver
	rt *wasmRuntime
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
// capacity, buffer offsets and exported functions. Every call into it, the start
// function and `_initialize` included, runs under the module's deadline (SetDeadline);
// a guest that runs past it here is an error wrapping ErrDeadline.
func (m *WasmModule) Instantiate(name string, path CallPath) (_ *WasmVectorOps, err error) {
	store := wasmtime.NewStore(m.engine)
	rt := &wasmRuntime{engine: m.engine, store: store}
	rt.setDeadline(m.Deadline())
	store.SetEpochDeadline(rt.ticks) // before the start function runs
	clockAcquire()
	rt.clock = true
	defer func() {
		if err != nil {
			clockRelease()
			if rt.fast != nil {
				rt.fast.free()
			}
			store.Close()
		}
	}()
	linker := wasmtime.NewLinker(m.engine)
	defer linker.Close()
	if m.needWasi {
		if err := linker.DefineWasi(); err != nil {
			return nil, fmt.Errorf("guest %s: define WASI: %w", m.name, err)
		}
		store.SetWasi(wasmtime.NewWasiConfig())
	}
	inst, err := linker.Instantiate(store, m.module)
	if err != nil {
		return nil, fmt.Errorf("guest %s: instantiate: %w", m.name, instantiateErr(err, rt.deadline))
	}
	if f := inst.GetFunc(store, "_initialize"); f != nil {
		store.SetEpochDeadline(rt.ticks)
		if _, err := f.Call(store); err != nil {
			return nil, fmt.Errorf("guest %s: _initialize: %w", m.name, instantiateErr(err, rt.deadline))
		}
	}
	ext := inst.GetExport(store, "memory")
	if ext == nil || ext.Memory() == nil {
		return nil, fmt.Errorf("guest %s: missing export \"memory\"", m.name)
	}
	rt.mem, rt.inst = ext.Memory(), inst
	for i := range rt.idx {
		rt.idx[i] = -1
	}
	rt.data = rt.mem.UnsafeData(store)
	d, err := vecabi.New(m.name, name, rt)
	if err != nil {
		return nil, err
	}
	w := &WasmVectorOps{d: d, rt: rt}
	if path == FastCall {
		if rt.fast, err = newFastCaller(store, rt.mem, rt.ticks); err != nil {
			return nil, err
		}
		rt.data = nil
		for _, e := range []vecabi.Export{vecabi.Sum, vecabi.Dot, vecabi.Mul, vecabi.Scale, vecabi.SumSIMD, vecabi.DotSIMD, vecabi.AbiVersion} {
			if rt.idx[e], err = rt.fast.register(rt.fns[e]); err != nil {
				return nil, err
			}
		}
	}
	runtime.SetFinalizer(w, (*WasmVectorOps).Close)
	return w, nil
}

// instantiateErr names the deadline in an error of a start function or _initialize
// interrupted at deadline d (wrapping ErrDeadline); other errors come back as they are.
func instantiateErr(err error, d time.Duration) error {
	if isInterrupt(err) {
		return fmt.Errorf("%w of %v (%s)", ErrDeadline, d, wasmtimeInterrupt)
	}
	return err
}

// Close frees the fast path's C state, the instance's hold on the deadline clock and the
// store (its linear memory's reservation, several GiB of address space, goes at once, not
// at the next garbage collection: a host remaking instances after traps in a loop would
// otherwise run out of address space). Calls after Close return ErrClosed; closing twice
// is a no-op.
func (w *WasmVectorOps) Close() error {
	return w.d.Close(func() error {
		if w.rt.fast != nil {
			w.rt.fast.free()
			w.rt.fast = nil
		}
		if w.rt.clock {
			w.rt.clock = false
			clockRelease()
		}
		if w.rt.store != nil {
			w.rt.store.Close()
			w.rt.store = nil
		}
		return nil
	})
}

// SetDeadline sets the deadline of this instance's later calls: a call still running d
// after it began is interrupted and returns a *TrapError wrapping ErrDeadline
// (resolution 10 ms), and the instance then refuses further calls. Errors: d not
// positive, ErrClosed.
func (w *WasmVectorOps) SetDeadline(d time.Duration) error {
	if err := checkDeadline(d); err != nil {
		return err
	}
	return w.d.Locked(func() error { w.rt.setDeadline(d); return nil })
}

// Deadline is the deadline of this instance's calls.
func (w *WasmVectorOps) Deadline() time.Duration {
	var d time.Duration
	_ = w.d.Locked(func() error { d = w.rt.deadline; return nil })
	return d
}

// Name is the benchmark path name given at creation.
func (w *WasmVectorOps) Name() string { return w.d.Name() }

// Capacity is the guest's buffer capacity in elements.
func (w *WasmVectorOps) Capacity() int { return w.d.Capacity() }

// ABI is the guest's abi_version (1 or 2).
func (w *WasmVectorOps) ABI() int { return w.d.ABI() }

// Sum returns Σ x[i] through the guest's `sum`, strictly left to right at every n
// (past the capacity the running total is carried into the next piece).
func (w *WasmVectorOps) Sum(x []float64) (float64, error) { return w.d.Sum(x) }

// SumFast returns Σ x[i] from the guest's `sum_simd` (simd128 partial sums); past the
// capacity, the sum of per-chunk sums.
func (w *WasmVectorOps) SumFast(x []float64) (float64, error) { return w.d.SumFast(x) }

// Dot returns Σ a[i]·b[i] through the guest's `dot`, strictly left to right at every n.
// An ABI v1 guest's `dot` has no defined order: there it is an error wrapping
// [ErrFamilyUnsupported] (use DotFast).
func (w *WasmVectorOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	v, err := w.d.Dot(a, b)
	return v, guestErr(w.d.Name(), err)
}

// DotFast returns Σ a[i]·b[i] from the guest's `dot_simd` (`dot` on an ABI v1 guest);
// past the capacity, the sum of per-chunk results.
func (w *WasmVectorOps) DotFast(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	return w.d.DotFast(a, b)
}

// Mul sets dst[i] = a[i]·b[i]; dst may alias a or b.
func (w *WasmVectorOps) Mul(dst, a, b []float64) error {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return err
	}
	if err := checkLen("dst", len(dst), len(a)); err != nil {
		return err
	}
	return w.d.Mul(dst, a, b)
}

// Scale sets dst[i] = s·a[i]; dst may alias a.
func (w *WasmVectorOps) Scale(dst, a []float64, s float64) error {
	if err := checkLen("dst", len(dst), len(a)); err != nil {
		return err
	}
	return w.d.Scale(dst, a, s)
}

// SumUnchecked calls the guest's `sum` with n exactly as given, over whatever
// buffer a holds, without the host's range check: a negative n or one over the
// capacity makes the guest trap, which comes back as *TrapError. For tests of the
// trap path; [WasmVectorOps.Sum] never does this.
func (w *WasmVectorOps) SumUnchecked(n int32) (float64, error) { return w.d.SumUnchecked(n) }

// SumBuffer sums the first n elements already in buffer a, checking n against the
// capacity first (an [ErrOverCapacity] error, no guest call).
func (w *WasmVectorOps) SumBuffer(n int) (float64, error) {
	if n < 0 || n > w.d.Capacity() || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: n = %d, capacity %d", ErrOverCapacity, n, w.d.Capacity())
	}
	return w.SumUnchecked(int32(n))
}

// CopyIn copies x into buffer a (len(x) ≤ capacity) without calling the guest: the
// host-to-guest copy measured by BenchmarkCopyIn.
func (w *WasmVectorOps) CopyIn(x []float64) error { return w.d.CopyIn(vecabi.BufA, x) }

// CopyInB copies x into buffer b (len(x) ≤ capacity) without calling the guest.
func (w *WasmVectorOps) CopyInB(x []float64) error { return w.d.CopyIn(vecabi.BufB, x) }

// ReadResult copies the first len(dst) elements of the result buffer into dst.
func (w *WasmVectorOps) ReadResult(dst []float64) error { return w.d.ReadResult(dst) }

// CallResident calls one export of the vector-guest ABI ("sum", "dot", "sum_simd",
// "dot_simd", "mul", "scale") on the first n elements already in the guest's buffers
// (0 ≤ n ≤ capacity, checked: no trap), without copying anything: the guest's compute
// alone, as the Rust host's `<op>-resident` benches. scalar is scale's factor; the
// result is the reduction's value (0 for mul and scale, whose output is in the result
// buffer, see ReadResult).
func (w *WasmVectorOps) CallResident(export string, n int, scalar float64) (float64, error) {
	return w.d.CallResident(export, n, scalar)
}

// EmptyCall calls the guest's `abi_version` (no work, no memory traffic) and
// returns its value: the call overhead of this instance's call path.
func (w *WasmVectorOps) EmptyCall() (int32, error) { return w.d.EmptyCall() }

// MaxWasmPoolSize is the most instances one WasmPool holds. wasmtime reserves the
// address space of each instance's linear memory up front (several GiB of virtual
// memory), so an absurd pool size is refused instead of exhausting the address space
// or failing inside make.
const MaxWasmPoolSize = 1024

// WasmPool hands out instances of one module, one caller at a time each, so calls
// run in parallel on separate instances. An instance that trapped (or ran past its
// deadline) is replaced by a fresh one when it comes back. Safe for concurrent use.
type WasmPool struct {
	module *WasmModule
	name   string
	path   CallPath
	size   int
	free   chan *WasmVectorOps
	closed atomic.Bool
}

// NewWasmPool instantiates size instances of m with the given call path. Errors: size
// not in [1, MaxWasmPoolSize], an instantiation error (the instances made so far are
// closed).
func NewWasmPool(m *WasmModule, name string, path CallPath, size int) (*WasmPool, error) {
	if size <= 0 || size > MaxWasmPoolSize {
		return nil, fmt.Errorf("pool size %d: must be in [1, %d]", size, MaxWasmPoolSize)
	}
	p := &WasmPool{module: m, name: name, path: path, size: size, free: make(chan *WasmVectorOps, size)}
	for i := 0; i < size; i++ {
		w, err := m.Instantiate(name, path)
		if err != nil {
			for len(p.free) > 0 {
				_ = (<-p.free).Close()
			}
			return nil, err
		}
		p.free <- w
	}
	return p, nil
}

// Do runs fn with an instance taken from the pool, waiting for one if all are busy,
// and returns fn's error; ErrClosed after Close.
func (p *WasmPool) Do(fn func(*WasmVectorOps) error) error {
	w := <-p.free
	if p.closed.Load() {
		p.free <- w
		return ErrClosed
	}
	defer func() {
		if w.d.Trapped() {
			if fresh, err := p.module.Instantiate(p.name, p.path); err == nil {
				_ = w.Close()
				w = fresh
			}
		}
		p.free <- w
	}()
	return fn(w)
}

// Close waits for the instances in use to come back and closes every instance; Do then
// returns ErrClosed. Closing twice is a no-op.
func (p *WasmPool) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	ws := make([]*WasmVectorOps, 0, p.size)
	for i := 0; i < p.size; i++ {
		w := <-p.free
		_ = w.Close()
		ws = append(ws, w)
	}
	for _, w := range ws {
		p.free <- w
	}
	return nil
}
