package offload

import (
	"math"
	"strconv"
	"testing"
)

// wasi:gpu benchmarks (the demo guest in wasmtime-go through this package's canonical-ABI
// imports), named as the direct GPU benchmarks of gpu_bench_test.go so results join:
//   - BenchmarkWasiGPUCall/path=wasm-rust: ns per wasi:gpu import call from the guest, on
//     the cpu backend: one `call-loop(b.N)` export call making b.N buffer-write imports of
//     4 bytes (the create/destroy around them amortised over b.N).
//   - BenchmarkWasiGPUSum/family=fast/path=wasi-gpu-<backend>/dtype=f32/n=<n>: the guest's
//     `sum(n)` (upload of its f32 vector, kernel-reduce, destroy), next to
//     BenchmarkSum/family=fast/path=gpu-<backend>/dtype=f32/n=<n> (direct, transfers
//     included).
//   - BenchmarkWasiGPUSGEMM/path=wasi-gpu-<backend>[-tf32]/n=<n>: the guest's `matmul(n)`
//     (uploads of A and B, kernel-matmul, read-back of C into linear memory, Σ C in the
//     guest), next to BenchmarkSGEMM/path=gpu-<backend>/n=<n> (direct, transfers included).
//     Sizes from OFFLOAD_BENCH_MATMUL_N as BenchmarkSGEMM.
//
// Every benchmark checks its answer against the host's reference before timing (sum
// ≤ 1e-5 of Σ|a|, Σ C ≤ 1e-4 of Σ|terms|, TF32 5e-3); a backend that cannot start is
// skipped with its reason.

var wasiBenchBackends = []string{"cpu", "wgpu", "cuda"}

func BenchmarkWasiGPUCall(b *testing.B) {
	b.Run("path=wasm-rust", func(b *testing.B) {
		g := benchGPU(b, "wasi-gpu-cpu", "cpu")
		h, err := NewWasiGPUHost(g, WasiGPUOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = h.Close() }()
		w := newWasiInstance(b, h)
		if err := w.CallLoop(100); err != nil {
			b.Fatal(err)
		}
		if n, _ := w.Buffers(); n != 0 {
			b.Fatalf("call-loop left %d buffers", n)
		}
		b.ResetTimer()
		err = w.CallLoop(uint32(b.N))
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
	})
}

// wasiBenchInstance opens backend's device (or skips), and makes a host and an instance.
func wasiBenchInstance(b *testing.B, path, backend string) *WasiGPUInstance {
	b.Helper()
	g := benchGPU(b, path, backend)
	h, err := NewWasiGPUHost(g, WasiGPUOptions{MaxBytes: 16 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	return newWasiInstance(b, h)
}

func BenchmarkWasiGPUSum(b *testing.B) {
	// A GPU reduction is a tree: family fast, like BenchmarkSum/family=fast/path=gpu-*.
	b.Run("family=fast", benchWasiGPUSum)
}

func benchWasiGPUSum(b *testing.B) {
	for _, backend := range wasiBenchBackends {
		path := "wasi-gpu-" + backend
		b.Run("path="+path, func(b *testing.B) {
			w := wasiBenchInstance(b, path, backend)
			b.Run("dtype=f32", func(b *testing.B) {
				for _, n := range benchSizes(b) {
					b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
						got, err := w.Sum(uint32(n))
						if err != nil {
							b.Fatal(err)
						}
						want, scale := wantSum(n)
						if math.Abs(got-want) > 1e-5*scale {
							b.Fatalf("sum(%d) = %v, want %v (±%v)", n, got, want, 1e-5*scale)
						}
						b.ResetTimer()
						for i := 0; i < b.N && err == nil; i++ {
							_, err = w.Sum(uint32(n))
						}
						b.StopTimer()
						if err != nil {
							b.Fatal(err)
						}
					})
				}
			})
		})
	}
}

func BenchmarkWasiGPUSGEMM(b *testing.B) {
	for _, backend := range wasiBenchBackends {
		for _, tf32 := range []bool{false, true} {
			path := "wasi-gpu-" + backend
			if tf32 {
				if backend != "cuda" {
					continue
				}
				path += "-tf32"
			}
			b.Run("path="+path, func(b *testing.B) {
				w := wasiBenchInstance(b, path, backend)
				if tf32 && !w.host.GPU().Info().SupportsTF32 {
					benchSkip(b, "sgemm/"+path, w.host.GPU().Info().Name+" has no TF32")
				}
				tol := 1e-4
				if tf32 {
					tol = 5e-3
				}
				for _, n := range matmulSizes(b) {
					if backend == "cpu" && n > 256 {
						continue // the cpu backend's reference SGEMM is O(n³) on one core
					}
					b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
						got, err := w.Matmul(uint32(n), tf32)
						if err != nil {
							b.Fatal(err)
						}
						want, scale := wantMatmulSum(n)
						if math.Abs(got-want) > tol*scale {
							b.Fatalf("matmul(%d) Σ C = %v, want %v (±%v)", n, got, want, tol*scale)
						}
						b.ResetTimer()
						for i := 0; i < b.N && err == nil; i++ {
							_, err = w.Matmul(uint32(n), tf32)
						}
						b.StopTimer()
						if err != nil {
							b.Fatal(err)
						}
						reportFlops(b, n)
					})
				}
			})
		}
	}
}
