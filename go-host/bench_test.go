package offload

import (
	"strconv"
	"testing"
)

// Benchmarks: BenchmarkOp/path=<path>/n=<n> for every path of allPaths, plus
// BenchmarkEmptyCall/path=<path>, BenchmarkCopyIn/n=<n> (host to guest memory) and
// BenchmarkGoCopy/n=<n> (Go's copy between two Go slices, the yardstick for CopyIn).
// The GPU paths (f64 and dtype=f32) and BenchmarkSGEMM are in gpu_bench_test.go.
// Every benchmark checks its path's answer against the pure-Go reference before
// timing. OFFLOAD_BENCH_N=100000 (or -short) restricts the sizes.

// bytesPerElem is the input bytes each op reads per element (b.SetBytes).
var bytesPerElem = map[string]int64{"Sum": 8, "SumSIMD": 8, "Dot": 16, "Mul": 16, "Scale": 8}

func benchOp(b *testing.B, op string) {
	for _, s := range allPaths {
		b.Run("path="+s.name, func(b *testing.B) {
			o := sharedOps(b, s)
			for _, n := range benchSizes(b) {
				b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
					x, y := randVec(n, 1), randVec(n, 2)
					dst := make([]float64, n)
					if err := checkOp(o, op, x, y); err != nil {
						b.Fatal(err)
					}
					b.SetBytes(bytesPerElem[op] * int64(n))
					var sink float64
					var err error
					b.ResetTimer()
					switch op {
					case "Sum":
						for i := 0; i < b.N; i++ {
							sink, err = o.Sum(x)
						}
					case "SumSIMD":
						for i := 0; i < b.N; i++ {
							sink, err = o.SumSIMD(x)
						}
					case "Dot":
						for i := 0; i < b.N; i++ {
							sink, err = o.Dot(x, y)
						}
					case "Mul":
						for i := 0; i < b.N; i++ {
							err = o.Mul(dst, x, y)
						}
					case "Scale":
						for i := 0; i < b.N; i++ {
							err = o.Scale(dst, x, 1.5)
						}
					}
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					benchSink = sink
				})
			}
			if s.name == "go" && op != "SumSIMD" {
				// path=go/dtype=f32: the yardstick of the GPU paths' f32 runs.
				b.Run("dtype=f32", func(b *testing.B) { benchGoF32(b, op) })
			}
		})
	}
	if op != "SumSIMD" {
		// path=gpu-wgpu, gpu-wgpu-resident, gpu-cuda, gpu-cuda-resident (gpu_bench_test.go).
		benchGPUVec(b, op)
	}
}

var benchSink float64

func BenchmarkSum(b *testing.B)     { benchOp(b, "Sum") }
func BenchmarkDot(b *testing.B)     { benchOp(b, "Dot") }
func BenchmarkMul(b *testing.B)     { benchOp(b, "Mul") }
func BenchmarkScale(b *testing.B)   { benchOp(b, "Scale") }
func BenchmarkSumSIMD(b *testing.B) { benchOp(b, "SumSIMD") }

//go:noinline
func goEmpty() int32 { return ABIVersion }

// emptyCaller is an instance that can make a call doing no work.
type emptyCaller interface {
	EmptyCall() (int32, error)
}

func BenchmarkEmptyCall(b *testing.B) {
	for _, s := range allPaths {
		if s.name == "go-unrolled" {
			continue
		}
		b.Run("path="+s.name, func(b *testing.B) {
			var call func() bool
			switch s.kind {
			case "go":
				call = func() bool { return goEmpty() == ABIVersion }
			case "rust-cgo":
				call = rustEmptyCall
			default:
				o := newOps(b, s)
				defer closeOps(o)
				e := o.(emptyCaller)
				call = func() bool {
					v, err := e.EmptyCall()
					return err == nil && v == ABIVersion
				}
			}
			if !call() {
				b.Fatalf("%s: empty call failed", s.name)
			}
			ok := true
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ok = call() && ok
			}
			b.StopTimer()
			if !ok {
				b.Fatalf("%s: empty call failed during timing", s.name)
			}
		})
	}
}

// copySizes are the benchmark sizes that fit in a guest buffer.
func copySizes(b *testing.B) []int {
	var ns []int
	for _, n := range benchSizes(b) {
		if n <= guestCapacity {
			ns = append(ns, n)
		}
	}
	return ns
}

func BenchmarkCopyIn(b *testing.B) {
	// The guest is loaded by the first sub-benchmark that runs, so that a -bench filter
	// leaving them all out (e.g. '/path=gpu-' on a GPU machine without guests) loads none.
	var w *WasmVectorOps
	defer func() {
		if w != nil {
			closeOps(w)
		}
	}()
	for _, n := range copySizes(b) {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			if w == nil {
				w = newOps(b, allPaths[3]).(*WasmVectorOps)
			}
			x := randVec(n, 3)
			if err := w.CopyIn(x); err != nil {
				b.Fatal(err)
			}
			if got, err := w.SumBuffer(n); err != nil || got != SumGo(x) {
				b.Fatalf("after CopyIn the guest sums %v (%v), want %v", got, err, SumGo(x))
			}
			b.SetBytes(8 * int64(n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = w.CopyIn(x)
			}
		})
	}
}

func BenchmarkGoCopy(b *testing.B) {
	for _, n := range copySizes(b) {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			x, dst := randVec(n, 3), make([]float64, n)
			if copy(dst, x) != n || SumGo(dst) != SumGo(x) {
				b.Fatal("copy mismatch")
			}
			b.SetBytes(8 * int64(n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				copy(dst, x)
			}
		})
	}
}
