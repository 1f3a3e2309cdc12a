package offload

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// GPU tests: every kernel on every backend (cpu, wgpu, cuda) against pure Go, fresh
// random inputs each run (the seed is logged), outputs poisoned with NaN first; bad
// handles, offsets and sizes are errors and the device stays usable. A backend that
// cannot start is skipped with its reason.

var gpuBackends = []string{"cpu", "wgpu", "cuda"}

var (
	gpuMu     sync.Mutex
	gpuShared = map[string]*GPU{}
	gpuWhyNot = map[string]string{}
)

// openShared opens backend name once per process; for an unavailable backend it returns
// nil and the reason capi gives (the line ProbeGPUs reports). Any other error is kept
// as the reason too, prefixed "open failed".
func openShared(name string) (*GPU, string) {
	gpuMu.Lock()
	defer gpuMu.Unlock()
	if g, ok := gpuShared[name]; ok {
		return g, ""
	}
	if why, ok := gpuWhyNot[name]; ok {
		return nil, why
	}
	g, err := OpenGPU(name)
	var ge *GPUError
	switch {
	case err == nil:
		gpuShared[name] = g
		i := g.Info()
		fmt.Printf("gpu-%s: %s (%s), f64 %v, tf32 %v, software %v\n", name, i.Name, i.Driver,
			i.SupportsF64, i.SupportsTF32, i.IsSoftware)
		return g, ""
	case errors.As(err, &ge) && ge.Status == GPUBackendUnavailable:
		gpuWhyNot[name] = fmt.Sprintf("gpu-%s unavailable: %s", name, ge.Msg)
	default:
		gpuWhyNot[name] = fmt.Sprintf("gpu-%s: open failed: %v", name, err)
	}
	return nil, gpuWhyNot[name]
}

// sharedGPU is openShared for a test: an unavailable backend skips tb with the reason;
// a backend that fails to open otherwise fails tb.
func sharedGPU(tb testing.TB, name string) *GPU {
	tb.Helper()
	g, why := openShared(name)
	if g == nil {
		if strings.Contains(why, "open failed") {
			tb.Fatal(why)
		}
		tb.Skip(why)
	}
	return g
}

func newRand(t *testing.T) *rand.Rand {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x6b0))
}

func randF32(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(2*r.Float64() - 1)
	}
	return v
}

func randF64(r *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 2*r.Float64() - 1
	}
	return v
}

// relErrNorm is ‖got − want‖₂ / ‖want‖₂ (∞ if got has a NaN, e.g. an unwritten element).
func relErrNorm[T float32 | float64](got []T, want []float64) float64 {
	var d, w float64
	for i := range want {
		g := float64(got[i])
		if math.IsNaN(g) {
			return math.Inf(1)
		}
		d += (g - want[i]) * (g - want[i])
		w += want[i] * want[i]
	}
	if w == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / w)
}

// tolerances: f32 element-wise and reductions 1e-5 (relative to the norm, i.e. Σ|terms|
// for reductions), FP32 matmul 1e-4, TF32 5e-3; f64 1e-12.
func vecTol(dt GPUDType) float64 {
	if dt == F64 {
		return 1e-12
	}
	return 1e-5
}

// gpuSizes are the odd sizes of the kernel tests (small: wgpu runs on lavapipe in CI).
var gpuSizes = []int{1, 3, 1023, 1025, 4099}

// vecCase uploads inputs of one dtype and reads results back as float64.
type vecCase struct {
	g  *GPU
	dt GPUDType
}

