package offload

import (
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
	name  string
	guest string // "" for go, go-unrolled, rust-cgo
	kind  string // "go", "go-unrolled", "rust-cgo", "wasmtime-fast", "wasmtime-call", "wazero"
}

// allPaths lists every path of the benchmark matrix, in report order.
var allPaths = []pathSpec{
	{"go", "", "go"},
	{"go-unrolled", "", "go-unrolled"},
	{"rust-cgo", "", "rust-cgo"},
	{"wasm-rust", "wasm-rust", "wasmtime-fast"},
	{"wasm-c", "wasm-c", "wasmtime-fast"},
	{"wasm-go", "wasm-go", "wasmtime-fast"},
	{"wasmtime-go", "wasm-rust", "wasmtime-call"},
	{"wazero-rust", "wasm-rust", "wazero"},
	{"wazero-c", "wasm-c", "wazero"},
	{"wazero-go", "wasm-go", "wazero"},
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
	case "rust-cgo":
		return RustOps{}
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

// checkOp runs op on a path once and compares with the pure-Go reference.
func checkOp(o VectorOps, op string, a, b []float64) error {
	const rel = 1e-12
	switch op {
	case "Sum", "SumSIMD":
		f := o.Sum
		if op == "SumSIMD" {
			f = o.SumSIMD
		}
		got, err := f(a)
		if err != nil {
			return err
		}
		if want := SumGo(a); !closeTo(got, want, rel, absSum(a, nil)) {
			return fmt.Errorf("%s %s n=%d: got %v, want %v", o.Name(), op, len(a), got, want)
		}
	case "Dot":
		got, err := o.Dot(a, b)
		if err != nil {
			return err
		}
		if want := DotGo(a, b); !closeTo(got, want, rel, absSum(a, b)) {
			return fmt.Errorf("%s Dot n=%d: got %v, want %v", o.Name(), len(a), got, want)
		}
	case "Mul":
		dst := make([]float64, len(a))
		if err := o.Mul(dst, a, b); err != nil {
			return err
		}
		for i := range a {
			if want := a[i] * b[i]; dst[i] != want && !(math.IsNaN(want) && math.IsNaN(dst[i])) {
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
			if want := s * a[i]; dst[i] != want && !(math.IsNaN(want) && math.IsNaN(dst[i])) {
				return fmt.Errorf("%s Scale n=%d: dst[%d] = %v, want %v", o.Name(), len(a), i, dst[i], want)
			}
		}
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	return nil
}

var allOps = []string{"Sum", "Dot", "Mul", "Scale", "SumSIMD"}

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

// closeOps releases an instance made by newOps (shared ones stay open).
func closeOps(o VectorOps) {
	if c, ok := o.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}
