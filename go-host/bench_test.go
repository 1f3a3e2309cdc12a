package offload

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Benchmarks (docs/benchmarks.md): the reductions
// BenchmarkSum|Dot/family=strict|fast/path=<path>/n=<n> and the element-wise ops
// BenchmarkMul|Scale/path=<path>/n=<n>, for every path of allPaths that has the family
// (strict: go, rust-cgo and the guests' sum/dot; fast: go-unrolled, go-par, rust-cgo's
// SIMD entry points, rust-cgo-par, the guests' sum_simd/dot_simd). The GPU paths
// (f64 and dtype=f32, all in family=fast) and their f32 CPU peers are in
// gpu_bench_test.go. Also Benchmark<Op>Resident (n ≤ the guests' capacity, data already
// in the guest's buffers, see benchResident), BenchmarkEmptyCall/path=<path>, BenchmarkCopyIn/n=<n> (host
// to guest memory) and BenchmarkGoCopy/n=<n> (Go's copy, the yardstick for CopyIn).
//
// Every benchmark checks its path's answer before timing: a strict reduction must have
// the bits of go's strict reference, a fast one be within 1e-12 of Σ|terms|, Mul and
// Scale be exact. A path that cannot run a family (an ABI v1 guest's strict dot)
// prints "SKIP <op>-<family>/<path>: <reason>". The all-cores paths print
// "threads <path>: <count>" once. Sizes: 1e3…1e6, and 1e7 on the CPU and wasm paths;
// OFFLOAD_BENCH_N=100000 (or -short) restricts them.

// bytesPerElem is the input bytes each op reads per element (b.SetBytes).
var bytesPerElem = map[string]int64{"Sum": 8, "Dot": 16, "Mul": 16, "Scale": 8}

var threadsOnce = map[string]*sync.Once{"go-par": {}, "rust-cgo-par": {}}

// printThreads prints "threads <path>: <count>" once per process for an all-cores path
// (a no-op for the others).
func printThreads(path string) {
	once, ok := threadsOnce[path]
	if !ok {
		return
	}
	once.Do(func() {
		n := GoParOps{}.Workers()
		if path == "rust-cgo-par" {
			n = RustParThreads()
		}
		fmt.Printf("threads %s: %d\n", path, n)
	})
}

// benchOp runs op on every CPU and wasm path: under family=strict and family=fast for
// the reductions (then the GPU paths under family=fast), directly for Mul and Scale.
func benchOp(b *testing.B, op string) {
	if op == "Sum" || op == "Dot" {
		for _, f := range families {
			b.Run("family="+f.String(), func(b *testing.B) {
				for _, s := range allPaths {
					if s.has(f) {
						benchPath(b, s, op, f)
					}
				}
				if f == Fast {
					// path=gpu-wgpu, gpu-wgpu-resident, gpu-cuda, gpu-cuda-resident.
					benchGPUVec(b, op)
				}
			})
		}
		return
	}
	for _, s := range allPaths {
		benchPath(b, s, op, Strict)
	}
	benchGPUVec(b, op)
}

// hasF32 reports whether path has a pure-Go f32 variant for op in family f (the f32
// peers of the GPU paths' dtype=f32): go in the strict family and for Mul and Scale,
// go-unrolled and go-par in the fast family, go-par for Mul and Scale.
func hasF32(path, op string, f Family) bool {
	if op == "Sum" || op == "Dot" {
		return slices.Contains(goF32Paths(f), path)
	}
	return path == "go" || path == "go-par"
}

// benchPath is <op>[/family=<f>]/path=<s>/n=<n> for every CPU size, then
// path=<s>/dtype=f32/n=<n> where the path has an f32 variant (see hasF32).
func benchPath(b *testing.B, s pathSpec, op string, f Family) {
	benchPathSizes(b, s, op, f, "", cpuBenchSizes(b), hasF32(s.name, op, f))
}

