package offload

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// FuzzVectorAPI drives the public API of the vector guests — WasmVectorOps (fast path
// and Func.Call), WazeroVectorOps, WasmPool, CallResidentBatch — with random operations, lengths (empty,
// nil, inside one chunk, across chunks), mismatched and short slices, raw bit patterns
// (NaN, ±Inf, subnormals), and absurd counts (SumBuffer, CallResident, SumUnchecked,
// pool sizes, deadlines). Oracle: no panic; every error is the documented one
// (ErrLengthMismatch, ErrOverCapacity, ErrNoExport, a *TrapError for SumUnchecked out of
// range, and nothing else); strict Sum and Dot have the bits of SumGo and DotGo at every
// length (the carry across chunks), the fast family is within 1e-12 of Σ|terms| when that
// is finite, Mul and Scale are exact. It runs on a guest of capacity 8 written in WAT
// (fuzzVectorWAT: many chunks at small lengths) and on the shipped Rust guest.
func FuzzVectorAPI(f *testing.F) {
	f.Add([]byte{0, 0, 5, 1, 2, 3, 4, 5})
	f.Add([]byte{2, 1, 20, 9, 9, 9, 9, 9, 9, 9, 9})
	f.Add([]byte{4, 2, 17, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0x7f})
	f.Add([]byte{6, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 7, 1, 3, 0x80})
	f.Add([]byte{9, 3, 0xff, 0xff, 0xff, 0xff, 10, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{3, 0, 3, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 11, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		fx := vectorFuzzFixture(t)
		r := &fuzzReader{b: data}
		for op := 0; op < 32 && r.more(); op++ {
			vectorStep(t, fx, r)
		}
	})
}

// fuzzCapacity is the WAT guest's capacity in elements.
const fuzzCapacity = 8

// fuzzVectorWAT is a vector guest of ABI v2 with capacity fuzzCapacity: buffers a, b and
// result at 0, 64 and 128; every reduction strictly left to right (no fused multiply-add
// in wasm), traps (unreachable) on a length out of [0, capacity].
const fuzzVectorWAT = `(module (memory (export "memory") 1)
  (func $check (param $n i32) (if (i32.gt_u (local.get $n) (i32.const 8)) (then unreachable)))
  (func $sum (param $n i32) (result f64) (local $i i32) (local $s f64)
    (call $check (local.get $n))
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $s (f64.add (local.get $s) (f64.load (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $s))
  (func $dot (param $n i32) (result f64) (local $i i32) (local $s f64) (local $o i32)
    (call $check (local.get $n))
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $o (i32.shl (local.get $i) (i32.const 3)))
      (local.set $s (f64.add (local.get $s) (f64.mul (f64.load (local.get $o)) (f64.load offset=64 (local.get $o)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $s))
  (func (export "abi_version") (result i32) i32.const 2)
  (func (export "get_capacity") (result i32) i32.const 8)
  (func (export "get_buffer_a_offset") (result i32) i32.const 0)
  (func (export "get_buffer_b_offset") (result i32) i32.const 64)
  (func (export "get_result_offset") (result i32) i32.const 128)
  (func (export "sum") (param i32) (result f64) (call $sum (local.get 0)))
  (func (export "sum_simd") (param i32) (result f64) (call $sum (local.get 0)))
  (func (export "dot") (param i32) (result f64) (call $dot (local.get 0)))
  (func (export "dot_simd") (param i32) (result f64) (call $dot (local.get 0)))
  (func (export "mul") (param $n i32) (local $i i32) (local $o i32)
    (call $check (local.get $n))
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $o (i32.shl (local.get $i) (i32.const 3)))
      (f64.store offset=128 (local.get $o) (f64.mul (f64.load (local.get $o)) (f64.load offset=64 (local.get $o))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))))
  (func (export "scale") (param $s f64) (param $n i32) (local $i i32) (local $o i32)
    (call $check (local.get $n))
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $o (i32.shl (local.get $i) (i32.const 3)))
      (f64.store offset=128 (local.get $o) (f64.mul (local.get $s) (f64.load (local.get $o))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))))`

// fuzzInstance is one vector instance of the fixture and how to remake it after a trap.
type fuzzInstance struct {
	o    residentOps
	make func() (residentOps, error)
}

// vectorFixture holds the fuzzed instances (made once per process) and the modules.
type vectorFixture struct {
	once      sync.Once
	err       error
	small     *WasmModule // the WAT guest
	smallWasm []byte      // its binary
	rust      *WasmModule // the shipped Rust guest, nil when not built
	insts     []*fuzzInstance
}

var vectorFuzz vectorFixture

func vectorFuzzFixture(t *testing.T) *vectorFixture {
	fx := &vectorFuzz
	fx.once.Do(func() { fx.err = fx.setup() })
	if fx.err != nil {
		t.Fatal(fx.err)
	}
	return fx
}

func (fx *vectorFixture) setup() error {
	wasm, err := wasmtime.Wat2Wasm(fuzzVectorWAT)
	if err != nil {
		return err
	}
	fx.smallWasm = wasm
	if fx.small, err = CompileWasmModule("fuzz-vector.wasm", wasm); err != nil {
		return err
	}
	add := func(mk func() (residentOps, error)) error {
		o, err := mk()
		if err != nil {
			return err
		}
		fx.insts = append(fx.insts, &fuzzInstance{o: o, make: mk})
		return nil
	}
	wasmtimeOn := func(m *WasmModule, name string, p CallPath) func() (residentOps, error) {
		return func() (residentOps, error) { return m.Instantiate(name, p) }
	}
	makers := []func() (residentOps, error){
		wasmtimeOn(fx.small, "fuzz-fast", FastCall),
		wasmtimeOn(fx.small, "fuzz-call", FuncCall),
		func() (residentOps, error) {
			return NewWazeroVectorOpsFromBytes("fuzz-vector.wasm", wasm, "fuzz-wazero")
		},
	}
	if p := guestDir + "/wasm-rust.wasm"; fileExists(p) {
		if fx.rust, err = LoadWasmModule(p); err != nil {
			return err
		}
		makers = append(makers, wasmtimeOn(fx.rust, "wasm-rust", FastCall))
	}
	for _, mk := range makers {
		if err := add(mk); err != nil {
			return err
		}
	}
	return nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// vecLen picks a length for an instance of capacity c: small, across a few chunks of a
// small guest, or at the capacity's edge.
func vecLen(r *fuzzReader, c int) int {
	b := int(r.byte())
	switch {
	case b < 200:
		return b % (3*fuzzCapacity + 3)
	case b < 250:
		return c - 2 + b%5
	}
	return 2*c + b%3
}

// vec makes a slice of n values: nil (n = 0, sometimes), small integers, values in
// [-1, 1) or raw bit patterns, as the input says.
func vec(r *fuzzReader, n int) []float64 {
	mode := r.byte()
	if n == 0 && mode%2 == 0 {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		switch mode % 4 {
		case 0:
			v[i] = float64(int8(r.byte()))
		case 1:
			v[i] = float64(int16(r.u16())) / 32768
		case 2:
			v[i] = math.Float64frombits(r.u64())
		default:
			if i < 8 {
				v[i] = math.Float64frombits(r.u64())
			} else {
				v[i] = float64(i%7) - 3
			}
		}
	}
	return v
}

// anyInt picks an absurd or ordinary int count.
func anyInt(r *fuzzReader, c int) int {
	switch b := r.byte(); b % 6 {
	case 0:
		return int(b/6) % (c + 2)
	case 1:
		return -int(b / 6)
	case 2:
		return c + int(b/6)%3
	case 3:
		return math.MaxInt32 + int(b/6)%3 - 1
	case 4:
		return math.MaxInt - int(b/6)
	}
	return int(int64(r.u64()))
}

// vectorStep decodes and checks one operation.
func vectorStep(t *testing.T, fx *vectorFixture, r *fuzzReader) {
	op := r.byte() % 13
	in := fx.insts[int(r.byte())%len(fx.insts)]
	o, c := in.o, in.o.Capacity()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s op %d: %s", o.Name(), op, fmt.Sprintf(format, args...))
	}
	wantLen := func(err error, la, lb int) {
		t.Helper()
		if la != lb && !errors.Is(err, ErrLengthMismatch) {
			fail("lengths %d, %d: got %v, want ErrLengthMismatch", la, lb, err)
		}
	}
	switch op {
	case 0, 1, 2, 3: // Sum, SumFast, Dot, DotFast
		n := vecLen(r, c)
		a := vec(r, n)
		b := a
		if op >= 2 {
			nb := n
			if r.byte()%8 == 0 {
				nb = vecLen(r, c)
			}
			b = vec(r, nb)
		}
		fam, name := Family(Strict), "Sum"
		if op%2 == 1 {
			fam = Fast
		}
		var got float64
		var err error
		if op < 2 {
			got, err = SumOf(o, fam, a)
			b = nil
		} else {
			name = "Dot"
			got, err = DotOf(o, fam, a, b)
			if len(b) != len(a) {
				wantLen(err, len(a), len(b))
				return
			}
		}
		if err != nil {
			fail("%s n=%d: %v", name, n, err)
		}
		if fam == Fast && math.IsInf(absSum(a, b), 0) {
			return // any order may overflow differently
		}
		if err := checkReduction(o.Name(), name, fam, got, a, b); err != nil {
			fail("%v", err)
		}
	case 4, 5: // Mul, Scale with short, long, nil or aliased dst
		n := vecLen(r, c)
		a, b := vec(r, n), vec(r, n)
		dst := make([]float64, n)
		switch r.byte() % 8 {
		case 0:
			dst = dst[:n/2]
		case 1:
			dst = nil
		case 2:
			dst = a // aliasing is allowed
		}
		ac, bc := append([]float64(nil), a...), append([]float64(nil), b...)
		s := math.Float64frombits(r.u64())
		var err error
		if op == 4 {
			err = o.Mul(dst, a, b)
		} else {
			err = o.Scale(dst, a, s)
		}
		if len(dst) != n {
			wantLen(err, n, len(dst))
			return
		}
		if err != nil {
			fail("n=%d: %v", n, err)
		}
		for i := range dst {
			want := s * ac[i]
			if op == 4 {
				want = ac[i] * bc[i]
			}
			if !sameFloat(dst[i], want) {
				fail("n=%d: dst[%d] = %v, want %v", n, i, dst[i], want)
			}
		}
	case 6: // CallResident with any export name and count
		exports := []string{"sum", "dot", "sum_simd", "dot_simd", "mul", "scale", "", "abi_version", "get_capacity", "memory", "sum\x00"}
		e, n := exports[int(r.byte())%len(exports)], anyInt(r, c)
		_, err := o.CallResident(e, n, 2)
		switch {
		case n < 0 || n > c:
			if !errors.Is(err, ErrOverCapacity) {
				fail("CallResident(%q, %d): %v, want ErrOverCapacity", e, n, err)
			}
		case e == "" || e == "abi_version" || e == "get_capacity" || e == "memory" || e == "sum\x00":
			if !errors.Is(err, ErrNoExport) {
				fail("CallResident(%q, %d): %v, want ErrNoExport", e, n, err)
			}
		case err != nil:
			fail("CallResident(%q, %d): %v", e, n, err)
		}
	case 7: // CopyIn, CopyInB, ReadResult of any length
		n := vecLen(r, c)
		x := vec(r, n)
		var err error
		switch r.byte() % 3 {
		case 0:
			err = o.CopyIn(x)
		case 1:
			err = o.CopyInB(x)
		default:
			err = o.ReadResult(x)
		}
		if (n > c) != errors.Is(err, ErrOverCapacity) || (n <= c && err != nil) {
			fail("copy of %d elements (capacity %d): %v", n, c, err)
		}
	case 8: // SumUnchecked with any i32: traps out of range, and the instance is remade
		n := int32(anyInt(r, c))
		_, err := o.(interface{ SumUnchecked(int32) (float64, error) }).SumUnchecked(n)
		var te *TrapError
		if n >= 0 && int(n) <= c {
			if err != nil {
				fail("SumUnchecked(%d): %v", n, err)
			}
			return
		}
		if !errors.As(err, &te) || errors.Is(err, ErrDeadline) {
			fail("SumUnchecked(%d): %v, want a trap", n, err)
		}
		if _, err := o.Sum([]float64{1}); err == nil {
			fail("a trapped instance accepted a call")
		}
		_ = closeVector(o)
		fresh, err := in.make()
		if err != nil {
			fail("remaking the instance: %v", err)
		}
		in.o = fresh
	case 9: // SumBuffer (wasmtime) with any count
		w, ok := o.(*WasmVectorOps)
		if !ok {
			return
		}
		n := anyInt(r, c)
		_, err := w.SumBuffer(n)
		if (n < 0 || n > c) != errors.Is(err, ErrOverCapacity) || (n >= 0 && n <= c && err != nil) {
			fail("SumBuffer(%d): %v", n, err)
		}
	case 10: // SetDeadline with any duration (then back to the default)
		d := time.Duration(int64(r.u64()))
		sd := o.(interface{ SetDeadline(time.Duration) error })
		if err := sd.SetDeadline(d); (d <= 0) != (err != nil) {
			fail("SetDeadline(%v): %v", d, err)
		}
		if err := sd.SetDeadline(DefaultGuestDeadline); err != nil {
			fail("SetDeadline(default): %v", err)
		}
	case 12: // CallResidentBatch: each call's result is CallResident's; a bad call refuses all
		b, ok := o.(interface {
			CallResidentBatch([]ResidentCall, []float64) error
		})
		if !ok {
			return
		}
		exports := []string{"sum", "dot", "sum_simd", "dot_simd", "mul", "scale", "abi_version", ""}
		calls := make([]ResidentCall, int(r.byte())%9)
		var want error
		for i := range calls {
			calls[i] = ResidentCall{Export: exports[int(r.byte())%len(exports)], N: vecLen(r, c), Scalar: float64(int8(r.byte()))}
			switch {
			case want != nil:
			case calls[i].N > c:
				want = ErrOverCapacity
			case calls[i].Export == "abi_version" || calls[i].Export == "":
				want = ErrNoExport
			}
		}
		got := make([]float64, len(calls))
		err := b.CallResidentBatch(calls, got)
		if want != nil {
			if !errors.Is(err, want) {
				fail("batch %+v: %v, want %v", calls, err, want)
			}
			return
		}
		if err != nil {
			fail("batch %+v: %v", calls, err)
		}
		for i, cl := range calls {
			v, err := o.CallResident(cl.Export, cl.N, cl.Scalar)
			if err != nil || math.Float64bits(v) != math.Float64bits(got[i]) {
				fail("batch call %d %+v = %v, alone %v (%v)", i, cl, got[i], v, err)
			}
		}
	case 11: // NewWasmPool of any size: absurd ones are errors; small ones work
		size := anyInt(r, c)
		if size > 4 && size <= MaxWasmPoolSize {
			return // valid but slow to make
		}
		p, err := NewWasmPool(fx.small, "fuzz-pool", CallPath(r.byte()%2), size)
		if (size <= 0 || size > MaxWasmPoolSize) != (err != nil) {
			fail("NewWasmPool(%d): %v", size, err)
		}
		if err == nil {
			err = p.Do(func(w *WasmVectorOps) error {
				v, err := w.Sum([]float64{1, 2})
				if err == nil && v != 3 {
					return fmt.Errorf("pool Sum = %v", v)
				}
				return err
			})
			if err != nil {
				fail("pool of %d: %v", size, err)
			}
			p.Close()
		}
	}
}

// closeVector closes a fuzzed instance.
func closeVector(o residentOps) error {
	if c, ok := o.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
