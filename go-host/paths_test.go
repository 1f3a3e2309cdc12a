package offload

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// guestDir holds the built guests; ./build.sh test builds them first.
var guestDir = filepath.Join("..", "build", "guests")

// pathSpec says how to build one benchmark path.
type pathSpec struct {
	name   string
	guest  string // "" for the go and rust-cgo paths
	kind   string // "go", "go-unrolled", "go-par", "rust-cgo", "rust-cgo-par", "wasmtime-fast", "wasmtime-call", "wazero"
	strict bool   // has the strict family (an ABI v1 guest still lacks strict dot)
	fast   bool   // has the fast family
}

// allPaths lists every path of the benchmark matrix, in report order.
var allPaths = []pathSpec{
	{"go", "", "go", true, false},
	{"go-unrolled", "", "go-unrolled", false, true},
	{"go-par", "", "go-par", false, true},
	{"rust-cgo", "", "rust-cgo", true, true},
	{"rust-cgo-par", "", "rust-cgo-par", false, true},
	{"wasm-rust", "wasm-rust", "wasmtime-fast", true, true},
	{"wasm-c", "wasm-c", "wasmtime-fast", true, true},
	{"wasm-go", "wasm-go", "wasmtime-fast", true, true},
	{"wasmtime-go", "wasm-rust", "wasmtime-call", true, true},
	{"wazero-rust", "wasm-rust", "wazero", true, true},
	{"wazero-c", "wasm-c", "wazero", true, true},
	{"wazero-go", "wasm-go", "wazero", true, true},
}

// pathByName is the allPaths entry called name.
func pathByName(name string) pathSpec {
	for _, s := range allPaths {
		if s.name == name {
			return s
		}
	}
	panic("no path " + name)
}

// families is the reduction families of the matrix, in report order.
var families = []Family{Strict, Fast}

// has reports whether path s has family f at all (by its definition, not by the
// guest it loaded: see unsupported).
func (s pathSpec) has(f Family) bool {
	if f == Strict {
		return s.strict
	}
	return s.fast
}

// abiOf is an instance's guest ABI version, 0 for a path without a guest.
func abiOf(o VectorOps) int {
	if g, ok := o.(interface{ ABI() int }); ok {
		return g.ABI()
	}
	return 0
}

// unsupported says why instance o of path s cannot run op ("Sum", "Dot", "Mul",
// "Scale") in family f, or "" when it can: the path lacks the family, or its guest is
// ABI v1, whose dot has no defined order (fast only).
func unsupported(s pathSpec, o VectorOps, op string, f Family) string {
	if op != "Sum" && op != "Dot" {
		return ""
	}
	if !s.has(f) {
		return fmt.Sprintf("%s has no %s family", s.name, f)
	}
	if op == "Dot" && f == Strict && abiOf(o) == 1 {
		return fmt.Sprintf("the guest of %s is ABI v1: its dot adds in an unspecified order (fast family only); rebuild it for ABI v2", s.name)
	}
	return ""
}

func guestPath(tb testing.TB, guest string) string {
	tb.Helper()
	p := filepath.Join(guestDir, guest+".wasm")
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("guest %s not built (%v): run ./build.sh test from the repository root first", guest, err)
	}
	return p
}

var (
	modMu   sync.Mutex
	modules = map[string]*WasmModule{}
	shared  = map[string]VectorOps{}
)

// wasmModule compiles each guest once per test binary.
func wasmModule(tb testing.TB, guest string) *WasmModule {
	tb.Helper()
	modMu.Lock()
	defer modMu.Unlock()
	if m, ok := modules[guest]; ok {
		return m
	}
	m, err := LoadWasmModule(guestPath(tb, guest))
	if err != nil {
		tb.Fatalf("%v", err)
	}
	modules[guest] = m
	return m
}