// benchPathSizes is benchPath over sizes ns, with f32 for the dtype=f32 sizes and
// group ("" or "-resident") in the SKIP id.
func benchPathSizes(b *testing.B, s pathSpec, op string, f Family, group string, ns []int, f32 bool) {
	b.Run("path="+s.name, func(b *testing.B) {
		o := sharedOps(b, s)
		if why := unsupported(s, o, op, f); why != "" {
			benchSkip(b, strings.ToLower(op)+"-"+f.String()+group+"/"+s.name, why)
		}
		printThreads(s.name)
		for _, n := range ns {
			b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
				// randT: generated once per process (the body runs once per b.N tried).
				x, y := randT[float64](n, 1), randT[float64](n, 2)
				dst := make([]float64, n)
				if err := checkOp(o, op, f, x, y); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(bytesPerElem[op] * int64(n))
				var sink float64
				var err error
				b.ResetTimer()
				switch op {
				case "Sum":
					sum := o.Sum
					if f == Fast {
						sum = o.SumFast
					}
					for i := 0; i < b.N; i++ {
						sink, err = sum(x)
					}
				case "Dot":
					dot := o.Dot
					if f == Fast {
						dot = o.DotFast
					}
					for i := 0; i < b.N; i++ {
						sink, err = dot(x, y)
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
		if f32 {
			b.Run("dtype=f32", func(b *testing.B) { benchGoF32(b, op, s.name) })
		}
	})
}

var benchSink float64

func BenchmarkSum(b *testing.B)   { benchOp(b, "Sum") }
func BenchmarkDot(b *testing.B)   { benchOp(b, "Dot") }
func BenchmarkMul(b *testing.B)   { benchOp(b, "Mul") }
func BenchmarkScale(b *testing.B) { benchOp(b, "Scale") }

// Resident benchmarks, BenchmarkSumResident|DotResident/family=<f>/path=<path>/n=<n>
// and BenchmarkMulResident|ScaleResident/path=<path>/n=<n> for n ≤ the guests'
// capacity: the guest paths call the export on data already in the guest's buffers (no
// copy in or out, as the Rust host's `<op>-resident` benches); the go and rust-cgo
// paths, whose data is always in place, run their usual call as the yardstick.

func BenchmarkSumResident(b *testing.B)   { benchResident(b, "Sum") }
func BenchmarkDotResident(b *testing.B)   { benchResident(b, "Dot") }
func BenchmarkMulResident(b *testing.B)   { benchResident(b, "Mul") }
func BenchmarkScaleResident(b *testing.B) { benchResident(b, "Scale") }

// residentOps is a guest instance whose buffers can be filled and called directly.
type residentOps interface {
	VectorOps
	ABI() int
	Capacity() int
	CopyIn(x []float64) error
	CopyInB(x []float64) error
	ReadResult(dst []float64) error
	CallResident(export string, n int, scalar float64) (float64, error)
}

func benchResident(b *testing.B, op string) {
	each := func(b *testing.B, f Family) {
		for _, s := range allPaths {
			if (op == "Sum" || op == "Dot") && !s.has(f) {
				continue
			}
			if s.guest == "" {
				benchPathSizes(b, s, op, f, "-resident", copySizes(b), false)
			} else {
				benchResidentGuest(b, s, op, f)
			}
		}
	}
	if op == "Mul" || op == "Scale" {
		each(b, Strict)
		return
	}
	for _, f := range families {
		b.Run("family="+f.String(), func(b *testing.B) { each(b, f) })
	}
}

func benchResidentGuest(b *testing.B, s pathSpec, op string, f Family) {
	b.Run("path="+s.name, func(b *testing.B) {
		r := sharedOps(b, s).(residentOps)
		export := strings.ToLower(op)
		if op == "Sum" || op == "Dot" {
			var err error
			if export, err = residentExport(s.name, r.ABI(), op, f); err != nil {
				benchSkip(b, strings.ToLower(op)+"-"+f.String()+"-resident/"+s.name, err.Error())
			}
		}
		for _, n := range copySizes(b) {
			if n > r.Capacity() {
				continue
			}
			b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
				x, y := randT[float64](n, 1), randT[float64](n, 2)
				if err := r.CopyIn(x); err != nil {
					b.Fatal(err)
				}
				if err := r.CopyInB(y); err != nil {
					b.Fatal(err)
				}
				got, err := r.CallResident(export, n, benchScale)
				if err != nil {
					b.Fatal(err)
				}
				switch op {
				case "Sum", "Dot":
					err = checkReduction(s.name, op, f, got, x, y)
				default:
					dst := make([]float64, n)
					if err = r.ReadResult(dst); err == nil {
						for i := range dst {
							want := x[i] * y[i]
							if op == "Scale" {
								want = benchScale * x[i]
							}
							if !sameFloat(dst[i], want) {
								err = fmt.Errorf("%s resident %s n=%d: dst[%d] = %v, want %v", s.name, op, n, i, dst[i], want)
								break
							}
						}
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(bytesPerElem[op] * int64(n))
				b.ResetTimer()
				for i := 0; i < b.N && err == nil; i++ {
					got, err = r.CallResident(export, n, benchScale)
				}
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				benchSink = got
			})
		}
	})
}

//go:noinline
func goEmpty() int32 { return ABIVersion }

// emptyCaller is an instance that can make a call doing no work.
type emptyCaller interface {
	EmptyCall() (int32, error)
}

func BenchmarkEmptyCall(b *testing.B) {
	for _, s := range allPaths {
		switch s.name {
		case "go-unrolled", "go-par", "rust-cgo-par":
			continue // the same call as go, rust-cgo
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
				e, abi := o.(emptyCaller), int32(abiOf(o))
				call = func() bool {
					v, err := e.EmptyCall()
					return err == nil && v == abi
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
		if s.kind == "wasmtime-fast" {
			b.Run("path="+s.name+"-batch", func(b *testing.B) { benchEmptyBatch(b, s) })
		}
	}
}

// benchEmptyBatch times the empty call of path <guest>-batch: b.N calls of the guest's
// abi_version through EmptyCalls, 256 per cgo crossing (the batch API's per-call
// overhead; every result is checked).
func benchEmptyBatch(b *testing.B, s pathSpec) {
	w := newOps(b, s).(*WasmVectorOps)
	defer closeOps(w)
	if err := w.EmptyCalls(1000); err != nil {
		b.Fatalf("%s-batch: %v", s.name, err)
	}
	b.ResetTimer()
	if err := w.EmptyCalls(b.N); err != nil {
		b.Fatalf("%s-batch: %v", s.name, err)
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
				w = newOps(b, pathByName("wasm-rust")).(*WasmVectorOps)
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
