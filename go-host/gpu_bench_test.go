package offload

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// GPU benchmarks, in the naming scheme of docs/benchmarks.md
// (Benchmark<Op>/[family=<family>/]path=<path>[/dtype=<dtype>]/n=<n>, dtype f64 when
// absent):
//   - BenchmarkSum|Dot/family=fast/path=gpu-<backend>[-resident]/n=<n> (f64) and
//     .../dtype=f32/n=<n> (f32): a GPU reduction is a tree, so it is in the fast family,
//     next to the fastest Go CPU paths of that family (go-unrolled, go-par, rust-cgo,
//     rust-cgo-par in f64; path=go-unrolled/dtype=f32 and path=go-par/dtype=f32, pure Go
//     on float32, in f32; family=strict keeps path=go/dtype=f32).
//     BenchmarkMul|Scale/path=gpu-<backend>[-resident][/dtype=f32]/n=<n> likewise,
//     next to path=go and path=go-par (f64 and dtype=f32). "gpu-wgpu", "gpu-cuda" upload the inputs, run the kernel and download
//     the result each iteration (transfers included, on per-device scratch buffers);
//     "-resident" runs the kernel on inputs already on the device (reductions still
//     return their scalar; Mul/Scale wait for the kernel with Sync each iteration). f64 on
//     wgpu runs only where the adapter has SHADER_F64; otherwise each f64 size is skipped
//     saying so, and dtype=f32 still runs.
//   - BenchmarkSGEMM/path=<path>/n=<n>: square f32 matmul n×n·n×n, also reported in
//     GFLOP/s; path go (n ≤ 256), gpu-wgpu, gpu-cuda (transfers included),
//     gpu-wgpu-resident, gpu-cuda-resident, and gpu-cuda-tf32 (TF32 tensor cores, resident,
//     like criterion's sgemm/gpu-cuda-tf32). Sizes from OFFLOAD_BENCH_MATMUL_N (default
//     64,256,1024; -short 64).
//
// A backend that cannot start is skipped with its reason, a size over the device's buffer
// limit likewise. Every benchmark checks its answer against pure Go before timing (f32:
// error ≤ 1e-5 of Σ|terms| or relative in norm; f64 1e-12; SGEMM ≤ 1e-4, TF32 5e-3,
// relative in norm, on every row for n ≤ 256 and 8 sampled rows above).

type gpuBenchPath struct {
	name      string
	backend   string
	resident  bool
	precision MatmulPrecision
}

var gpuVecPaths = []gpuBenchPath{
	{"gpu-wgpu", "wgpu", false, MatmulFP32},
	{"gpu-wgpu-resident", "wgpu", true, MatmulFP32},
	{"gpu-cuda", "cuda", false, MatmulFP32},
	{"gpu-cuda-resident", "cuda", true, MatmulFP32},
}

var gpuMatmulPaths = append(append([]gpuBenchPath{}, gpuVecPaths...),
	gpuBenchPath{"gpu-cuda-tf32", "cuda", true, MatmulTF32},
)

// benchGPUVec runs op ("Sum", "Dot", "Mul", "Scale") on every GPU path, f64 then f32.
func benchGPUVec(b *testing.B, op string) {
	for _, p := range gpuVecPaths {
		b.Run("path="+p.name, func(b *testing.B) {
			g := benchGPU(b, p.name, p.backend)
			for _, n := range benchSizes(b) {
				b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
					if !g.Info().SupportsF64 {
						benchSkip(b, strings.ToLower(op)+"/"+p.name, fmt.Sprintf(
							"%s has no f64 (SHADER_F64): f64 not run; dtype=f32 has this path in f32", g.Info().Name))
					}
					benchGPUVecN[float64](b, g, p.resident, op, n)
				})
			}
			b.Run("dtype=f32", func(b *testing.B) {
				for _, n := range benchSizes(b) {
					b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
						benchGPUVecN[float32](b, g, p.resident, op, n)
					})
				}
			})
		})
	}
}

var (
	randTMu    sync.Mutex
	randTCache = map[string]any{}
)

// randT is n uniform values in [-1, 1) of type T from seed, generated once per process
// and shared (callers must not modify it): go test runs a benchmark's body several times,
// and generating 1e8 values each time would cost more than the benchmark.
func randT[T float32 | float64](n int, seed uint64) []T {
	key := fmt.Sprintf("%T/%d/%d", T(0), n, seed)
	randTMu.Lock()
	defer randTMu.Unlock()
	if v, ok := randTCache[key]; ok {
		return v.([]T)
	}
	r := rand.New(rand.NewPCG(seed, 0x0ff10ad))
	v := make([]T, n)
	for i := range v {
		v[i] = T(2*r.Float64() - 1)
	}
	randTCache[key] = v
	return v
}

