package offload

import (
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// guestCapacity is the shipped guests' capacity; tests read it from an instance and
// check it, rather than assume it, where an instance is at hand.
const guestCapacity = 100000

func TestEveryPathMatchesGo(t *testing.T) {
	for _, s := range allPaths {
		t.Run(s.name, func(t *testing.T) {
			o := sharedOps(t, s)
			capacity := guestCapacity
			if c, ok := o.(interface{ Capacity() int }); ok {
				capacity = c.Capacity()
			}
			for _, n := range []int{0, 1, 7, 1000, capacity, capacity + 1, 3*capacity + 5} {
				a, b := randVec(n, uint64(n)+1), randVec(n, uint64(n)+2)
				for _, op := range allOps {
					if err := checkOp(o, op, a, b); err != nil {
						t.Errorf("n=%d %s: %v", n, op, err)
					}
				}
			}
		})
	}
}

func TestLengthMismatch(t *testing.T) {
	a, b3, dst3 := randVec(4, 1), randVec(3, 2), make([]float64, 3)
	for _, s := range allPaths {
		t.Run(s.name, func(t *testing.T) {
			o := sharedOps(t, s)
			_, err := o.Dot(a, b3)
			errs := []error{err, o.Mul(make([]float64, 4), a, b3), o.Mul(dst3, a, a), o.Scale(dst3, a, 2)}
			for i, err := range errs {
				if !errors.Is(err, ErrLengthMismatch) {
					t.Errorf("case %d: got %v, want ErrLengthMismatch", i, err)
				}
			}
			if !strings.Contains(errs[0].Error(), "3") || !strings.Contains(errs[0].Error(), "4") {
				t.Errorf("message should name both lengths: %v", errs[0])
			}
		})
	}
}

func TestNilEmptyNaNInf(t *testing.T) {
	for _, s := range allPaths {
		t.Run(s.name, func(t *testing.T) {
			o := sharedOps(t, s)
			if v, err := o.Sum(nil); err != nil || v != 0 {
				t.Errorf("Sum(nil) = %v, %v; want 0, nil", v, err)
			}
			if v, err := o.Dot([]float64{}, nil); err != nil || v != 0 {
				t.Errorf("Dot(empty, nil) = %v, %v; want 0, nil", v, err)
			}
			if err := o.Mul(nil, nil, nil); err != nil {
				t.Errorf("Mul(nil...) = %v", err)
			}
			if err := o.Scale(nil, nil, 3); err != nil {
				t.Errorf("Scale(nil...) = %v", err)
			}
			x := []float64{1, math.NaN(), 2}
			for _, f := range []func([]float64) (float64, error){o.Sum, o.SumSIMD} {
				if v, err := f(x); err != nil || !math.IsNaN(v) {
					t.Errorf("sum with NaN = %v, %v; want NaN", v, err)
				}
			}
			if v, err := o.Dot(x, []float64{1, 1, 1}); err != nil || !math.IsNaN(v) {
				t.Errorf("Dot with NaN = %v, %v; want NaN", v, err)
			}
			dst := make([]float64, 3)
			if err := o.Scale(dst, x, 2); err != nil || !math.IsNaN(dst[1]) || dst[2] != 4 {
				t.Errorf("Scale with NaN = %v, %v", dst, err)
			}
			inf := []float64{math.Inf(1), 1, math.Inf(-1)}
			if v, err := o.Sum(inf[:2]); err != nil || !math.IsInf(v, 1) {
				t.Errorf("Sum(+Inf, 1) = %v, %v; want +Inf", v, err)
			}
			if v, err := o.Sum(inf); err != nil || !math.IsNaN(v) {
				t.Errorf("Sum(+Inf, 1, -Inf) = %v, %v; want NaN", v, err)
			}
		})
	}
}

// trapper is an instance with the unchecked raw call.
type trapper interface {
	VectorOps
	SumUnchecked(n int32) (float64, error)
	Capacity() int
}

func TestOverCapacityRawCallTraps(t *testing.T) {
	for _, s := range allPaths {
		if s.guest == "" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			for _, n := range []int32{int32(guestCapacity) + 1, -1} {
				o := newOps(t, s).(trapper)
				defer closeOps(o)
				if o.Capacity() != guestCapacity {
					t.Fatalf("capacity %d, shipped guests have %d", o.Capacity(), guestCapacity)
				}
				_, err := o.SumUnchecked(n)
				var te *TrapError
				if !errors.As(err, &te) {
					t.Fatalf("SumUnchecked(%d): got %v, want *TrapError", n, err)
				}
				if _, err := o.Sum([]float64{1}); err == nil || !strings.Contains(err.Error(), "earlier trap") {
					t.Errorf("call after a trap: got %v, want the earlier-trap error", err)
				}
			}
			// A valid raw length works.
			o := newOps(t, s).(trapper)
			defer closeOps(o)
			if _, err := o.Sum([]float64{2, 3}); err != nil {
				t.Fatal(err)
			}
			if v, err := o.SumUnchecked(2); err != nil || v != 5 {
				t.Errorf("SumUnchecked(2) = %v, %v; want 5", v, err)
			}
		})
	}
	w := newOps(t, pathSpec{"wasm-rust", "wasm-rust", "wasmtime-fast"}).(*WasmVectorOps)
	defer closeOps(w)
	if _, err := w.SumBuffer(guestCapacity + 1); !errors.Is(err, ErrOverCapacity) {
		t.Errorf("SumBuffer over capacity: got %v, want ErrOverCapacity", err)
	}
	if err := w.CopyIn(make([]float64, guestCapacity+1)); !errors.Is(err, ErrOverCapacity) {
		t.Errorf("CopyIn over capacity: got %v, want ErrOverCapacity", err)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := LoadWasmModule("no/such/guest.wasm"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
	if _, err := NewWazeroVectorOps("no/such/guest.wasm", "x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wazero missing file: got %v, want os.ErrNotExist", err)
	}
	corrupt := []byte("\x00asm\x01\x00\x00\x00garbage")
	if _, err := CompileWasmModule("corrupt.wasm", corrupt); err == nil || !strings.Contains(err.Error(), "corrupt.wasm") {
		t.Errorf("corrupt module: got %v", err)
	}
	if _, err := NewWazeroVectorOpsFromBytes("corrupt.wasm", corrupt, "x"); err == nil || !strings.Contains(err.Error(), "corrupt.wasm") {
		t.Errorf("wazero corrupt module: got %v", err)
	}

	// A module with everything but `dot`, and one with the wrong ABI version.
	full := func(skip string, abi int) []byte {
		var sb strings.Builder
		sb.WriteString(`(module (memory (export "memory") 8)`)
		i32 := map[string]int{"abi_version": abi, "get_capacity": 16, "get_buffer_a_offset": 0, "get_buffer_b_offset": 128, "get_result_offset": 256}
		for _, e := range []string{"abi_version", "get_capacity", "get_buffer_a_offset", "get_buffer_b_offset", "get_result_offset"} {
			if e != skip {
				sb.WriteString(`(func (export "` + e + `") (result i32) i32.const ` + strconv.Itoa(i32[e]) + `)`)
			}
		}
		for _, e := range []string{"sum", "dot", "sum_simd"} {
			if e != skip {
				sb.WriteString(`(func (export "` + e + `") (param i32) (result f64) f64.const 0)`)
			}
		}
		sb.WriteString(`(func (export "mul") (param i32))(func (export "scale") (param f64 i32)))`)
		wasm, err := wasmtime.Wat2Wasm(sb.String())
		if err != nil {
			t.Fatal(err)
		}
		return wasm
	}
	m, err := CompileWasmModule("nodot.wasm", full("dot", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Instantiate("x", FastCall); err == nil || !strings.Contains(err.Error(), `"dot"`) {
		t.Errorf("missing export: got %v", err)
	}
	if _, err := NewWazeroVectorOpsFromBytes("nodot.wasm", full("dot", 1), "x"); err == nil || !strings.Contains(err.Error(), `"dot"`) {
		t.Errorf("wazero missing export: got %v", err)
	}
	m, err = CompileWasmModule("abi2.wasm", full("", 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Instantiate("x", FuncCall); err == nil || !strings.Contains(err.Error(), "abi_version 2") {
		t.Errorf("wrong ABI: got %v", err)
	}
	if _, err := NewWazeroVectorOpsFromBytes("abi2.wasm", full("", 2), "x"); err == nil || !strings.Contains(err.Error(), "abi_version 2") {
		t.Errorf("wazero wrong ABI: got %v", err)
	}
	// The stub guest is otherwise valid and runs.
	m, err = CompileWasmModule("stub.wasm", full("", 1))
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.Instantiate("stub", FastCall)
	if err != nil {
		t.Fatal(err)
	}
	if w.Capacity() != 16 {
		t.Errorf("capacity %d, want 16", w.Capacity())
	}
}

func TestRustCgoErrors(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	err := RustOps{}.Scale(x[1:], x[:3], 2)
	var ce *CapiError
	if !errors.As(err, &ce) || ce.Code != -3 || !strings.Contains(ce.Msg, "overlap") {
		t.Errorf("partial overlap: got %v, want status -3 (OFFLOAD_ERR_OVERLAP)", err)
	}
	if err := (RustOps{}).Scale(x, x, 2); err != nil || x[3] != 8 {
		t.Errorf("in-place scale: %v, %v", x, err)
	}
	if lvl := RustSIMDLevel(); lvl == "" {
		t.Error("empty SIMD level")
	}
	if !rustEmptyCall() || RustVersion() == "" {
		t.Error("offload_version returned nothing")
	}
}

// TestConcurrent: 16 goroutines share one instance of each engine, then a pool.
// Run under -race by scripts/test.sh.
func TestConcurrent(t *testing.T) {
	const goroutines = 16
	run := func(t *testing.T, do func(fn func(VectorOps) error) error) {
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				n := []int{7, 1000, guestCapacity + 3}[g%3]
				a, b := randVec(n, uint64(g)), randVec(n, uint64(g)+100)
				for i := 0; i < 3; i++ {
					for _, op := range allOps {
						if err := do(func(o VectorOps) error { return checkOp(o, op, a, b) }); err != nil {
							errs <- err
							return
						}
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	for _, s := range []pathSpec{allPaths[3], allPaths[6], allPaths[7]} {
		t.Run("shared/"+s.name, func(t *testing.T) {
			o := newOps(t, s)
			defer closeOps(o)
			run(t, func(fn func(VectorOps) error) error { return fn(o) })
		})
	}
	t.Run("pool/wasm-rust", func(t *testing.T) {
		p, err := NewWasmPool(wasmModule(t, "wasm-rust"), "wasm-rust", FastCall, 4)
		if err != nil {
			t.Fatal(err)
		}
		run(t, func(fn func(VectorOps) error) error {
			return p.Do(func(w *WasmVectorOps) error { return fn(w) })
		})
	})
}

func TestPoolReplacesTrappedInstance(t *testing.T) {
	p, err := NewWasmPool(wasmModule(t, "wasm-rust"), "wasm-rust", FastCall, 1)
	if err != nil {
		t.Fatal(err)
	}
	var te *TrapError
	err = p.Do(func(w *WasmVectorOps) error { _, err := w.SumUnchecked(-1); return err })
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want *TrapError", err)
	}
	err = p.Do(func(w *WasmVectorOps) error {
		v, err := w.Sum([]float64{1, 2})
		if err == nil && v != 3 {
			t.Errorf("Sum = %v, want 3", v)
		}
		return err
	})
	if err != nil {
		t.Errorf("pool instance not replaced after a trap: %v", err)
	}
	w, err := wasmModule(t, "wasm-rust").Instantiate("x", FastCall)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if _, err := w.Sum(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v, want ErrClosed", err)
	}
}
