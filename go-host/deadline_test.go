package offload

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// testDeadline is the deadline of the looping guests below: short, so the tests are quick.
const testDeadline = 200 * time.Millisecond

// loopVectorGuest is a vector guest of ABI v2 (capacity 16) that loops forever in
// spin: in `sum` (spin = "sum"), in `_initialize` ("_initialize") or in its start
// function ("start"); its `sum_simd` returns 42 at once.
func loopVectorGuest(tb testing.TB, spin string) []byte {
	tb.Helper()
	body := map[bool]string{true: "call $spin f64.const 0", false: "f64.const 0"}
	wat := `(module (memory (export "memory") 1)
  (func $spin (loop $l (br $l)))
  (func (export "abi_version") (result i32) i32.const 2)
  (func (export "get_capacity") (result i32) i32.const 16)
  (func (export "get_buffer_a_offset") (result i32) i32.const 0)
  (func (export "get_buffer_b_offset") (result i32) i32.const 128)
  (func (export "get_result_offset") (result i32) i32.const 256)
  (func (export "sum") (param i32) (result f64) ` + body[spin == "sum"] + `)
  (func (export "dot") (param i32) (result f64) f64.const 0)
  (func (export "sum_simd") (param i32) (result f64) f64.const 42)
  (func (export "dot_simd") (param i32) (result f64) f64.const 0)
  (func (export "mul") (param i32))
  (func (export "scale") (param f64 i32))`
	switch spin {
	case "_initialize":
		wat += `(func (export "_initialize") call $spin)`
	case "start":
		wat += `(start $spin)`
	}
	wasm, err := wasmtime.Wat2Wasm(wat + ")")
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

// deadlineOps is a vector instance with the deadline API.
type deadlineOps interface {
	VectorOps
	SetDeadline(time.Duration) error
	Deadline() time.Duration
}

// loopInstance makes an instance of the guest looping in `sum` on runtime kind
// ("wasmtime-fast", "wasmtime-call", "wazero") with deadline testDeadline.
func loopInstance(t *testing.T, kind string) deadlineOps {
	t.Helper()
	wasm := loopVectorGuest(t, "sum")
	var o deadlineOps
	switch kind {
	case "wazero":
		w, err := NewWazeroVectorOpsWithDeadline("loop.wasm", wasm, "wazero-loop", testDeadline)
		if err != nil {
			t.Fatal(err)
		}
		o = w
	default:
		m, err := CompileWasmModule("loop.wasm", wasm)
		if err != nil {
			t.Fatal(err)
		}
		path := FastCall
		if kind == "wasmtime-call" {
			path = FuncCall
		}
		// The fast path takes the module's deadline, Func.Call the instance's own.
		if path == FastCall {
			if err := m.SetDeadline(testDeadline); err != nil {
				t.Fatal(err)
			}
		}
		w, err := m.Instantiate("wasm-loop", path)
		if err != nil {
			t.Fatal(err)
		}
		if path == FuncCall {
			if err := w.SetDeadline(testDeadline); err != nil {
				t.Fatal(err)
			}
		}
		o = w
	}
	t.Cleanup(func() { closeOps(o) })
	return o
}

// wantDeadline checks that err is the interrupt of export at testDeadline and that the
// call took at least the deadline and not much more.
func wantDeadline(t *testing.T, err error, export string, took time.Duration) {
	t.Helper()
	var te *TrapError
	if !errors.Is(err, ErrDeadline) || !errors.As(err, &te) {
		t.Fatalf("want a *TrapError wrapping ErrDeadline, got %v", err)
	}
	if te.Export != export || te.Deadline != testDeadline || !strings.Contains(err.Error(), "deadline of 200ms") {
		t.Errorf("deadline error %q: export %q, deadline %v; want %q, %v", err, te.Export, te.Deadline, export, testDeadline)
	}
	if took < testDeadline || took > testDeadline+2*time.Second {
		t.Errorf("interrupted after %v, deadline %v", took, testDeadline)
	}
}

// TestDeadlineVectorGuests: a vector guest that loops forever is interrupted at its
// deadline on every runtime, with an error naming the deadline; the instance then
// refuses calls, and a fresh instance works.
func TestDeadlineVectorGuests(t *testing.T) {
	for _, kind := range []string{"wasmtime-fast", "wasmtime-call", "wazero"} {
		t.Run(kind, func(t *testing.T) {
			o := loopInstance(t, kind)
			if o.Deadline() != testDeadline {
				t.Errorf("Deadline() = %v, want %v", o.Deadline(), testDeadline)
			}
			if v, err := o.SumFast([]float64{1}); err != nil || v != 42 {
				t.Fatalf("sum_simd before the loop: %v, %v", v, err)
			}
			start := time.Now()
			_, err := o.Sum([]float64{1})
			wantDeadline(t, err, "sum", time.Since(start))
			t.Logf("%s: %v", kind, err)
			if _, err := o.SumFast([]float64{1}); err == nil || !strings.Contains(err.Error(), "earlier trap") {
				t.Errorf("after the interrupt: got %v, want the earlier-trap error", err)
			}
			fresh := loopInstance(t, kind)
			if v, err := fresh.SumFast([]float64{1}); err != nil || v != 42 {
				t.Errorf("a fresh instance after the interrupt: %v, %v", v, err)
			}
		})
	}
}

// TestDeadlineAtInstantiation: a start function or _initialize that loops forever makes
// instantiation fail with an error wrapping ErrDeadline, on both runtimes.
func TestDeadlineAtInstantiation(t *testing.T) {
	for _, spin := range []string{"start", "_initialize"} {
		t.Run(spin, func(t *testing.T) {
			wasm := loopVectorGuest(t, spin)
			m, err := CompileWasmModule("loop.wasm", wasm)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.SetDeadline(testDeadline); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := m.Instantiate("x", FastCall); !errors.Is(err, ErrDeadline) || !strings.Contains(err.Error(), "200ms") {
				t.Errorf("wasmtime: got %v, want an error wrapping ErrDeadline naming 200ms", err)
			}
			start2 := time.Now()
			if _, err := NewWazeroVectorOpsWithDeadline("loop.wasm", wasm, "x", testDeadline); !errors.Is(err, ErrDeadline) {
				t.Errorf("wazero: got %v, want an error wrapping ErrDeadline", err)
			}
			if took := time.Since(start2); took > testDeadline+2*time.Second || start2.Sub(start) > testDeadline+2*time.Second {
				t.Errorf("instantiation took %v (wazero), %v (wasmtime)", took, start2.Sub(start))
			}
		})
	}
}

// TestDeadlinePoolReplaces: a pool replaces an instance interrupted at its deadline.
func TestDeadlinePoolReplaces(t *testing.T) {
	m, err := CompileWasmModule("loop.wasm", loopVectorGuest(t, "sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetDeadline(testDeadline); err != nil {
		t.Fatal(err)
	}
	p, err := NewWasmPool(m, "wasm-loop", FastCall, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Do(func(w *WasmVectorOps) error { _, err := w.Sum([]float64{1}); return err })
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("got %v, want ErrDeadline", err)
	}
	err = p.Do(func(w *WasmVectorOps) error {
		v, err := w.SumFast([]float64{1})
		if err == nil && v != 42 {
			t.Errorf("SumFast = %v, want 42", v)
		}
		return err
	})
	if err != nil {
		t.Errorf("pool after the interrupt: %v", err)
	}
}

// loopForestGuest is a forest guest (forest ABI v1) whose forest_fit loops forever
// when given more than one row and otherwise succeeds; forest_node_count is 3.
const loopForestGuest = `(module (memory (export "memory") 1)
  (func $spin (loop $l (br $l)))
  (func (export "forest_abi_version") (result i32) i32.const 1)
  (func (export "forest_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "forest_free") (param i32 i32))
  (func (export "forest_fit") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i64) (result i32)
    (if (i32.gt_s (local.get 2) (i32.const 1)) (then call $spin))
    i32.const 0)
  (func (export "forest_predict") (param i32 i32 i32) (result i32) i32.const 0)
  (func (export "forest_last_error") (param i32 i32) (result i32) i32.const 0)
  (func (export "forest_node_count") (result i32) i32.const 3))`

// TestDeadlineForestGuest: a forest fit that loops forever is interrupted at the
// deadline; the guest rebuilds its instance and the next fit works.
func TestDeadlineForestGuest(t *testing.T) {
	wasm, err := wasmtime.Wat2Wasm(loopForestGuest)
	if err != nil {
		t.Fatal(err)
	}
	g, err := CompileForestGuest("loop-forest.wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.SetDeadline(0); err == nil {
		t.Error("SetDeadline(0) accepted")
	}
	if err := g.SetDeadline(testDeadline); err != nil {
		t.Fatal(err)
	}
	p := ForestParams{Trees: 1, MinSamplesSplit: 2, MinSamplesLeaf: 1}
	start := time.Now()
	err = g.Fit([]float32{1, 2}, []float64{1, 2}, 1, p)
	wantDeadline(t, err, "forest_fit", time.Since(start))
	if g.Rebuilds() != 1 {
		t.Errorf("rebuilds %d after the interrupt, want 1", g.Rebuilds())
	}
	if err := g.Fit([]float32{1}, []float64{1}, 1, p); err != nil {
		t.Fatalf("fit on the rebuilt instance: %v", err)
	}
	if n, err := g.NodeCount(); err != nil || n != 3 {
		t.Errorf("node count on the rebuilt instance: %d, %v", n, err)
	}
}

// TestDeadlineRefusesNonPositive: deadlines must be positive everywhere.
func TestDeadlineRefusesNonPositive(t *testing.T) {
	wasm := loopVectorGuest(t, "sum")
	m, err := CompileWasmModule("loop.wasm", wasm)
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.Instantiate("x", FastCall)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if m.Deadline() != DefaultGuestDeadline || w.Deadline() != DefaultGuestDeadline {
		t.Errorf("default deadlines %v, %v; want %v", m.Deadline(), w.Deadline(), DefaultGuestDeadline)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if m.SetDeadline(d) == nil || w.SetDeadline(d) == nil {
			t.Errorf("deadline %v accepted", d)
		}
		if _, err := NewWazeroVectorOpsWithDeadline("loop.wasm", wasm, "x", d); err == nil {
			t.Errorf("wazero deadline %v accepted", d)
		}
	}
	_ = w.Close()
	if err := w.SetDeadline(time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("SetDeadline after Close: %v, want ErrClosed", err)
	}
}