// gpuOpRef is op's answer in float64 arithmetic on x, y: the scalar (Sum, Dot) with
// its Σ|terms|, or the vector (Mul, Scale).
func gpuOpRef[T float32 | float64](op string, x, y []T) (v, norm float64, vec []float64) {
	switch op {
	case "Sum":
		for _, a := range x {
			v += float64(a)
			norm += math.Abs(float64(a))
		}
	case "Dot":
		for i := range x {
			v += float64(x[i]) * float64(y[i])
			norm += math.Abs(float64(x[i]) * float64(y[i]))
		}
	case "Mul":
		vec = make([]float64, len(x))
		for i := range x {
			vec[i] = float64(x[i] * y[i])
		}
	case "Scale":
		vec = make([]float64, len(x))
		for i := range x {
			vec[i] = float64(T(benchScale) * x[i])
		}
	}
	return v, norm, vec
}

const benchScale = 1.5

var (
	benchSkipMu   sync.Mutex
	benchSkipSeen = map[string]bool{}
)

// benchSkip skips b with reason and, once per id, also prints "SKIP <id>: <reason>" on
// stdout: go test prints skip messages of benchmarks only with -v (and before the
// "--- SKIP" line), while scripts/bench.sh keeps this line in go-bench.txt for the report.
// id is "<path>", "<op>/<path>" or a benchmark name.
func benchSkip(b *testing.B, id, reason string) {
	b.Helper()
	benchSkipMu.Lock()
	if !benchSkipSeen[id] {
		benchSkipSeen[id] = true
		fmt.Printf("SKIP %s: %s\n", id, reason)
	}
	benchSkipMu.Unlock()
	b.Skip(reason)
}

// benchGPU opens a path's backend, or skips the path (saying why, see benchSkip).
func benchGPU(b *testing.B, path, backend string) *GPU {
	b.Helper()
	g, why := openShared(backend)
	if g == nil {
		if strings.Contains(why, "open failed") {
			b.Fatal(why)
		}
		benchSkip(b, path, why)
	}
	return g
}

// skipTooLargeOrFatal skips a size over the device's buffer limit (saying so) and fails
// on any other error.
func skipTooLargeOrFatal(b *testing.B, n int, err error) {
	b.Helper()
	if errors.Is(err, GPUTooLarge) {
		benchSkip(b, fmt.Sprintf("%s/%d", b.Name(), n), fmt.Sprintf("n=%d is over this device's limit: %v", n, err))
	}
	b.Fatal(err)
}

func benchGPUVecN[T float32 | float64](b *testing.B, g *GPU, resident bool, op string, n int) {
	dt := dtypeOf[T]()
	x, y, dst := randT[T](n, 1), randT[T](n, 2), make([]T, n)
	var scalar float64
	var err error
	// run does one iteration; check reads the answer back after it.
	var run func() error
	var check func() ([]T, error)
	if resident {
		ids := make([]GPUBuffer, 3)
		for i, v := range [][]T{x, y, dst} {
			if ids[i], err = upload(g, v); err != nil {
				skipTooLargeOrFatal(b, n, err)
			}
		}
		defer func() {
			for _, id := range ids {
				_ = g.DestroyBuffer(id)
			}
		}()
		run = map[string]func() error{
			"Sum": func() (e error) { scalar, e = g.Reduce(ReduceSum, dt, ids[0], n); return },
			"Dot": func() (e error) { scalar, e = g.DotBuffers(dt, ids[0], ids[1], n); return },
			"Mul": func() error {
				if e := g.Elementwise(EwMul, dt, ids[0], ids[1], 0, ids[2], n); e != nil {
					return e
				}
				return g.Sync()
			},
			"Scale": func() error {
				if e := g.Elementwise(EwScale, dt, ids[0], 0, benchScale, ids[2], n); e != nil {
					return e
				}
				return g.Sync()
			},
		}[op]
		check = func() ([]T, error) {
			p, nb := sliceRaw(dst)
			return dst, g.readRaw(ids[2], 0, p, nb)
		}
	} else {
		run = map[string]func() error{
			"Sum":   func() (e error) { scalar, e = gpuSum(g, x); return },
			"Dot":   func() (e error) { scalar, e = gpuDot(g, x, y); return },
			"Mul":   func() error { return gpuElementwise(g, EwMul, dst, x, y, 0) },
			"Scale": func() error { return gpuElementwise(g, EwScale, dst, x, x, benchScale) },
		}[op]
		check = func() ([]T, error) { return dst, nil }
	}
	if err := run(); err != nil {
		skipTooLargeOrFatal(b, n, err)
	}
	if err := checkGPUAnswer(op, dt, x, y, scalar, check); err != nil {
		b.Fatal(err)
	}
	elem := int64(unsafe.Sizeof(x[0]))
	b.SetBytes(bytesPerElem[op] / 8 * elem * int64(n))
	b.ResetTimer()
	for i := 0; i < b.N && err == nil; i++ {
		err = run()
	}
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	benchSink = scalar
}