// newOps makes a fresh instance of a path.
func newOps(tb testing.TB, s pathSpec) VectorOps {
	tb.Helper()
	switch s.kind {
	case "go":
		return GoOps{}
	case "go-unrolled":
		return GoOps{Unrolled: true}
	case "go-par":
		return GoParOps{}
	case "rust-cgo":
		return RustOps{}
	case "rust-cgo-par":
		return RustParOps{}
	case "wasmtime-fast", "wasmtime-call":
		cp := FastCall
		if s.kind == "wasmtime-call" {
			cp = FuncCall
		}
		w, err := wasmModule(tb, s.guest).Instantiate(s.name, cp)
		if err != nil {
			tb.Fatalf("%s: %v", s.name, err)
		}
		return w
	case "wazero":
		w, err := NewWazeroVectorOps(guestPath(tb, s.guest), s.name)
		if err != nil {
			tb.Fatalf("%s: %v", s.name, err)
		}
		return w
	}
	tb.Fatalf("unknown path kind %q", s.kind)
	return nil
}

// sharedOps returns one long-lived instance per path (tests that trap use newOps).
func sharedOps(tb testing.TB, s pathSpec) VectorOps {
	tb.Helper()
	modMu.Lock()
	o, ok := shared[s.name]
	modMu.Unlock()
	if ok {
		return o
	}
	o = newOps(tb, s)
	modMu.Lock()
	shared[s.name] = o
	modMu.Unlock()
	return o
}

// randVec is a deterministic vector of n values in [-1, 1).
func randVec(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x0ff10ad))
	v := make([]float64, n)
	for i := range v {
		v[i] = 2*r.Float64() - 1
	}
	return v
}

// close reports whether got is within rel of want relative to max(|want|, scale).
func closeTo(got, want, rel, scale float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	if math.IsInf(want, 0) || math.IsInf(got, 0) {
		return want == got
	}
	return math.Abs(got-want) <= rel*math.Max(math.Max(math.Abs(want), scale), math.SmallestNonzeroFloat64)
}

func absSum(a, b []float64) float64 {
	s := 0.0
	for i, x := range a {
		if b != nil {
			x *= b[i]
		}
		s += math.Abs(x)
	}
	return s
}

// sameFloat reports whether got has the bits of want (any NaN matches any NaN).
func sameFloat(got, want float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	return math.Float64bits(got) == math.Float64bits(want)
}

// fastRel is the relative tolerance (of Σ|terms|) of a fast-family reduction.
const fastRel = 1e-12

