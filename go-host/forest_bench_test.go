package offload

import (
	"strconv"
	"testing"
)

// Random-forest benchmarks of the Go host, named like the Rust host's criterion ids
// (forest-train/wasm-rust/353, forest-predict/wasm-rust/89) so the report joins them:
//
//   - BenchmarkForestTrain/path=wasm-rust/n=353: forest_fit of 200 trees on the
//     diabetes training split (353 rows × 10 features), copies into linear memory
//     included;
//   - BenchmarkForestPredict/path=wasm-rust/n=89: forest_predict of the 89 test rows
//     with that forest, copies in and out included;
//   - path=wasi-gpu-<backend> of both: the forest-gpu guest through wasi:gpu
//     (forestgpu_bench_test.go).
//
// Before timing, the forest's test MSE must lie in 2700–3300 (scikit-learn: about
// 2966 on this split). A forest guest that is not built fails the benchmark with a
// message saying how to build it.

const forestBenchPath = "wasm-rust"

// forestBenchSetup loads the guest, trains the default forest and checks its MSE.
func forestBenchSetup(b *testing.B) (*ForestGuest, *Dataset, *Dataset) {
	b.Helper()
	g := loadForest(b)
	train, test := diabetes(b)
	if err := g.Fit(train.X, train.Y, train.Cols, DefaultForestParams()); err != nil {
		b.Fatal(err)
	}
	pred, err := g.Predict(test.X)
	if err != nil {
		b.Fatal(err)
	}
	if mse := MSE(pred, test.Y); !(mse >= 2700 && mse <= 3300) {
		b.Fatalf("%s: diabetes test MSE %.1f, want 2700–3300; not timing it", forestBenchPath, mse)
	}
	return g, train, test
}

func BenchmarkForestTrain(b *testing.B) {
	b.Run("path="+forestBenchPath, func(b *testing.B) {
		g, train, _ := forestBenchSetup(b)
		defer g.Close()
		p := DefaultForestParams()
		b.Run("n="+strconv.Itoa(train.Rows), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := g.Fit(train.X, train.Y, train.Cols, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	benchForestGPUTrain(b) // forestgpu_bench_test.go: path=wasi-gpu-<backend>
}

func BenchmarkForestPredict(b *testing.B) {
	b.Run("path="+forestBenchPath, func(b *testing.B) {
		g, _, test := forestBenchSetup(b)
		defer g.Close()
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
	benchForestGPUPredict(b) // forestgpu_bench_test.go: path=wasi-gpu-<backend>
}
