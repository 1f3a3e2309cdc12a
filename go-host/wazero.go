package offload

// Vector guests in wazero: WazeroVectorOps, the wazero side of internal/vecabi's Runtime
// interface (the driving of the vector-guest ABI is shared with wasm.go) and its public
// API.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/offload-project/offload/go-host/internal/vecabi"
)

// WazeroVectorOps runs one instance of a vector guest in wazero (compiler mode):
// the pure-Go runtime a Go user would pick instead of wasmtime (paths "wazero-rust",
// "wazero-c", "wazero-go"). Same semantics as [WasmVectorOps]: chunking over the
// capacity, traps as *TrapError (the instance refuses further calls), a mutex
// serialising calls. Calls go through api.Function.CallWithStack with a stack slice
// allocated once. Every call runs under a deadline (DefaultGuestDeadline unless
// SetDeadline): the runtime is configured with WithCloseOnContextDone(true), and a call
// still running at its deadline is stopped by cancelling the instance's context, which
// closes the module; it returns a *TrapError wrapping ErrDeadline.
type WazeroVectorOps struct {
	d     *vecabi.Driver
	ctx   context.Context
	rt    wazero.Runtime
	watch *callWatch
}

// wazeroInstance is one wazero instance of a vector guest as internal/vecabi drives it
// (its Runtime).
type wazeroInstance struct {
	ctx   context.Context // cancelled by watch at a call's deadline
	watch *callWatch
	mod   api.Module
	mem   api.Memory
	fns   [vecabi.NumExports]api.Function
	names [vecabi.NumExports]string
	nres  [vecabi.NumExports]int // number of results of each bound export
	stack []uint64               // CallWithStack's stack, allocated once
}

func (r *wazeroInstance) Bind(e vecabi.Export, name string) bool {
	f := r.mod.ExportedFunction(name)
	if f == nil {
		return false
	}
	r.fns[e], r.names[e], r.nres[e] = f, name, len(f.Definition().ResultTypes())
	return true
}

// Memory is the whole linear memory (memory.Read returns a view that a grow
// invalidates; the driver re-takes it per use).
func (r *wazeroInstance) Memory() []byte {
	b, ok := r.mem.Read(0, r.mem.Size())
	if !ok {
		panic("offload: wazero memory view out of range")
	}
	return b
}

func (r *wazeroInstance) call(e vecabi.Export, nargs int) error {
	r.watch.begin()
	err := r.fns[e].CallWithStack(r.ctx, r.stack[:max(nargs, 1)])
	r.watch.end()
	if err != nil {
		return r.watch.trap(r.names[e], err)
	}
	return nil
}

// trap is the *TrapError of a failed call of export (Deadline set when the watch
// cancelled it at its deadline).
func (w *callWatch) trap(export string, err error) *TrapError {
	if w.fired.Load() {
		return deadlineTrap(export, err.Error(), w.deadline())
	}
	return &TrapError{Export: export, Msg: err.Error()}
}

func (r *wazeroInstance) CallI32(e vecabi.Export) (int32, error) {
	if r.nres[e] != 1 {
		return 0, &vecabi.ResultError{Export: r.names[e], Got: fmt.Sprintf("%d values", r.nres[e]), Want: "1"}
	}
	if err := r.call(e, 0); err != nil {
		return 0, err
	}
	return api.DecodeI32(r.stack[0]), nil
}

func (r *wazeroInstance) Call(e vecabi.Export, scalar float64, hasScalar bool, n int32, hasResult bool) (float64, error) {
	nargs := 1
	if hasScalar {
		r.stack[0], r.stack[1] = api.EncodeF64(scalar), api.EncodeI32(n)
		nargs = 2
	} else {
		r.stack[0] = api.EncodeI32(n)
	}
	if err := r.call(e, nargs); err != nil {
		return 0, err
	}
	if hasResult {
		return api.DecodeF64(r.stack[0]), nil
	}
	return 0, nil
}

