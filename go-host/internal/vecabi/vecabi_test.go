// Tests of the vector-guest driver over a fake Runtime: a guest written in Go whose
// exports work on a byte slice as a wasm guest works on its linear memory.
package vecabi

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unsafe"
)

// fakeGuest is a vector guest of capacity elements in Go: buffers a, b and result at
// byte offsets 0, 8·capacity and 16·capacity of mem.
type fakeGuest struct {
	abi, capacity int
	mem           []byte
	bound         map[Export]string
	calls         int
	trapAt        int // the call number that traps (0: none)
}

func newFake(abi, capacity int) *fakeGuest {
	return &fakeGuest{abi: abi, capacity: capacity, mem: make([]byte, 24*capacity+64), bound: map[Export]string{}}
}

func (g *fakeGuest) f64s(off, n int) []float64 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(&g.mem[off])), n)
}

func (g *fakeGuest) Bind(e Export, name string) bool {
	if name == "dot_simd" && g.abi < 2 {
		return false
	}
	g.bound[e] = name
	return true
}

func (g *fakeGuest) CallI32(e Export) (int32, error) {
	switch e {
	case AbiVersion:
		return int32(g.abi), nil
	case GetCapacity:
		return int32(g.capacity), nil
	case GetBufferAOffset:
		return 0, nil
	case GetBufferBOffset:
		return int32(8 * g.capacity), nil
	case GetResultOffset:
		return int32(16 * g.capacity), nil
	}
	return 0, &ResultError{Export: g.bound[e], Got: "f64", Want: "i32"}
}

type fakeTrap struct{ export string }

func (t *fakeTrap) Error() string { return "trap in " + t.export }

func (g *fakeGuest) Call(e Export, scalar float64, hasScalar bool, n int32, hasResult bool) (float64, error) {
	g.calls++
	if g.calls == g.trapAt || n < 0 || int(n) > g.capacity {
		return 0, &fakeTrap{g.bound[e]}
	}
	k := int(n)
	a, b, r := g.f64s(0, k), g.f64s(8*g.capacity, k), g.f64s(16*g.capacity, k)
	s := 0.0
	switch e {
	case Sum, SumSIMD:
		for _, v := range a {
			s += v
		}
	case Dot, DotSIMD:
		for i := range a {
			s += a[i] * b[i]
		}
	case Mul:
		for i := range a {
			r[i] = a[i] * b[i]
		}
	case Scale:
		for i := range a {
			r[i] = scalar * a[i]
		}
	}
	return s, nil
}

func (g *fakeGuest) Memory() []byte { return g.mem }

func seq(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = 1 / float64(i+3) * math.Pow(10, float64(i%7-3))
	}
	return x
}

func leftToRight(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		if b == nil {
			s += a[i]
		} else {
			s += a[i] * b[i]
		}
	}
	return s
}

func TestDriverChunksAndCarry(t *testing.T) {
	for _, n := range []int{0, 1, 4, 5, 11, 37} {
		g := newFake(2, 4)
		d, err := New("fake.wasm", "fake", g)
		if err != nil {
			t.Fatal(err)
		}
		a, b := seq(n), seq(n + 1)[1:]
		if got, err := d.Sum(a); err != nil || math.Float64bits(got) != math.Float64bits(leftToRight(a, nil)) {
			t.Errorf("n=%d: Sum = %v, %v; want the bits of %v", n, got, err, leftToRight(a, nil))
		}
		if got, err := d.Dot(a, b); err != nil || math.Float64bits(got) != math.Float64bits(leftToRight(a, b)) {
			t.Errorf("n=%d: Dot = %v, %v; want the bits of %v", n, got, err, leftToRight(a, b))
		}
		if got, err := d.SumFast(a); err != nil || math.Abs(got-leftToRight(a, nil)) > 1e-9 {
			t.Errorf("n=%d: SumFast = %v, %v", n, got, err)
		}
		dst := make([]float64, n)
		if err := d.Mul(dst, a, b); err != nil {
			t.Fatal(err)
		}
		for i := range dst {
			if dst[i] != a[i]*b[i] {
				t.Fatalf("n=%d: Mul[%d] = %v", n, i, dst[i])
			}
		}
		if err := d.Scale(dst, a, 3); err != nil {
			t.Fatal(err)
		}
		for i := range dst {
			if dst[i] != 3*a[i] {
				t.Fatalf("n=%d: Scale[%d] = %v", n, i, dst[i])
			}
		}
	}
}

func TestDriverABIAndErrors(t *testing.T) {
	g := newFake(1, 4)
	d, err := New("v1.wasm", "v1", g)
	if err != nil {
		t.Fatal(err)
	}
	if g.bound[DotSIMD] != "dot" || d.ABI() != 1 || d.Capacity() != 4 {
		t.Errorf("v1: DotSIMD bound to %q, ABI %d, capacity %d", g.bound[DotSIMD], d.ABI(), d.Capacity())
	}
	if _, err := d.Dot([]float64{1}, []float64{1}); !errors.Is(err, ErrV1StrictDot) {
		t.Errorf("v1 strict dot: %v", err)
	}
	if _, err := d.DotFast([]float64{1}, []float64{2}); err != nil {
		t.Errorf("v1 fast dot: %v", err)
	}
	if _, err := d.CallResident("dot_simd", 1, 0); !errors.Is(err, ErrNoExport) {
		t.Errorf("v1 resident dot_simd: %v", err)
	}
	if _, err := d.CallResident("sum", 5, 0); !errors.Is(err, ErrOverCapacity) {
		t.Errorf("resident over capacity: %v", err)
	}
	if err := d.CopyIn(BufB, make([]float64, 5)); !errors.Is(err, ErrOverCapacity) {
		t.Errorf("CopyIn over capacity: %v", err)
	}
	if e, err := ReductionExport(1, "Dot", false); e != "dot" || err != nil {
		t.Errorf("v1 fast dot export: %q, %v", e, err)
	}
	if e, err := ReductionExport(2, "Dot", false); e != "dot_simd" || err != nil {
		t.Errorf("v2 fast dot export: %q, %v", e, err)
	}
	// A trap breaks the instance; Close makes it ErrClosed.
	if _, err := d.SumUnchecked(-1); err == nil {
		t.Fatal("SumUnchecked(-1) did not trap")
	}
	if !d.Trapped() {
		t.Error("not Trapped after a trap")
	}
	if _, err := d.Sum([]float64{1}); err == nil || !strings.Contains(err.Error(), "earlier trap") {
		t.Errorf("call after a trap: %v", err)
	}
	_ = d.Close(nil)
	if _, err := d.EmptyCall(); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if d.Trapped() {
		t.Error("Trapped after Close")
	}
	// Versions out of range, a buffer outside memory.
	for _, abi := range []int{0, 3} {
		if _, err := New("x.wasm", "x", newFake(abi, 4)); err == nil || !strings.Contains(err.Error(), "abi_version") {
			t.Errorf("abi %d: %v", abi, err)
		}
	}
	small := newFake(2, 4)
	small.mem = small.mem[:90]
	if _, err := New("small.wasm", "x", small); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("buffers outside memory: %v", err)
	}
}

func TestStrictChunksCapacityOne(t *testing.T) {
	if _, err := StrictChunks(3, 1, nil); !errors.Is(err, ErrOverCapacity) {
		t.Errorf("capacity 1: %v", err)
	}
	got, err := StrictChunks(1, 1, func(lo, hi int, carry bool, total float64) (float64, error) { return 7, nil })
	if err != nil || got != 7 {
		t.Errorf("n = capacity = 1: %v, %v", got, err)
	}
}
