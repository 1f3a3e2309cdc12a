package offload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// WazeroVectorOps runs one instance of a vector guest in wazero (compiler mode):
// the pure-Go runtime a Go user would pick instead of wasmtime (paths "wazero-rust",
// "wazero-c", "wazero-go"). Same semantics as [WasmVectorOps]: chunking over the
// capacity, traps as *TrapError (the instance refuses further calls), a mutex
// serialising calls. Calls go through api.Function.CallWithStack with a stack slice
// allocated once.
type WazeroVectorOps struct {
	mu       sync.Mutex
	name     string
	ctx      context.Context
	rt       wazero.Runtime
	mod      api.Module
	mem      api.Memory
	fSum     api.Function
	fDot     api.Function
	fMul     api.Function
	fScale   api.Function
	fSumSIMD api.Function
	fABI     api.Function
	stack    []uint64
	capacity int
	offA     uint32
	offB     uint32
	offR     uint32
	broken   error
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
// in messages.
func NewWazeroVectorOpsFromBytes(file string, wasm []byte, name string) (*WazeroVectorOps, error) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	fail := func(err error) (*WazeroVectorOps, error) {
		_ = rt.Close(ctx)
		return nil, err
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
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions().WithName(""))
	if err != nil {
		return fail(fmt.Errorf("guest %s: instantiate: %w", file, err))
	}
	w := &WazeroVectorOps{name: name, ctx: ctx, rt: rt, mod: mod, stack: make([]uint64, 2)}
	if f := mod.ExportedFunction("_initialize"); f != nil {
		if _, err := f.Call(ctx); err != nil {
			return fail(fmt.Errorf("guest %s: _initialize: %w", file, err))
		}
	}
	if w.mem = mod.ExportedMemory("memory"); w.mem == nil {
		return fail(fmt.Errorf("guest %s: missing export \"memory\"", file))
	}
	fns := map[string]api.Function{}
	for _, e := range guestExports {
		f := mod.ExportedFunction(e)
		if f == nil {
			return fail(fmt.Errorf("guest %s: missing export %q (vector-guest ABI v1)", file, e))
		}
		fns[e] = f
	}
	w.fSum, w.fDot, w.fMul, w.fScale, w.fSumSIMD, w.fABI = fns["sum"], fns["dot"], fns["mul"], fns["scale"], fns["sum_simd"], fns["abi_version"]
	getI32 := func(e string) (int, error) {
		r, err := fns[e].Call(ctx)
		if err != nil {
			return 0, fmt.Errorf("guest %s: %s: %w", file, e, err)
		}
		if len(r) != 1 {
			return 0, fmt.Errorf("guest %s: %s returned %d values, want 1", file, e, len(r))
		}
		return int(api.DecodeI32(r[0])), nil
	}
	abi, err := getI32("abi_version")
	if err != nil {
		return fail(err)
	}
	if abi != ABIVersion {
		return fail(fmt.Errorf("guest %s: abi_version %d, this host speaks %d", file, abi, ABIVersion))
	}
	vals := make([]int, 4)
	for i, e := range []string{"get_capacity", "get_buffer_a_offset", "get_buffer_b_offset", "get_result_offset"} {
		if vals[i], err = getI32(e); err != nil {
			return fail(err)
		}
	}
	w.capacity = vals[0]
	size := int(w.mem.Size())
	for _, o := range vals[1:] {
		if w.capacity <= 0 || o < 0 || o%8 != 0 || o+8*w.capacity > size {
			return fail(fmt.Errorf("guest %s: buffer at offset %d with capacity %d does not fit an 8-byte aligned range in %d bytes of memory", file, o, w.capacity, size))
		}
	}
	w.offA, w.offB, w.offR = uint32(vals[1]), uint32(vals[2]), uint32(vals[3])
	return w, nil
}

// Close releases the runtime. Calls after Close return ErrClosed.
func (w *WazeroVectorOps) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.broken = ErrClosed
	return w.rt.Close(w.ctx)
}