func (c vecCase) upload(t *testing.T, x []float64) GPUBuffer {
	t.Helper()
	var id GPUBuffer
	var err error
	if c.dt == F64 {
		id, err = c.g.UploadFloat64s(x)
	} else {
		x32 := make([]float32, len(x))
		for i, v := range x {
			x32[i] = float32(v)
		}
		id, err = c.g.UploadFloat32s(x32)
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// poisoned creates a buffer of n+1 elements filled with NaN.
func (c vecCase) poisoned(t *testing.T, n int) GPUBuffer {
	t.Helper()
	nan := make([]float64, n+1)
	for i := range nan {
		nan[i] = math.NaN()
	}
	return c.upload(t, nan)
}

func (c vecCase) download(t *testing.T, id GPUBuffer, n int) []float64 {
	t.Helper()
	out := make([]float64, n)
	if c.dt == F64 {
		if err := c.g.ReadFloat64s(id, 0, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	o32 := make([]float32, n)
	if err := c.g.ReadFloat32s(id, 0, o32); err != nil {
		t.Fatal(err)
	}
	for i, v := range o32 {
		out[i] = float64(v)
	}
	return out
}

// rounded gives x as the device holds it (rounded to f32 for F32).
func (c vecCase) rounded(x []float64) []float64 {
	if c.dt == F64 {
		return x
	}
	r := make([]float64, len(x))
	for i, v := range x {
		r[i] = float64(float32(v))
	}
	return r
}

func TestGPUVectorKernels(t *testing.T) {
	for _, name := range gpuBackends {
		t.Run(name, func(t *testing.T) {
			g := sharedGPU(t, name)
			for _, dt := range []GPUDType{F32, F64} {
				t.Run(fmt.Sprintf("f%d", dt.Size()*8), func(t *testing.T) {
					if dt == F64 && !g.Info().SupportsF64 {
						// The call must say so rather than compute in f32.
						id, err := g.CreateBuffer(8)
						if err != nil {
							t.Fatal(err)
						}
						defer func() { _ = g.DestroyBuffer(id) }()
						if _, err := g.Reduce(ReduceSum, F64, id, 1); !errors.Is(err, GPUUnsupported) {
							t.Fatalf("f64 reduce on a device without f64: %v, want GPUUnsupported", err)
						}
						t.Skipf("%s has no f64 (SHADER_F64); f64 kernels report GPUUnsupported", g.Info().Name)
					}
					testVectorKernels(t, vecCase{g, dt})
				})
			}
		})
	}
}

func testVectorKernels(t *testing.T, c vecCase) {
	r := newRand(t)
	tol := vecTol(c.dt)
	for _, n := range gpuSizes {
		x, y := c.rounded(randF64(r, n)), c.rounded(randF64(r, n))
		a, b := c.upload(t, x), c.upload(t, y)
		var sum, abs, dot, absDot float64
		mn, mx := math.Inf(1), math.Inf(-1)
		for i := range x {
			sum += x[i]
			abs += math.Abs(x[i])
			dot += x[i] * y[i]
			absDot += math.Abs(x[i] * y[i])
			mn, mx = math.Min(mn, x[i]), math.Max(mx, x[i])
		}
		for _, rc := range []struct {
			op         GPUReduceOp
			want, norm float64
		}{{ReduceSum, sum, abs}, {ReduceMin, mn, 0}, {ReduceMax, mx, 0}} {
			got, err := c.g.Reduce(rc.op, c.dt, a, n)
			if err != nil || math.Abs(got-rc.want) > tol*rc.norm {
				t.Errorf("n=%d reduce %d = %v, %v; want %v", n, rc.op, got, err, rc.want)
			}
		}
		if got, err := c.g.DotBuffers(c.dt, a, b, n); err != nil || math.Abs(got-dot) > tol*absDot {
			t.Errorf("n=%d dot = %v, %v; want %v", n, got, err, dot)
		}
		const s = -1.75
		for _, ec := range []struct {
			op GPUElementwiseOp
			f  func(a, b float64) float64
		}{
			{EwMul, func(a, b float64) float64 { return a * b }},
			{EwAdd, func(a, b float64) float64 { return a + b }},
			{EwScale, func(a, _ float64) float64 { return s * a }},
			{EwRelu, func(a, _ float64) float64 { return math.Max(a, 0) }},
		} {
			out := c.poisoned(t, n)
			bid := b
			if ec.op == EwScale || ec.op == EwRelu {
				bid = 0
			}
			if err := c.g.Elementwise(ec.op, c.dt, a, bid, s, out, n); err != nil {
				t.Fatalf("n=%d elementwise %d: %v", n, ec.op, err)
			}
			got := c.download(t, out, n+1)
			want := make([]float64, n)
			for i := range want {
				want[i] = ec.f(x[i], y[i])
			}
			if e := relErrNorm(got[:n], want); e > tol {
				t.Errorf("n=%d elementwise %d: relative error %g > %g", n, ec.op, e, tol)
			}
			if !math.IsNaN(got[n]) {
				t.Errorf("n=%d elementwise %d wrote element %d past n", n, ec.op, n)
			}
			_ = c.g.DestroyBuffer(out)
		}
		for _, id := range []GPUBuffer{a, b} {
			if err := c.g.DestroyBuffer(id); err != nil {
				t.Error(err)
			}
		}
	}
}

func matmulRef(a, b []float32, m, k, n int) []float64 {
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			aip := float64(a[i*k+p])
			for j := 0; j < n; j++ {
				c[i*n+j] += aip * float64(b[p*n+j])
			}
		}
	}
	return c
}

func TestGPUMatmul(t *testing.T) {
	for _, name := range gpuBackends {
		t.Run(name, func(t *testing.T) {
			g := sharedGPU(t, name)
			r := newRand(t)
			for _, p := range []MatmulPrecision{MatmulFP32, MatmulTF32} {
				tol := 1e-4
				if p == MatmulTF32 {
					tol = 5e-3
				}
				for _, sh := range [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 64, 64}, {65, 127, 66}} {
					m, k, n := sh[0], sh[1], sh[2]
					a, b := randF32(r, m*k), randF32(r, k*n)
					c := make([]float32, m*n)
					for i := range c {
						c[i] = float32(math.NaN())
					}
					err := g.Matmul(p, c, a, b, m, k, n)
					if p == MatmulTF32 && !g.Info().SupportsTF32 {
						if !errors.Is(err, GPUUnsupported) {
							t.Errorf("TF32 on %s: %v, want GPUUnsupported", name, err)
						}
						continue
					}
					if err != nil {
						t.Fatalf("matmul %v %d×%d·%d×%d: %v", p, m, k, k, n, err)
					}
					if e := relErrNorm(c, matmulRef(a, b, m, k, n)); e > tol {
						t.Errorf("matmul %v %d×%d·%d×%d: relative error %g > %g", p, m, k, k, n, e, tol)
					}
				}
			}
		})
	}
}

// gpuVectorOps makes a GPU's f64 convenience ops a VectorOps for checkOp: a GPU
// reduction (a tree) is in the fast family, and it has no strict one.
type gpuVectorOps struct{ *GPU }

func (o gpuVectorOps) Name() string                         { return o.Path() }
func (o gpuVectorOps) SumFast(x []float64) (float64, error) { return o.GPU.Sum(x) }
func (o gpuVectorOps) DotFast(a, b []float64) (float64, error) {
	return o.GPU.Dot(a, b)
}
func (o gpuVectorOps) Sum(x []float64) (float64, error) {
	return 0, familyErr(o.Path(), "sum", Strict, "a GPU reduction is a tree")
}
func (o gpuVectorOps) Dot(a, b []float64) (float64, error) {
	return 0, familyErr(o.Path(), "dot", Strict, "a GPU reduction is a tree")
}

// TestGPUConvenienceOps checks the upload+run+download ops against pure Go.
func TestGPUConvenienceOps(t *testing.T) {
	for _, name := range gpuBackends {
		t.Run(name, func(t *testing.T) {
			g := sharedGPU(t, name)
			r := newRand(t)
			for _, n := range []int{0, 1, 1000, 5000, 1000} { // shrinking reuses scratch
				x, y := randF32(r, n), randF32(r, n)
				x64, y64 := make([]float64, n), make([]float64, n)
				var sum, abs, dot, absDot float64
				for i := range x {
					x64[i], y64[i] = float64(x[i]), float64(y[i])
					sum += x64[i]
					abs += math.Abs(x64[i])
					dot += x64[i] * y64[i]
					absDot += math.Abs(x64[i] * y64[i])
				}
				if got, err := g.SumF32(x); err != nil || math.Abs(got-sum) > 1e-5*abs {
					t.Errorf("n=%d SumF32 = %v, %v; want %v", n, got, err, sum)
				}
				if got, err := g.DotF32(x, y); err != nil || math.Abs(got-dot) > 1e-5*absDot {
					t.Errorf("n=%d DotF32 = %v, %v; want %v", n, got, err, dot)
				}
				dst := make([]float32, n)
				if err := g.MulF32(dst, x, y); err != nil {
					t.Errorf("n=%d MulF32: %v", n, err)
				}
				for i := range dst {
					if dst[i] != x[i]*y[i] {
						t.Fatalf("n=%d MulF32[%d] = %v, want %v", n, i, dst[i], x[i]*y[i])
					}
				}
				if err := g.ScaleF32(dst, x, 0.5); err != nil {
					t.Errorf("n=%d ScaleF32: %v", n, err)
				}
				for i := range dst {
					if dst[i] != 0.5*x[i] {
						t.Fatalf("n=%d ScaleF32[%d] = %v, want %v", n, i, dst[i], 0.5*x[i])
					}
				}
				if !g.Info().SupportsF64 {
					if _, err := g.Sum(x64); n > 0 && !errors.Is(err, GPUUnsupported) {
						t.Errorf("f64 Sum without f64: %v, want GPUUnsupported", err)
					}
					continue
				}
				for _, op := range []string{"Sum", "Dot", "Mul", "Scale"} {
					if err := checkOp(gpuVectorOps{g}, op, Fast, x64, y64); err != nil {
						t.Errorf("n=%d %s: %v", n, op, err)
					}
				}
			}
			if _, err := g.DotF32(make([]float32, 3), make([]float32, 4)); !errors.Is(err, ErrLengthMismatch) {
				t.Errorf("DotF32 of lengths 3 and 4: %v, want ErrLengthMismatch", err)
			}
			if err := g.Matmul(MatmulFP32, make([]float32, 5), make([]float32, 6), make([]float32, 6), 2, 3, 2); !errors.Is(err, ErrLengthMismatch) {
				t.Errorf("Matmul with a wrong c: %v, want ErrLengthMismatch", err)
			}
		})
	}
}

// TestGPUBadInput: each bad call is an error with the right status, and the device keeps
// working afterwards.
func TestGPUBadInput(t *testing.T) {
	for _, name := range gpuBackends {
		t.Run(name, func(t *testing.T) {
			g := sharedGPU(t, name)
			a, err := g.UploadFloat32s([]float32{1, 2, 3, 4})
			if err != nil {
				t.Fatal(err)
			}
			dead, err := g.CreateBuffer(16)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.DestroyBuffer(dead); err != nil {
				t.Fatal(err)
			}
			buf4 := make([]byte, 4)
			limit := g.Info().MaxBufferBytes
			cases := []struct {
				what string
				err  error
				want GPUStatus
			}{
				{"null handle", g.Write(0, 0, buf4), GPUInvalidHandle},
				{"never created", g.Read(987654321, 0, buf4), GPUInvalidHandle},
				{"destroyed write", g.Write(dead, 0, buf4), GPUInvalidHandle},
				{"destroy twice", g.DestroyBuffer(dead), GPUInvalidHandle},
				{"offset past end", g.Write(a, 16, buf4), GPUOutOfBounds},
				{"offset+size past end", g.Read(a, 13, buf4), GPUOutOfBounds},
				{"huge offset", g.Read(a, math.MaxInt64, buf4), GPUOutOfBounds},
				{"negative offset", g.Read(a, -4, buf4), GPUInvalidArgument},
				{"copy past end", g.Copy(a, 8, a, 0, 16), GPUOutOfBounds},
				{"copy overlapping", g.Copy(a, 0, a, 4, 8), GPUInvalidArgument},
				{"zero-size write", g.Write(a, 0, nil), GPUZeroSize},
				{"zero-size copy", g.Copy(a, 0, a, 8, 0), GPUZeroSize},
				{"mul without b", g.Elementwise(EwMul, F32, a, 0, 0, a, 4), GPUInvalidArgument},
				{"unknown op", g.Elementwise(GPUElementwiseOp(77), F32, a, a, 0, a, 4), GPUInvalidArgument},
				{"matmul aliasing", g.MatmulBuffers(MatmulFP32, a, a, a, 1, 1, 1), GPUShapeMismatch},
				{"matmul too small", func() error {
					c, _ := g.CreateBuffer(16)
					defer func() { _ = g.DestroyBuffer(c) }()
					return g.MatmulBuffers(MatmulFP32, a, a, c, 3, 3, 3)
				}(), GPUShapeMismatch},
				{"matmul zero dim", func() error {
					c, _ := g.CreateBuffer(16)
					defer func() { _ = g.DestroyBuffer(c) }()
					return g.MatmulBuffers(MatmulFP32, a, a, c, 0, 1, 1)
				}(), GPUZeroSize},
			}
			if limit < math.MaxInt64 {
				_, e := g.CreateBuffer(int(limit) + 1)
				cases = append(cases, struct {
					what string
					err  error
					want GPUStatus
				}{"over the limit", e, GPUTooLarge})
			} else {
				t.Logf("max buffer size %d is not an int: the over-the-limit case is not tried", limit)
			}
			for _, want := range []struct {
				what string
				f    func() (float64, error)
				st   GPUStatus
			}{
				{"zero-size create", func() (float64, error) { _, e := g.CreateBuffer(0); return 0, e }, GPUZeroSize},
				{"reduce n=0", func() (float64, error) { return g.Reduce(ReduceSum, F32, a, 0) }, GPUZeroSize},
				{"reduce n past end", func() (float64, error) { return g.Reduce(ReduceSum, F32, a, 5) }, GPUShapeMismatch},
				{"reduce destroyed", func() (float64, error) { return g.Reduce(ReduceMax, F32, dead, 1) }, GPUInvalidHandle},
				{"dot invalid b", func() (float64, error) { return g.DotBuffers(F32, a, 424242, 4) }, GPUInvalidHandle},
				{"unknown dtype", func() (float64, error) { return g.Reduce(ReduceSum, GPUDType(9), a, 1) }, GPUInvalidArgument},
				{"negative n", func() (float64, error) { return g.Reduce(ReduceSum, F32, a, -1) }, GPUInvalidArgument},
			} {
				_, err := want.f()
				cases = append(cases, struct {
					what string
					err  error
					want GPUStatus
				}{want.what, err, want.st})
			}
			for _, c := range cases {
				var ge *GPUError
				if !errors.As(c.err, &ge) || ge.Status != c.want || ge.Msg == "" {
					t.Errorf("%s: got %v, want a *GPUError with status %v", c.what, c.err, c.want)
				}
			}
			// Still usable, and a's contents untouched by the failed calls.
			if got, err := g.Reduce(ReduceSum, F32, a, 4); err != nil || got != 10 {
				t.Errorf("after the errors: sum = %v, %v; want 10", got, err)
			}
			if err := g.DestroyBuffer(a); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestGPUCloseAndOpenErrors(t *testing.T) {
	g, err := OpenGPU("cpu")
	if err != nil {
		t.Fatal(err)
	}
	id, err := g.UploadFloat32s([]float32{1})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Reduce(ReduceSum, F32, id, 1); !errors.Is(err, GPUInvalidDevice) {
		t.Errorf("reduce after Close: %v, want GPUInvalidDevice", err)
	}
	if err := g.Close(); !errors.Is(err, GPUInvalidDevice) {
		t.Errorf("second Close: %v, want GPUInvalidDevice", err)
	}
	var nilGPU *GPU
	if _, err := nilGPU.SumF32([]float32{1}); !errors.Is(err, GPUInvalidDevice) {
		t.Errorf("nil GPU: %v, want GPUInvalidDevice", err)
	}
	if _, err := OpenGPU("tpu"); !errors.Is(err, GPUInvalidArgument) {
		t.Errorf("OpenGPU(tpu): %v, want GPUInvalidArgument", err)
	}
}

func TestGPUKernelTiming(t *testing.T) {
	for _, name := range gpuBackends {
		t.Run(name, func(t *testing.T) {
			g := sharedGPU(t, name)
			if !g.Info().KernelTiming {
				if err := g.SetKernelTiming(true); !errors.Is(err, GPUUnsupported) {
					t.Errorf("SetKernelTiming on a device without timing: %v, want GPUUnsupported", err)
				}
				t.Skipf("%s does not time kernels", g.Info().Name)
			}
			if err := g.SetKernelTiming(true); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = g.SetKernelTiming(false) }()
			if _, err := g.SumF32(make([]float32, 4096)); err != nil {
				t.Fatal(err)
			}
			ns, ok, err := g.LastKernelNs()
			if err != nil || !ok || ns == 0 {
				t.Errorf("LastKernelNs = %d, %v, %v; want a time", ns, ok, err)
			}
			if err := g.SetKernelTiming(false); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := g.LastKernelNs(); err != nil || ok {
				t.Errorf("timing off: ok = %v, %v; want false", ok, err)
			}
		})
	}
}

func TestGPUProbe(t *testing.T) {
	ps, err := ProbeGPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0].Backend != "cpu" || !ps[0].Available {
		t.Fatalf("probe: %+v; want cpu, wgpu, cuda with cpu available", ps)
	}
	for _, p := range ps {
		if p.Available {
			t.Logf("%s: %s (%s)", p.Backend, p.Info.Name, p.Info.Driver)
			if p.Info.Backend != p.Backend || p.Info.Name == "" {
				t.Errorf("%s: info %+v", p.Backend, p.Info)
			}
		} else {
			t.Logf("%s: unavailable: %s", p.Backend, p.Reason)
			if p.Reason == "" {
				t.Errorf("%s unavailable without a reason", p.Backend)
			}
		}
	}
}

// TestGPUConcurrent shares one device between goroutines: convenience ops (scratch under
// a mutex) and resident buffers of their own.
func TestGPUConcurrent(t *testing.T) {
	for _, name := range gpuBackends {
		t.Run(name, func(t *testing.T) {
			g := sharedGPU(t, name)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					x := make([]float32, 257+w)
					for i := range x {
						x[i] = float32(i % 7)
					}
					var want float64
					for _, v := range x {
						want += float64(v)
					}
					id, err := g.UploadFloat32s(x)
					if err != nil {
						errs <- err
						return
					}
					defer func() { _ = g.DestroyBuffer(id) }()
					for i := 0; i < 20; i++ {
						got, err := g.SumF32(x)
						if err == nil && got != want {
							err = fmt.Errorf("worker %d: SumF32 = %v, want %v", w, got, want)
						}
						if err != nil {
							errs <- err
							return
						}
						if got, err = g.Reduce(ReduceSum, F32, id, len(x)); err != nil || got != want {
							errs <- fmt.Errorf("worker %d: Reduce = %v, %v; want %v", w, got, err, want)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