// NewWazeroVectorOps compiles and instantiates the guest at path in a new wazero
// runtime (compiler mode), with WASI preview 1 when the guest imports it.
func NewWazeroVectorOps(path, name string) (*WazeroVectorOps, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load guest: %w", err)
	}
	return NewWazeroVectorOpsFromBytes(filepath.Base(path), wasm, name)
}

// NewWazeroVectorOpsFromBytes is [NewWazeroVectorOps] over guest bytes; file is used
// in messages. Calls run under DefaultGuestDeadline.
func NewWazeroVectorOpsFromBytes(file string, wasm []byte, name string) (*WazeroVectorOps, error) {
	return NewWazeroVectorOpsWithDeadline(file, wasm, name, DefaultGuestDeadline)
}

// NewWazeroVectorOpsWithDeadline is [NewWazeroVectorOpsFromBytes] with deadline d for
// every call, the start function and _initialize included: one that runs past d is an
// error wrapping ErrDeadline (resolution 10 ms). Errors: d not positive, and those of
// NewWazeroVectorOps.
func NewWazeroVectorOpsWithDeadline(file string, wasm []byte, name string, d time.Duration) (*WazeroVectorOps, error) {
	if err := checkDeadline(d); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	watch := newCallWatch(cancel, d)
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true))
	fail := func(err error) (*WazeroVectorOps, error) {
		_ = rt.Close(context.Background())
		watch.close()
		cancel()
		return nil, err
	}
	// init runs the start function or _initialize under the deadline.
	init := func(what string, fn func() error) error {
		watch.begin()
		err := fn()
		watch.end()
		if err != nil && watch.fired.Load() {
			return fmt.Errorf("guest %s: %s: %w of %v (%v)", file, what, ErrDeadline, d, err)
		}
		if err != nil {
			return fmt.Errorf("guest %s: %s: %w", file, what, err)
		}
		return nil
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return fail(fmt.Errorf("compile guest %s: %w", file, err))
	}
	for _, imp := range compiled.ImportedFunctions() {
		m, n, _ := imp.Import()
		if m != wasi_snapshot_preview1.ModuleName {
			return fail(fmt.Errorf("guest %s imports %s.%s: only %s is provided", file, m, n, wasi_snapshot_preview1.ModuleName))
		}
	}
	if len(compiled.ImportedFunctions()) > 0 {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
			return fail(fmt.Errorf("guest %s: WASI: %w", file, err))
		}
	}
	// No start functions: reactors export _initialize, which is called below.
	var mod api.Module
	if err := init("instantiate", func() (err error) {
		mod, err = rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions().WithName(""))
		return err
	}); err != nil {
		return fail(err)
	}
	if f := mod.ExportedFunction("_initialize"); f != nil {
		if err := init("_initialize", func() error { _, err := f.Call(ctx); return err }); err != nil {
			return fail(err)
		}
	}
	inst := &wazeroInstance{ctx: ctx, watch: watch, mod: mod, stack: make([]uint64, 2)}
	if inst.mem = mod.ExportedMemory("memory"); inst.mem == nil {
		return fail(fmt.Errorf("guest %s: missing export \"memory\"", file))
	}
	dr, err := vecabi.New(file, name, inst)
	if err != nil {
		return fail(err)
	}
	w := &WazeroVectorOps{d: dr, ctx: ctx, rt: rt, watch: watch}
	runtime.SetFinalizer(w, (*WazeroVectorOps).Close) // releases the deadline clock
	return w, nil
}

// SetDeadline sets the deadline of this instance's later calls: a call still running d
// after it began is stopped (the module is closed) and returns a *TrapError wrapping
// ErrDeadline (resolution 10 ms); the instance then refuses further calls. Errors: d
// not positive, ErrClosed.
func (w *WazeroVectorOps) SetDeadline(d time.Duration) error {
	if err := checkDeadline(d); err != nil {
		return err
	}
	return w.d.Locked(func() error { w.watch.set(d); return nil })
}

// Deadline is the deadline of this instance's calls.
func (w *WazeroVectorOps) Deadline() time.Duration { return w.watch.deadline() }

