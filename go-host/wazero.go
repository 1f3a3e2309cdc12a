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
	fDotSIMD api.Function // export "dot_simd" (v2); export "dot" for a v1 guest
	fABI     api.Function
	dotSIMD  string // the export behind fDotSIMD
	abi      int
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
	if err := checkGuestABI(file, abi); err != nil {
		return fail(err)
	}
	w.abi, w.fDotSIMD, w.dotSIMD = abi, w.fDot, "dot"
	if abi >= 2 {
		for _, e := range guestExportsV2 {
			if mod.ExportedFunction(e) == nil {
				return fail(fmt.Errorf("guest %s: missing export %q (vector-guest ABI v%d)", file, e, abi))
			}
		}
		w.fDotSIMD, w.dotSIMD = mod.ExportedFunction("dot_simd"), "dot_simd"
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

// ABI is the guest's abi_version (1 or 2).
func (w *WazeroVectorOps) ABI() int { return w.abi }

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

// reduceStrict is a strict reduction, chunked with the running total carried into
// each next piece (see strictChunks).
func (w *WazeroVectorOps) reduceStrict(f api.Function, export string, a, b []float64) (float64, error) {
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
		w.stack[0] = api.EncodeI32(int32(k + hi - lo))
		if err := w.call(f, export, 1); err != nil {
			return 0, err
		}
		return api.DecodeF64(w.stack[0]), nil
	})
}

// reduce is a fast reduction: the sum of per-chunk results.
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

// Sum returns Σ x[i] through the guest's `sum`, strictly left to right at every n.
func (w *WazeroVectorOps) Sum(x []float64) (float64, error) {
	return w.reduceStrict(w.fSum, "sum", x, nil)
}

// SumFast returns Σ x[i] from the guest's `sum_simd`; past the capacity, the sum of
// per-chunk sums.
func (w *WazeroVectorOps) SumFast(x []float64) (float64, error) {
	return w.reduce(w.fSumSIMD, "sum_simd", x, nil)
}

// Dot returns Σ a[i]·b[i] through the guest's `dot`, strictly left to right at every n;
// on an ABI v1 guest an error wrapping [ErrFamilyUnsupported] (use DotFast).
func (w *WazeroVectorOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	if w.abi < 2 {
		return 0, familyErr(w.name, "dot", Strict, "ABI v1 guest: its dot adds in an unspecified order; rebuild it for ABI v2")
	}
	if b == nil {
		b = []float64{}
	}
	return w.reduceStrict(w.fDot, "dot", a, b)
}

// DotFast returns Σ a[i]·b[i] from the guest's `dot_simd` (`dot` on an ABI v1 guest);
// past the capacity, the sum of per-chunk results.
func (w *WazeroVectorOps) DotFast(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	if b == nil {
		b = []float64{}
	}
	return w.reduce(w.fDotSIMD, w.dotSIMD, a, b)
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

// CopyIn copies x into buffer a (len(x) ≤ capacity) without calling the guest.
func (w *WazeroVectorOps) CopyIn(x []float64) error { return w.copyTo(w.offA, x) }

// CopyInB copies x into buffer b (len(x) ≤ capacity) without calling the guest.
func (w *WazeroVectorOps) CopyInB(x []float64) error { return w.copyTo(w.offB, x) }

func (w *WazeroVectorOps) copyTo(off uint32, x []float64) error {
	if len(x) > w.capacity {
		return fmt.Errorf("%w: %d elements, capacity %d", ErrOverCapacity, len(x), w.capacity)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return err
	}
	copy(w.buf(off, len(x)), x)
	return nil
}

// ReadResult copies the first len(dst) elements of the result buffer into dst.
func (w *WazeroVectorOps) ReadResult(dst []float64) error {
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

// CallResident is [WasmVectorOps.CallResident] in wazero: one export on the first n
// elements already in the guest's buffers, nothing copied.
func (w *WazeroVectorOps) CallResident(export string, n int, scalar float64) (float64, error) {
	if n < 0 || n > w.capacity {
		return 0, fmt.Errorf("%w: n = %d, capacity %d", ErrOverCapacity, n, w.capacity)
	}
	var f api.Function
	switch export {
	case "sum":
		f = w.fSum
	case "dot":
		f = w.fDot
	case "sum_simd":
		f = w.fSumSIMD
	case "mul":
		f = w.fMul
	case "scale":
		f = w.fScale
	case "dot_simd":
		if w.abi >= 2 {
			f = w.fDotSIMD
		}
	}
	if f == nil {
		return 0, fmt.Errorf("%w: guest %s (ABI v%d) has no export %q", ErrNoExport, w.name, w.abi, export)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return 0, err
	}
	nargs := 1
	if export == "scale" {
		w.stack[0], w.stack[1] = api.EncodeF64(scalar), api.EncodeI32(int32(n))
		nargs = 2
	} else {
		w.stack[0] = api.EncodeI32(int32(n))
	}
	if err := w.call(f, export, nargs); err != nil {
		return 0, err
	}
	if export == "mul" || export == "scale" {
		return 0, nil
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