func checkGPUAnswer[T float32 | float64](op string, dt GPUDType, x, y []T, scalar float64, read func() ([]T, error)) error {
	want, norm, vec := gpuOpRef(op, x, y)
	tol := vecTol(dt)
	if vec == nil {
		if math.Abs(scalar-want) > tol*norm {
			return fmt.Errorf("%s n=%d: got %v, want %v (tolerance %g·%g)", op, len(x), scalar, want, tol, norm)
		}
		return nil
	}
	got, err := read()
	if err != nil {
		return err
	}
	if e := relErrNorm(got, vec); e > tol {
		return fmt.Errorf("%s n=%d: relative error %g > %g", op, len(x), e, tol)
	}
	return nil
}

// goF32Paths are the pure-Go f32 peers of the GPU paths' dtype=f32 reductions in family
// f: go (left to right) for strict; go-unrolled and go-par for fast, the fastest Go CPU
// paths the GPU reductions (fast) are compared with.
func goF32Paths(f Family) []string {
	if f == Fast {
		return []string{"go-unrolled", "go-par"}
	}
	return []string{"go"}
}

// benchGoF32 is path=<path>/dtype=f32: op in pure Go on float32, on path "go" (left to
// right; Mul and Scale plain loops), "go-unrolled" (4 accumulators) or "go-par" (all
// cores, the kernels of GoParOps), over the GPU benches' sizes.
func benchGoF32(b *testing.B, op, path string) {
	printThreads(path)
	workers := GoParOps{}.Workers()
	for _, n := range benchSizes(b) {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			x, y, dst := randT[float32](n, 1), randT[float32](n, 2), make([]float32, n)
			var scalar float64
			var run func()
			switch path + "/" + op {
			case "go/Sum":
				run = func() {
					var s float32
					for _, v := range x {
						s += v
					}
					scalar = float64(s)
				}
			case "go/Dot":
				run = func() {
					var s float32
					for i := range x {
						s += float32(x[i] * y[i])
					}
					scalar = float64(s)
				}
			case "go/Mul":
				run = func() {
					for i := range x {
						dst[i] = x[i] * y[i]
					}
				}
			case "go/Scale":
				run = func() {
					for i := range x {
						dst[i] = benchScale * x[i]
					}
				}
			case "go-unrolled/Sum":
				run = func() { scalar = float64(sum4(x)) }
			case "go-unrolled/Dot":
				run = func() { scalar = float64(dot4(x, y)) }
			case "go-par/Sum":
				run = func() { scalar = float64(parSum(x, workers)) }
			case "go-par/Dot":
				run = func() { scalar = float64(parDot(x, y, workers)) }
			case "go-par/Mul":
				run = func() { parMul(dst, x, y, workers) }
			case "go-par/Scale":
				run = func() { parScale(dst, x, benchScale, workers) }
			default:
				b.Fatalf("no f32 %s on path %s", op, path)
			}
			run()
			if op == "Sum" || op == "Dot" {
				// An f32 sum in any order drifts by up to about n·2^-24 of Σ|terms|.
				if want, norm, _ := gpuOpRef(op, x, y); math.Abs(scalar-want) > float64(n)*0x1p-23*norm {
					b.Fatalf("%s %s n=%d: got %v, want %v", path, op, n, scalar, want)
				}
			} else if err := checkGPUAnswer(op, F32, x, y, scalar, func() ([]float32, error) { return dst, nil }); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(bytesPerElem[op] / 2 * int64(n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run()
			}
			b.StopTimer()
			benchSink = scalar
		})
	}
}

// matmulSizes are the square sizes of BenchmarkSGEMM.
func matmulSizes(b *testing.B) []int {
	if env := os.Getenv("OFFLOAD_BENCH_MATMUL_N"); env != "" {
		var ns []int
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("OFFLOAD_BENCH_MATMUL_N=%q: %q is not a size", env, f)
			}
			ns = append(ns, n)
		}
		return ns
	}
	if testing.Short() {
		return []int{64}
	}
	return []int{64, 256, 1024}
}

