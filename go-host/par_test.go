package offload

import (
	"errors"
	"math"
	"testing"
)

// go-par: chunking at the edges of ParMinChunk, tails of the unrolled loops, NaN and
// ±Inf in any chunk, worker counts that do not divide n. Run them under -race too
// (`go test -race -run 'GoPar|ParSplit|Concurrent'`; TestConcurrent also shares one
// GoParOps and one RustParOps between 16 goroutines).

func TestParSplitCoversInput(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 4, 7, 16} {
		for _, n := range []int{0, 1, ParMinChunk, 2*ParMinChunk - 1, 2 * ParMinChunk, 2*ParMinChunk + 1, 3*ParMinChunk + 2, 5*ParMinChunk + 3, 64*ParMinChunk + 7} {
			chunk, k := parSplit(n, workers)
			if k < 1 || k > max(1, workers) || (k > 1 && (chunk%4 != 0 || chunk < ParMinChunk)) {
				t.Errorf("n=%d workers=%d: chunk %d, k %d", n, workers, chunk, k)
			}
			if k == 1 {
				if n >= 2*ParMinChunk && workers > 1 {
					t.Errorf("n=%d workers=%d: inline, want several chunks", n, workers)
				}
				continue
			}
			seen := make([]int, k)
			covered := 0
			parFor(n, chunk, k, func(i, lo, hi int) {
				seen[i] = hi - lo // each goroutine writes its own slot
			})
			for i, m := range seen {
				if m <= 0 {
					t.Errorf("n=%d workers=%d: chunk %d empty", n, workers, i)
				}
				covered += m
			}
			if covered != n {
				t.Errorf("n=%d workers=%d: chunks cover %d elements", n, workers, covered)
			}
		}
	}
}

func TestGoParMatchesGo(t *testing.T) {
	sizes := []int{0, 1, 3, 4, 5, ParMinChunk - 1, ParMinChunk, 2*ParMinChunk - 1, 2 * ParMinChunk, 2*ParMinChunk + 1, 2*ParMinChunk + 3, 7*ParMinChunk + 5}
	for _, workers := range []int{0, 1, 2, 3, 5} {
		p := GoParOps{Threads: workers}
		for _, n := range sizes {
			a, b := randVec(n, uint64(n)+11), randVec(n, uint64(n)+12)
			if err := checkPath(pathByName("go-par"), p, a, b); err != nil {
				t.Errorf("threads=%d n=%d: %v", workers, n, err)
			}
			// Mul and Scale: the same bits as go, also in place.
			want := make([]float64, n)
			_ = GoOps{}.Mul(want, a, b)
			c := append([]float64{}, a...)
			if err := p.Mul(c, c, b); err != nil || !sameSlice(c, want) {
				t.Errorf("threads=%d n=%d: in-place Mul differs from go (%v)", workers, n, err)
			}
			_ = GoOps{}.Scale(want, a, 0.25)
			c = append(c[:0], a...)
			if err := p.Scale(c, c, 0.25); err != nil || !sameSlice(c, want) {
				t.Errorf("threads=%d n=%d: in-place Scale differs from go (%v)", workers, n, err)
			}
		}
	}
}

func sameSlice(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameFloat(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestGoParNaNInfAnyChunk(t *testing.T) {
	n := 4*ParMinChunk + 3
	for _, workers := range []int{2, 4} {
		p := GoParOps{Threads: workers}
		chunk, k := parSplit(n, workers)
		if k < 2 {
			t.Fatalf("n=%d workers=%d: one chunk", n, workers)
		}
		// The first and last element of each chunk, and the very last element (a tail).
		for _, at := range []int{0, chunk - 1, chunk, (k-1)*chunk + 1, n - 1} {
			a, b := randVec(n, 5), randVec(n, 6)
			a[at] = math.NaN()
			if v, _ := p.SumFast(a); !math.IsNaN(v) {
				t.Errorf("workers=%d NaN at %d: SumFast = %v", workers, at, v)
			}
			if v, _ := p.DotFast(b, a); !math.IsNaN(v) {
				t.Errorf("workers=%d NaN at %d: DotFast = %v", workers, at, v)
			}
			a[at] = math.Inf(-1)
			if v, _ := p.SumFast(a); !math.IsInf(v, -1) {
				t.Errorf("workers=%d -Inf at %d: SumFast = %v", workers, at, v)
			}
			a[n-1-at] = math.Inf(1)
			if v, _ := p.SumFast(a); !math.IsNaN(v) && n-1-at != at {
				t.Errorf("workers=%d ±Inf: SumFast = %v, want NaN", workers, v)
			}
		}
	}
	p := GoParOps{}
	a := randVec(3*ParMinChunk, 1)
	if _, err := p.DotFast(a, a[1:]); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("DotFast lengths: %v", err)
	}
	if err := p.Mul(a[:5], a, a); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("Mul dst length: %v", err)
	}
	if _, err := p.Sum(a); !errors.Is(err, ErrFamilyUnsupported) {
		t.Errorf("go-par strict Sum: %v, want ErrFamilyUnsupported", err)
	}
	if _, err := (GoOps{}).SumFast(a); !errors.Is(err, ErrFamilyUnsupported) {
		t.Errorf("go fast Sum: %v, want ErrFamilyUnsupported", err)
	}
	if _, err := (GoOps{Unrolled: true}).Dot(a, a); !errors.Is(err, ErrFamilyUnsupported) {
		t.Errorf("go-unrolled strict Dot: %v, want ErrFamilyUnsupported", err)
	}
	if _, err := (RustParOps{}).Sum(a); !errors.Is(err, ErrFamilyUnsupported) {
		t.Errorf("rust-cgo-par strict Sum: %v, want ErrFamilyUnsupported", err)
	}
}