// Name is the benchmark path name given at creation.
func (w *WazeroVectorOps) Name() string { return w.name }

// Capacity is the guest's buffer capacity in elements.
func (w *WazeroVectorOps) Capacity() int { return w.capacity }

func (w *WazeroVectorOps) ready() error {
	if w.broken != nil {
		if errors.Is(w.broken, ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("guest %s unusable after an earlier trap (%w); create a new instance", w.name, w.broken)
	}
	return nil
}

// buf is a view of n float64 at byte offset off (re-taken per use: memory.Read
// returns a view that a grow invalidates).
func (w *WazeroVectorOps) buf(off uint32, n int) []float64 {
	if n == 0 {
		return nil
	}
	b, ok := w.mem.Read(off, uint32(8*n))
	if !ok {
		// Offsets were checked at creation and memory never shrinks.
		panic("offload: wazero buffer out of range")
	}
	return bytesAsF64(b)
}

func (w *WazeroVectorOps) call(f api.Function, export string, nargs int) error {
	if err := f.CallWithStack(w.ctx, w.stack[:max(nargs, 1)]); err != nil {
		err = &TrapError{Export: export, Msg: err.Error()}
		w.broken = err
		return err
	}
	return nil
}

func (w *WazeroVectorOps) chunks(n int, fn func(lo, hi int) error) error {
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

func (w *WazeroVectorOps) reduce(f api.Function, export string, a, b []float64) (float64, error) {
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
		w.stack[0] = api.EncodeI32(int32(hi - lo))
		if err := w.call(f, export, 1); err != nil {
			return err
		}
		total += api.DecodeF64(w.stack[0])
		return nil
	})
	return total, err
}

// Sum returns Σ x[i]; over the capacity, the sum of per-chunk sums.
func (w *WazeroVectorOps) Sum(x []float64) (float64, error) {
	return w.reduce(w.fSum, "sum", x, nil)
}

// SumSIMD returns Σ x[i] from the guest's simd128 kernel.
func (w *WazeroVectorOps) SumSIMD(x []float64) (float64, error) {
	return w.reduce(w.fSumSIMD, "sum_simd", x, nil)
}

// Dot returns Σ a[i]·b[i].
func (w *WazeroVectorOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	if b == nil {
		b = []float64{}
	}
	return w.reduce(w.fDot, "dot", a, b)
}

// Mul sets dst[i] = a[i]·b[i]; dst may alias a or b.
func (w *WazeroVectorOps) Mul(dst, a, b []float64) error {
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
		w.stack[0] = api.EncodeI32(int32(hi - lo))
		if err := w.call(w.fMul, "mul", 1); err != nil {
			return err
		}
		copy(dst[lo:hi], w.buf(w.offR, hi-lo))
		return nil
	})
}

// Scale sets dst[i] = s·a[i]; dst may alias a.
func (w *WazeroVectorOps) Scale(dst, a []float64, s float64) error {
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
		w.stack[0] = api.EncodeF64(s)
		w.stack[1] = api.EncodeI32(int32(hi - lo))
		if err := w.call(w.fScale, "scale", 2); err != nil {
			return err
		}
		copy(dst[lo:hi], w.buf(w.offR, hi-lo))
		return nil
	})
}

// SumUnchecked calls the guest's `sum` with n as given (no host range check), so a
// bad n makes the guest trap; the trap comes back as *TrapError.
func (w *WazeroVectorOps) SumUnchecked(n int32) (float64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return 0, err
	}
	w.stack[0] = api.EncodeI32(n)
	if err := w.call(w.fSum, "sum", 1); err != nil {
		return 0, err
	}
	return api.DecodeF64(w.stack[0]), nil
}

// EmptyCall calls the guest's `abi_version` and returns its value: the call overhead
// of wazero's CallWithStack.
func (w *WazeroVectorOps) EmptyCall() (int32, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return 0, err
	}
	if err := w.call(w.fABI, "abi_version", 0); err != nil {
		return 0, err
	}
	return api.DecodeI32(w.stack[0]), nil
}