// checkMatmul compares c = a·b (n×n) with float64 arithmetic, on every row for n ≤ 256
// and on 8 sampled rows otherwise.
func checkMatmul(c, a, bm []float32, n int, tol float64) error {
	rows := make([]int, 0, n)
	if n <= 256 {
		for i := 0; i < n; i++ {
			rows = append(rows, i)
		}
	} else {
		for i := 0; i < 8; i++ {
			rows = append(rows, (i*n)/8+i%3)
		}
	}
	var d, w float64
	for _, i := range rows {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < n; p++ {
				s += float64(a[i*n+p]) * float64(bm[p*n+j])
			}
			g := float64(c[i*n+j])
			if math.IsNaN(g) {
				return fmt.Errorf("matmul n=%d: c[%d][%d] is NaN", n, i, j)
			}
			d += (g - s) * (g - s)
			w += s * s
		}
	}
	if e := math.Sqrt(d / w); e > tol {
		return fmt.Errorf("matmul n=%d: relative error %g > %g", n, e, tol)
	}
	return nil
}

func matmulGo(c, a, bm []float32, n int) {
	clear(c)
	for i := 0; i < n; i++ {
		for p := 0; p < n; p++ {
			aip := a[i*n+p]
			row := bm[p*n : (p+1)*n]
			ci := c[i*n : (i+1)*n]
			for j := range row {
				ci[j] += aip * row[j]
			}
		}
	}
}

func reportFlops(b *testing.B, n int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/s/1e9, "GFLOP/s")
	}
}

func BenchmarkSGEMM(b *testing.B) {
	b.Run("path=go", func(b *testing.B) {
		ran := false
		for _, n := range matmulSizes(b) {
			if n > 256 {
				continue
			}
			ran = true
			b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
				a, bm, c := randT[float32](n*n, 1), randT[float32](n*n, 2), make([]float32, n*n)
				matmulGo(c, a, bm, n)
				if err := checkMatmul(c, a, bm, n, 1e-4); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					matmulGo(c, a, bm, n)
				}
				b.StopTimer()
				reportFlops(b, n)
			})
		}
		if !ran {
			// Without this, go test would time the empty parent as if it were a benchmark.
			benchSkip(b, "sgemm/go", "pure-Go SGEMM runs only for n <= 256 (O(n^3) on one core)")
		}
	})
	for _, p := range gpuMatmulPaths {
		b.Run("path="+p.name, func(b *testing.B) {
			g := benchGPU(b, p.name, p.backend)
			if p.precision == MatmulTF32 && !g.Info().SupportsTF32 {
				benchSkip(b, "sgemm/"+p.name, g.Info().Name+" has no TF32")
			}
			tol := 1e-4
			if p.precision == MatmulTF32 {
				tol = 5e-3
			}
			for _, n := range matmulSizes(b) {
				b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
					benchGPUMatmul(b, g, p, n, tol)
				})
			}
		})
	}
}

func benchGPUMatmul(b *testing.B, g *GPU, p gpuBenchPath, n int, tol float64) {
	a, bm, c := randT[float32](n*n, 1), randT[float32](n*n, 2), make([]float32, n*n)
	var run func() error
	if p.resident {
		var ids [3]GPUBuffer
		var err error
		for i, v := range [][]float32{a, bm, c} {
			if ids[i], err = g.UploadFloat32s(v); err != nil {
				skipTooLargeOrFatal(b, n, err)
			}
		}
		defer func() {
			for _, id := range ids {
				_ = g.DestroyBuffer(id)
			}
		}()
		run = func() error {
			if err := g.MatmulBuffers(p.precision, ids[0], ids[1], ids[2], n, n, n); err != nil {
				return err
			}
			return g.Sync()
		}
		if err := run(); err != nil {
			b.Fatal(err)
		}
		if err := g.ReadFloat32s(ids[2], 0, c); err != nil {
			b.Fatal(err)
		}
	} else {
		run = func() error { return g.Matmul(p.precision, c, a, bm, n, n, n) }
		if err := run(); err != nil {
			skipTooLargeOrFatal(b, n, err)
		}
	}
	if err := checkMatmul(c, a, bm, n, tol); err != nil {
		b.Fatal(err)
	}
	var err error
	b.ResetTimer()
	for i := 0; i < b.N && err == nil; i++ {
		err = run()
	}
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	reportFlops(b, n)
}