// TestGoParF32 checks the float32 instantiation the f32 benchmarks use.
func TestGoParF32(t *testing.T) {
	n := 3*ParMinChunk + 1
	x, y := randT[float32](n, 1), randT[float32](n, 2)
	for _, op := range []string{"Sum", "Dot"} {
		want, norm, _ := gpuOpRef(op, x, y)
		var got float32
		if op == "Sum" {
			got = parSum(x, 3)
		} else {
			got = parDot(x, y, 3)
		}
		if math.Abs(float64(got)-want) > 1e-5*norm {
			t.Errorf("%s f32: got %v, want %v", op, got, want)
		}
	}
	dst, want := make([]float32, n), make([]float32, n)
	parMul(dst, x, y, 3)
	mul4(want, x, y)
	for i := range dst {
		if dst[i] != want[i] {
			t.Fatalf("Mul f32 [%d]: %v, want %v", i, dst[i], want[i])
		}
	}
}

// TestStrictBitsWideRange: strict sum and dot of values spanning many magnitudes (where
// any other order changes the bits) on every strict path, across the guests' capacity.
func TestStrictBitsWideRange(t *testing.T) {
	n := 2*guestCapacity + 17
	a, b := randVec(n, 21), randVec(n, 22)
	for i := range a {
		a[i] *= math.Ldexp(1, int(i*7919)%61-30)
	}
	// The fast family really is another order here: else this test proves nothing.
	if sum4(a) == SumGo(a) && dot4(a, b) == DotGo(a, b) {
		t.Fatal("data does not separate summation orders")
	}
	for _, s := range allPaths {
		if !s.strict {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			o := sharedOps(t, s)
			for _, c := range []opCase{{"Sum", Strict}, {"Dot", Strict}} {
				if why := unsupported(s, o, c.op, c.fam); why != "" {
					t.Logf("%s: %s", c, why)
					continue
				}
				if err := checkOp(o, c.op, c.fam, a, b); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestCallResident: the resident calls of both engines on data already in the guest's
// buffers, the family-to-export mapping and its errors.
func TestCallResident(t *testing.T) {
	for _, name := range []string{"wasm-rust", "wasmtime-go", "wazero-c", "wazero-go"} {
		t.Run(name, func(t *testing.T) {
			s := pathByName(name)
			r := newOps(t, s).(residentOps)
			defer closeOps(r)
			n := 1001
			x, y := randVec(n, 31), randVec(n, 32)
			if err := r.CopyIn(x); err != nil {
				t.Fatal(err)
			}
			if err := r.CopyInB(y); err != nil {
				t.Fatal(err)
			}
			for _, c := range []opCase{{"Sum", Strict}, {"Sum", Fast}, {"Dot", Strict}, {"Dot", Fast}} {
				export, err := residentExport(name, r.ABI(), c.op, c.fam)
				if err != nil {
					t.Fatalf("%s: %v", c, err)
				}
				got, err := r.CallResident(export, n, 0)
				if err == nil {
					err = checkReduction(name, c.op, c.fam, got, x, y)
				}
				if err != nil {
					t.Errorf("%s (%s): %v", c, export, err)
				}
			}
			dst := make([]float64, n)
			if _, err := r.CallResident("scale", n, -2); err != nil {
				t.Fatal(err)
			}
			if err := r.ReadResult(dst); err != nil || dst[n-1] != -2*x[n-1] || dst[0] != -2*x[0] {
				t.Errorf("resident scale: %v, %v", dst[:2], err)
			}
			if _, err := r.CallResident("mul", n, 0); err != nil {
				t.Fatal(err)
			}
			if err := r.ReadResult(dst); err != nil || dst[7] != x[7]*y[7] {
				t.Errorf("resident mul: %v, %v", dst[7], err)
			}
			if _, err := r.CallResident("sum", r.Capacity()+1, 0); !errors.Is(err, ErrOverCapacity) {
				t.Errorf("n over capacity: %v, want ErrOverCapacity", err)
			}
			if _, err := r.CallResident("nope", 1, 0); !errors.Is(err, ErrNoExport) {
				t.Errorf("unknown export: %v, want ErrNoExport", err)
			}
			if err := r.CopyInB(make([]float64, r.Capacity()+1)); !errors.Is(err, ErrOverCapacity) {
				t.Errorf("CopyInB over capacity: %v", err)
			}
		})
	}
	if e, err := residentExport("x", 1, "Dot", Fast); err != nil || e != "dot" {
		t.Errorf("v1 fast dot: %q, %v; want dot", e, err)
	}
	if _, err := residentExport("x", 1, "Dot", Strict); !errors.Is(err, ErrFamilyUnsupported) {
		t.Errorf("v1 strict dot: %v, want ErrFamilyUnsupported", err)
	}
	if e, err := residentExport("x", 2, "Dot", Fast); err != nil || e != "dot_simd" {
		t.Errorf("v2 fast dot: %q, %v; want dot_simd", e, err)
	}
}