// Close releases the runtime and the instance's deadline watch. Calls after Close
// return ErrClosed.
func (w *WazeroVectorOps) Close() error {
	return w.d.Close(func() error {
		w.watch.close()
		return w.rt.Close(context.Background())
	})
}

// Name is the benchmark path name given at creation.
func (w *WazeroVectorOps) Name() string { return w.d.Name() }

// Capacity is the guest's buffer capacity in elements.
func (w *WazeroVectorOps) Capacity() int { return w.d.Capacity() }

// ABI is the guest's abi_version (1 or 2).
func (w *WazeroVectorOps) ABI() int { return w.d.ABI() }

// Sum returns Σ x[i] through the guest's `sum`, strictly left to right at every n.
func (w *WazeroVectorOps) Sum(x []float64) (float64, error) { return w.d.Sum(x) }

// SumFast returns Σ x[i] from the guest's `sum_simd`; past the capacity, the sum of
// per-chunk sums.
func (w *WazeroVectorOps) SumFast(x []float64) (float64, error) { return w.d.SumFast(x) }

// Dot returns Σ a[i]·b[i] through the guest's `dot`, strictly left to right at every n;
// on an ABI v1 guest an error wrapping [ErrFamilyUnsupported] (use DotFast).
func (w *WazeroVectorOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	v, err := w.d.Dot(a, b)
	return v, guestErr(w.d.Name(), err)
}

// DotFast returns Σ a[i]·b[i] from the guest's `dot_simd` (`dot` on an ABI v1 guest);
// past the capacity, the sum of per-chunk results.
func (w *WazeroVectorOps) DotFast(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	return w.d.DotFast(a, b)
}

// Mul sets dst[i] = a[i]·b[i]; dst may alias a or b.
func (w *WazeroVectorOps) Mul(dst, a, b []float64) error {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return err
	}
	if err := checkLen("dst", len(dst), len(a)); err != nil {
		return err
	}
	return w.d.Mul(dst, a, b)
}

// Scale sets dst[i] = s·a[i]; dst may alias a.
func (w *WazeroVectorOps) Scale(dst, a []float64, s float64) error {
	if err := checkLen("dst", len(dst), len(a)); err != nil {
		return err
	}
	return w.d.Scale(dst, a, s)
}

// SumUnchecked calls the guest's `sum` with n as given (no host range check), so a
// bad n makes the guest trap; the trap comes back as *TrapError.
func (w *WazeroVectorOps) SumUnchecked(n int32) (float64, error) { return w.d.SumUnchecked(n) }

// CopyIn copies x into buffer a (len(x) ≤ capacity) without calling the guest.
func (w *WazeroVectorOps) CopyIn(x []float64) error { return w.d.CopyIn(vecabi.BufA, x) }

// CopyInB copies x into buffer b (len(x) ≤ capacity) without calling the guest.
func (w *WazeroVectorOps) CopyInB(x []float64) error { return w.d.CopyIn(vecabi.BufB, x) }

// ReadResult copies the first len(dst) elements of the result buffer into dst.
func (w *WazeroVectorOps) ReadResult(dst []float64) error { return w.d.ReadResult(dst) }

// CallResident is [WasmVectorOps.CallResident] in wazero: one export on the first n
// elements already in the guest's buffers, nothing copied.
func (w *WazeroVectorOps) CallResident(export string, n int, scalar float64) (float64, error) {
	return w.d.CallResident(export, n, scalar)
}

// CallResidentBatch is [WasmVectorOps.CallResidentBatch] in wazero: the same checks
// and results, the calls made one at a time (wazero has no cheaper crossing to batch).
func (w *WazeroVectorOps) CallResidentBatch(calls []ResidentCall, results []float64) error {
	if len(results) != len(calls) {
		return fmt.Errorf("CallResidentBatch: %d calls, %d result slots: %w", len(calls), len(results), ErrLengthMismatch)
	}
	return w.d.CallResidentBatch(calls, results)
}

// EmptyCall calls the guest's `abi_version` and returns its value: the call overhead
// of wazero's CallWithStack.
func (w *WazeroVectorOps) EmptyCall() (int32, error) { return w.d.EmptyCall() }
