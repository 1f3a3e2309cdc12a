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

	"github.com/offload-project/offload/go-host/internal/vecabi"
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
			for _, n := range []int{0, 1, 7, 1000, capacity - 1, capacity, capacity + 1, 2*capacity - 1, 2 * capacity, 3*capacity + 5} {
				a, b := randVec(n, uint64(n)+1), randVec(n, uint64(n)+2)
				if err := checkPath(s, o, a, b); err != nil {
					t.Errorf("n=%d: %v", n, err)
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
			_, errFast := o.DotFast(a, b3)
			errs := []error{err, errFast, o.Mul(make([]float64, 4), a, b3), o.Mul(dst3, a, a), o.Scale(dst3, a, 2)}
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
			x := []float64{1, math.NaN(), 2}
			inf := []float64{math.Inf(1), 1, math.Inf(-1)}
			for _, f := range families {
				if unsupported(s, o, "Sum", f) == "" {
					if v, err := SumOf(o, f, nil); err != nil || v != 0 {
						t.Errorf("%s Sum(nil) = %v, %v; want 0, nil", f, v, err)
					}
					if v, err := SumOf(o, f, x); err != nil || !math.IsNaN(v) {
						t.Errorf("%s sum with NaN = %v, %v; want NaN", f, v, err)
					}
					if v, err := SumOf(o, f, inf[:2]); err != nil || !math.IsInf(v, 1) {
						t.Errorf("%s Sum(+Inf, 1) = %v, %v; want +Inf", f, v, err)
					}
					if v, err := SumOf(o, f, inf); err != nil || !math.IsNaN(v) {
						t.Errorf("%s Sum(+Inf, 1, -Inf) = %v, %v; want NaN", f, v, err)
					}
				}
				if unsupported(s, o, "Dot", f) == "" {
					if v, err := DotOf(o, f, []float64{}, nil); err != nil || v != 0 {
						t.Errorf("%s Dot(empty, nil) = %v, %v; want 0, nil", f, v, err)
					}
					if v, err := DotOf(o, f, x, []float64{1, 1, 1}); err != nil || !math.IsNaN(v) {
						t.Errorf("%s Dot with NaN = %v, %v; want NaN", f, v, err)
					}
				}
			}
			if err := o.Mul(nil, nil, nil); err != nil {
				t.Errorf("Mul(nil...) = %v", err)
			}
			if err := o.Scale(nil, nil, 3); err != nil {
				t.Errorf("Scale(nil...) = %v", err)
			}
			dst := make([]float64, 3)
			if err := o.Scale(dst, x, 2); err != nil || !math.IsNaN(dst[1]) || dst[2] != 4 {
				t.Errorf("Scale with NaN = %v, %v", dst, err)
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
	w := newOps(t, pathByName("wasm-rust")).(*WasmVectorOps)
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
		exports := []string{"sum", "dot", "sum_simd"}
		if abi >= 2 {
			exports = append(exports, "dot_simd")
		}
		for _, e := range exports {
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
	for _, abi := range []int{0, 3} {
		m, err = CompileWasmModule("abi.wasm", full("", abi))
		if err != nil {
			t.Fatal(err)
		}
		want := "abi_version " + strconv.Itoa(abi)
		if _, err := m.Instantiate("x", FuncCall); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("wrong ABI %d: got %v", abi, err)
		}
		if _, err := NewWazeroVectorOpsFromBytes("abi.wasm", full("", abi), "x"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("wazero wrong ABI %d: got %v", abi, err)
		}
	}
	// ABI v2 needs dot_simd.
	m, err = CompileWasmModule("nodotsimd.wasm", full("dot_simd", 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Instantiate("x", FastCall); err == nil || !strings.Contains(err.Error(), `"dot_simd"`) {
		t.Errorf("v2 without dot_simd: got %v", err)
	}
	if _, err := NewWazeroVectorOpsFromBytes("nodotsimd.wasm", full("dot_simd", 2), "x"); err == nil || !strings.Contains(err.Error(), `"dot_simd"`) {
		t.Errorf("wazero v2 without dot_simd: got %v", err)
	}
	// The stub guests are otherwise valid and run: v1 (no dot_simd; strict dot refused,
	// its dot serves DotFast) and v2.
	for _, abi := range []int{1, 2} {
		m, err = CompileWasmModule("stub.wasm", full("", abi))
		if err != nil {
			t.Fatal(err)
		}
		w, err := m.Instantiate("stub", FastCall)
		if err != nil {
			t.Fatal(err)
		}
		wz, err := NewWazeroVectorOpsFromBytes("stub.wasm", full("", abi), "stub")
		if err != nil {
			t.Fatal(err)
		}
		if w.Capacity() != 16 || w.ABI() != abi || wz.ABI() != abi {
			t.Errorf("capacity %d, ABI %d/%d; want 16, %d", w.Capacity(), w.ABI(), wz.ABI(), abi)
		}
		for _, o := range []VectorOps{w, wz} {
			_, err := o.Dot([]float64{1}, []float64{1})
			if abi == 1 && (!errors.Is(err, ErrFamilyUnsupported) || !strings.Contains(err.Error(), "ABI v1")) {
				t.Errorf("v1 strict dot: got %v, want ErrFamilyUnsupported naming ABI v1", err)
			}
			if abi == 2 && err != nil {
				t.Errorf("v2 strict dot: %v", err)
			}
			if _, err := o.DotFast([]float64{1}, []float64{1}); err != nil {
				t.Errorf("ABI %d DotFast: %v", abi, err)
			}
			_, err = o.(residentOps).CallResident("dot_simd", 1, 0)
			if abi == 1 && !errors.Is(err, ErrNoExport) {
				t.Errorf("v1 resident dot_simd: got %v, want ErrNoExport", err)
			}
			if abi == 2 && err != nil {
				t.Errorf("v2 resident dot_simd: %v", err)
			}
		}
		_ = wz.Close()
	}
}

// TestStrictChunksCarry checks the carried running total directly: pieces, their
// lengths and the totals handed on.
func TestStrictChunksCarry(t *testing.T) {
	for _, c := range []struct{ n, capacity int }{{0, 4}, {3, 4}, {4, 4}, {5, 4}, {7, 4}, {8, 4}, {11, 4}, {10, 2}} {
		x := randVec(c.n, uint64(c.n)+9)
		var pieces [][2]int
		got, err := vecabi.StrictChunks(c.n, c.capacity, func(lo, hi int, carry bool, total float64) (float64, error) {
			pieces = append(pieces, [2]int{lo, hi})
			if (lo > 0) != carry || (lo == 0 && total != 0) {
				t.Errorf("n=%d: piece [%d,%d) carry %v total %v", c.n, lo, hi, carry, total)
			}
			k := 0
			if carry {
				k = 1
			}
			if hi-lo+k > c.capacity {
				t.Errorf("n=%d: piece [%d,%d) + carry over capacity %d", c.n, lo, hi, c.capacity)
			}
			buf := append([]float64{}, x[lo:hi]...)
			if carry {
				buf = append([]float64{total}, buf...)
			}
			return SumGo(buf), nil
		})
		if err != nil || !sameFloat(got, SumGo(x)) {
			t.Errorf("n=%d capacity %d: got %v, %v; want the bits of %v", c.n, c.capacity, got, err, SumGo(x))
		}
		if c.n > 0 && pieces[len(pieces)-1][1] != c.n {
			t.Errorf("n=%d: pieces %v do not end at n", c.n, pieces)
		}
	}
	if _, err := vecabi.StrictChunks(3, 1, nil); !errors.Is(err, ErrOverCapacity) {
		t.Errorf("capacity 1: got %v, want ErrOverCapacity", err)
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
	if err := (RustParOps{}).Scale(x[1:], x[:3], 2); !errors.As(err, &ce) || ce.Code != -3 || ce.Func != "offload_scale_par" {
		t.Errorf("rust-cgo-par partial overlap: got %v, want status -3 from offload_scale_par", err)
	}
	if _, err := (RustParOps{}).DotFast(x, x[:3]); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("rust-cgo-par dot of lengths 4 and 3: got %v, want ErrLengthMismatch", err)
	}
	if RustParThreads() < 1 {
		t.Errorf("RustParThreads() = %d", RustParThreads())
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
					for _, c := range allOps {
						if err := do(func(o VectorOps) error {
							if unsupported(pathByName(o.Name()), o, c.op, c.fam) != "" {
								return nil
							}
							return checkOp(o, c.op, c.fam, a, b)
						}); err != nil {
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
	for _, s := range []pathSpec{pathByName("wasm-rust"), pathByName("wasmtime-go"), pathByName("wazero-rust"), pathByName("go-par"), pathByName("rust-cgo-par")} {
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