// checkOp runs op ("Sum", "Dot", "Mul", "Scale") on a path once and compares it with a
// reference: a strict reduction must have the bits of the pure-Go strict one, a fast one
// be within fastRel of Σ|terms| of the compensated one (accurateReduction), Mul and Scale
// must be exact (fam is ignored for them).
func checkOp(o VectorOps, op string, fam Family, a, b []float64) error {
	switch op {
	case "Sum", "Dot":
		var got float64
		var err error
		if op == "Sum" {
			got, err = SumOf(o, fam, a)
		} else {
			got, err = DotOf(o, fam, a, b)
		}
		if err != nil {
			return err
		}
		return checkReduction(o.Name(), op, fam, got, a, b)
	case "Mul":
		dst := make([]float64, len(a))
		if err := o.Mul(dst, a, b); err != nil {
			return err
		}
		for i := range a {
			if want := a[i] * b[i]; !sameFloat(dst[i], want) {
				return fmt.Errorf("%s Mul n=%d: dst[%d] = %v, want %v", o.Name(), len(a), i, dst[i], want)
			}
		}
	case "Scale":
		const s = -1.75
		dst := make([]float64, len(a))
		if err := o.Scale(dst, a, s); err != nil {
			return err
		}
		for i := range a {
			if want := s * a[i]; !sameFloat(dst[i], want) {
				return fmt.Errorf("%s Scale n=%d: dst[%d] = %v, want %v", o.Name(), len(a), i, dst[i], want)
			}
		}
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	return nil
}

// checkReduction compares a reduction's result got (op "Sum" or "Dot" of a, b in
// family fam): a strict one must have the bits of go's strict reference, a fast one be
// within fastRel of Σ|terms| of accurateReduction (go's strict left-to-right sum is no
// reference for it: one huge term followed by many small ones loses them all in strict
// order, while an any-order sum with several accumulators keeps them; found by
// FuzzVectorAPI, seed 41132fa273ac8594).
func checkReduction(path, op string, fam Family, got float64, a, b []float64) error {
	want := SumGo(a)
	if op == "Dot" {
		want = DotGo(a, b)
	} else {
		b = nil
	}
	if fam == Strict && !sameFloat(got, want) {
		return fmt.Errorf("%s %s family=strict n=%d: got %v (%#x), want the bits of go's strict %v (%#x)", path, op, len(a), got, math.Float64bits(got), want, math.Float64bits(want))
	}
	if fam == Fast {
		ref := accurateReduction(a, b)
		if math.IsNaN(ref) || math.IsInf(ref, 0) {
			ref = want // a NaN or infinite term: both are NaN or infinite alike
		}
		if !closeTo(got, ref, fastRel, absSum(a, b)) {
			return fmt.Errorf("%s %s family=fast n=%d: got %v, want %v (compensated; go's strict %v) within %g of Σ|terms|", path, op, len(a), got, ref, want, fastRel)
		}
	}
	return nil
}

// accurateReduction is Σ a[i] (b nil) or Σ a[i]·b[i] summed with compensation
// (Neumaier's variant of Kahan summation; each product's rounding error, math.FMA(x, y,
// -x·y), added as a term, as in Ogita, Rump and Oishi's Dot2, SIAM J. Sci. Comput. 26(6),
// 2005): within about ε·|result| + n·ε²·Σ|terms| of the exact value, so a tolerance of
// fastRel·Σ|terms| around it holds only the path's own rounding.
func accurateReduction(a, b []float64) float64 {
	s, c := 0.0, 0.0
	add := func(x float64) {
		t := s + x
		if math.Abs(s) >= math.Abs(x) {
			c += (s - t) + x
		} else {
			c += (x - t) + s
		}
		s = t
	}
	for i, x := range a {
		if b == nil {
			add(x)
			continue
		}
		p := x * b[i]
		add(p)
		add(math.FMA(x, b[i], -p))
	}
	return s + c
}

// opCase is one op of the matrix with its family (ignored for Mul and Scale).
type opCase struct {
	op  string
	fam Family
}

func (c opCase) String() string {
	if c.op == "Sum" || c.op == "Dot" {
		return c.op + "/" + c.fam.String()
	}
	return c.op
}

var allOps = []opCase{{"Sum", Strict}, {"Sum", Fast}, {"Dot", Strict}, {"Dot", Fast}, {"Mul", Strict}, {"Scale", Strict}}

// checkPath runs every op case instance o of path s can run (see unsupported) on a, b;
// an op it cannot run must fail with ErrFamilyUnsupported.
func checkPath(s pathSpec, o VectorOps, a, b []float64) error {
	for _, c := range allOps {
		if why := unsupported(s, o, c.op, c.fam); why != "" {
			var err error
			if c.op == "Sum" {
				_, err = SumOf(o, c.fam, a)
			} else {
				_, err = DotOf(o, c.fam, a, b)
			}
			if !errors.Is(err, ErrFamilyUnsupported) {
				return fmt.Errorf("%s %s (%s): got %v, want ErrFamilyUnsupported", s.name, c, why, err)
			}
			continue
		}
		if err := checkOp(o, c.op, c.fam, a, b); err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
	}
	return nil
}

// benchSizes are the n of the benchmark matrix; OFFLOAD_BENCH_N (comma-separated)
// or -short restricts them for a quick run.
func benchSizes(tb testing.TB) []int {
	if env := os.Getenv("OFFLOAD_BENCH_N"); env != "" {
		var ns []int
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 {
				tb.Fatalf("OFFLOAD_BENCH_N=%q: %q is not a size", env, f)
			}
			ns = append(ns, n)
		}
		return ns
	}
	if testing.Short() {
		return []int{1000}
	}
	return []int{1000, 10000, 100000, 1000000}
}

// cpuBenchSizes are the n of the CPU and wasm paths: benchSizes, plus 1e7 in a full run
// (neither OFFLOAD_BENCH_N nor -short).
func cpuBenchSizes(tb testing.TB) []int {
	ns := benchSizes(tb)
	if os.Getenv("OFFLOAD_BENCH_N") == "" && !testing.Short() {
		ns = append(ns, 10000000)
	}
	return ns
}

// closeOps releases an instance made by newOps (shared ones stay open).
func closeOps(o VectorOps) {
	if c, ok := o.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}
