package offload

import (
	"strconv"
	"testing"
)

// Forest benchmarks of the forest-gpu guest through the Go host's wasi:gpu imports, run as
// sub-benchmarks of BenchmarkForestTrain / BenchmarkForestPredict (forest_bench_test.go)
// next to path=wasm-rust, named like the Rust host's criterion ids:
//
//   - BenchmarkForestTrain/path=wasi-gpu-<backend>/n=353: fit of 200 trees on the diabetes
//     training split (353 rows × 10 features): lowering the lists into linear memory, the
//     guest's training with bootstrap-sample and find-split on the device, lifting
//     fit-info;
//   - BenchmarkForestPredict/path=wasi-gpu-<backend>/n=89: predict of the 89 test rows
//     (batch-predict on the device, the trees uploaded on each call), lists in and out
//     included.
//
// Before timing, the forest's test predictions must equal predictTrees of its own trees
// (bit for bit with f64 on the device, else within 1e-5 relative) and the test MSE lie in
// 2700–3300. An unavailable backend is skipped with its reason (SKIP line); a guest that
// is not built skips the path, saying how to build it.

// forestGPUBenchSetup opens backend's device, loads the guest, trains the default forest
// and checks its answer.
func forestGPUBenchSetup(b *testing.B, path, backend string) (*ForestGPUGuest, *Dataset, *Dataset) {
	b.Helper()
	gpu := benchGPU(b, path, backend)
	h, err := NewWasiGPUHost(gpu, forestGPUOpts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	g := newForestGPU(b, h)
	train, test := diabetes(b)
	if _, err := g.Fit(train.X, train.Y, train.Cols, DefaultForestParams()); err != nil {
		b.Fatal(err)
	}
	pred, err := g.Predict(test.X)
	if err != nil {
		b.Fatal(err)
	}
	trees, err := g.Trees()
	if err != nil {
		b.Fatal(err)
	}
	want, err := predictTrees(trees, test.X, test.Cols)
	if err != nil {
		b.Fatal(err)
	}
	if gpu.Info().SupportsF64 {
		sameBits(b, path+" predict vs predictTrees", pred, want)
	} else {
		closeRel(b, path+" predict (f32) vs predictTrees", pred, want, 1e-5)
	}
	if mse := MSE(pred, test.Y); !(mse >= 2700 && mse <= 3300) {
		b.Fatalf("%s: diabetes test MSE %.1f, want 2700–3300; not timing it", path, mse)
	}
	return g, train, test
}

// benchForestGPUTrain adds path=wasi-gpu-<backend> to BenchmarkForestTrain.
func benchForestGPUTrain(b *testing.B) {
	for _, backend := range wasiBenchBackends {
		path := "wasi-gpu-" + backend
		b.Run("path="+path, func(b *testing.B) {
			g, train, _ := forestGPUBenchSetup(b, path, backend)
			p := DefaultForestParams()
			b.Run("n="+strconv.Itoa(train.Rows), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := g.Fit(train.X, train.Y, train.Cols, p); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// benchForestGPUPredict adds path=wasi-gpu-<backend> to BenchmarkForestPredict.
func benchForestGPUPredict(b *testing.B) {
	for _, backend := range wasiBenchBackends {
		path := "wasi-gpu-" + backend
		b.Run("path="+path, func(b *testing.B) {
			g, _, test := forestGPUBenchSetup(b, path, backend)
			b.Run("n="+strconv.Itoa(test.Rows), func(b *testing.B) {
				var out []float64
				var err error
				for i := 0; i < b.N; i++ {
					if out, err = g.Predict(test.X); err != nil {
						b.Fatal(err)
					}
				}
				if len(out) != test.Rows {
					b.Fatalf("%d predictions, want %d", len(out), test.Rows)
				}
			})
		})
	}
}
