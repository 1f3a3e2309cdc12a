package offload

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The C++ forest guest (cpp-guest/, scripts/build-cpp-guest.sh) implements the forest-gpu
// world of the Rust forest-gpu guest with a forest of its own (trained inside wasm, batch
// prediction through wasi:gpu's kernel-batch-predict), so the Go host runs its core module
// with the same ForestGPUGuest. Its forest differs from offload-core's: it is checked
// against its own trees (predictTrees) and the test MSE band, not against the plain guest.

// defaultForestCPPGuest is where scripts/build-cpp-guest.sh puts the C++ forest guest's core
// module, relative to the repository root.
const defaultForestCPPGuest = "build/guests/forest/forest-cpp.core.wasm"

// forestCPPFixture is the C++ guest's core module; OFFLOAD_FOREST_CPP_GUEST overrides it.
// A missing module skips the test, saying how to build it.
var forestCPPFixture = &guestFixture{env: "OFFLOAD_FOREST_CPP_GUEST", def: filepath.Join("..", defaultForestCPPGuest), skip: true,
	missing: "SKIP forest-cpp: guest not built (%v): run scripts/build-cpp-guest.sh from the repository root"}

var (
	// forestCPPGuestPath is the C++ guest's module path (skipping the test when it is missing).
	forestCPPGuestPath = forestCPPFixture.path
	// newForestCPP instantiates the C++ guest on h (compiled once per host), closed at the
	// end of the test.
	newForestCPP = forestCPPFixture.forestGPU
)

// checkCPPPredict predicts test through the device and compares with the guest's own trees
// walked here (f64 sums in tree order): within 1e-9 relative where the device has f64, else
// 1e-5 (batch-predict sums in f32). Returns the predictions.
func checkCPPPredict(t *testing.T, h *WasiGPUHost, g *ForestGPUGuest, test *Dataset, nTrees int) []float64 {
	t.Helper()
	trees, err := g.Trees()
	if err != nil {
		t.Fatal(err)
	}
	if len(trees) != nTrees {
		t.Fatalf("trees(): %d trees, want %d", len(trees), nTrees)
	}
	walked, err := predictTrees(trees, test.X, test.Cols) // also checks every tree
	if err != nil {
		t.Fatal(err)
	}
	pred, err := g.Predict(test.X)
	if err != nil {
		t.Fatal(err)
	}
	checkNoBuffers(t, g, "predict")
	tol := 1e-9
	if !h.GPU().Info().SupportsF64 {
		t.Logf("%s has no f64: batch-predict sums in f32, compared within 1e-5 relative", h.GPU().Info().Name)
		tol = 1e-5
	}
	closeRel(t, "batch-predict vs the guest's trees walked on the host", pred, walked, tol)
	return pred
}

// TestForestCPPDiabetes trains the default forest (200 trees, seed 42) in the C++ guest on
// the diabetes split on every available backend: fit-info agrees with trees(), the device's
// predictions equal the trees walked here, the test MSE is in 2700–3300, and no device
// buffer is left behind.
func TestForestCPPDiabetes(t *testing.T) {
	forestCPPGuestPath(t)
	train, test := diabetes(t)
	for _, backend := range wasiBackends {
		t.Run(backend, func(t *testing.T) {
			h := newWasiGPUHost(t, backend, forestGPUOpts)
			g := newForestCPP(t, h)
			info, fitTime := timedFit(t, g, train)
			if info.Trees != 200 || !strings.HasPrefix(info.Device, backend+": ") {
				t.Fatalf("fit-info %+v, want 200 trees on device %q…", info, backend+": ")
			}
			checkNoBuffers(t, g, "fit")
			_, nodes := fittedTrees(t, g)
			if nodes != info.Nodes {
				t.Fatalf("trees() holds %d nodes, fit-info says %d", nodes, info.Nodes)
			}
			t1 := time.Now()
			pred := checkCPPPredict(t, h, g, test, 200)
			predTime := time.Since(t1)
			mse := checkTestMSE(t, pred, test)
			t.Logf("wasm-cpp via wasi-gpu-%s (Go host, %s): fit %v, trees + predict %v, test MSE %.1f, %d nodes",
				backend, info.Device, fitTime.Round(time.Millisecond), predTime.Round(time.Microsecond), mse, info.Nodes)
		})
	}
}

// TestForestCPPSameAsRustHost: the C++ guest's predictions on the cpu device under the Go
// host equal, bit for bit, those the Rust host gets from the same guest
// (`offload forest --path wasm-cpp --predictions FILE`).
func TestForestCPPSameAsRustHost(t *testing.T) {
	forestCPPGuestPath(t)
	cli := cliForestOrSkip(t, "SKIP forest-cpp/rust-host: target/{release,debug}/offload is not built (cargo build -p offload-host); nothing to compare with")
	train, test := diabetes(t)
	pred := fitPredictDefault(t, newForestCPP(t, newWasiGPUHost(t, "cpu", forestGPUOpts)), train, test)
	file, out, err := runCLIForest(t, cli, "cpp.json", "--path", "wasm-cpp", "--backend", "cpu", "--trees", "200", "--seed", "42")
	if err != nil {
		if strings.Contains(string(out), "wasm-cpp") && strings.Contains(string(out), "invalid value") {
			t.Skipf("SKIP forest-cpp/rust-host: %s predates --path wasm-cpp (rebuild it)", cli)
		}
		t.Fatalf("%s forest --path wasm-cpp --predictions: %v\n%s", cli, err, out)
	}
	var rust struct {
		Path        string    `json:"path"`
		Predictions []float64 `json:"predictions"`
	}
	readJSONFile(t, file, &rust)
	if rust.Path != "wasm-cpp-wasi-gpu-cpu" {
		t.Fatalf("%s: path %q, want wasm-cpp-wasi-gpu-cpu", file, rust.Path)
	}
	sameBits(t, "C++ guest under the Go host vs under the Rust host (cpu)", pred, rust.Predictions)
}

// TestForestCPPBadInput: predict and trees before a fit, bad data and bad hyperparameters
// are errors carrying the guest's one-line message; none traps, no buffer is left behind,
// and the instance still trains and predicts afterwards.
func TestForestCPPBadInput(t *testing.T) {
	forestCPPGuestPath(t)
	train, test := diabetes(t)
	h := newWasiGPUHost(t, "cpu", forestGPUOpts)
	g := newForestCPP(t, h)
	notFitted := notFittedCheck(t, g, test, "no forest yet")

	good := DefaultForestParams()
	good.Trees = 3
	guestErr := func(what string, err error, msg string) {
		t.Helper()
		var ge *GuestError
		if !errors.As(err, &ge) || !strings.Contains(ge.Msg, msg) || strings.Contains(ge.Msg, "\n") {
			t.Errorf("%s: %v, want one line from the guest mentioning %q", what, err, msg)
		}
		checkNoBuffers(t, g, what)
	}
	for _, c := range []badDataCase{
		{"empty data", nil, nil, 10, "training data is empty"},
		{"zero features", train.X, train.Y, 0, "n-features must be at least 1"},
		{"a width not a multiple of n-features", train.X[:25], train.Y[:3], 10, "x has 25 values, not a multiple of n-features 10"},
		{"mismatched rows", train.X[:30], train.Y[:2], 10, "x has 30 values (3 rows of 10) but y has 2 rows"},
	} {
		_, err := g.Fit(c.x, c.y, c.d, good)
		guestErr(c.name, err, c.msg)
	}
	for _, c := range []struct {
		name string
		mod  func(*ForestParams)
		msg  string
	}{
		{"zero trees", func(p *ForestParams) { p.Trees = 0 }, "n-trees must be at least 1"},
		{"2^21 trees", func(p *ForestParams) { p.Trees = 1 << 21 }, "n-trees must be at most"},
		{"100000 trees of 353 rows", func(p *ForestParams) { p.Trees = 100000 }, "over the guest's limit"},
		{"max_features over d", func(p *ForestParams) { p.MaxFeatures = 11 }, "max-features must be in 1..=10, got 11"},
		{"min_samples_leaf 0", func(p *ForestParams) { p.MinSamplesLeaf = 0 }, "min-samples-leaf must be at least 1"},
		{"min_samples_split 1", func(p *ForestParams) { p.MinSamplesSplit = 1 }, "min-samples-split must be at least 2"},
	} {
		p := good
		c.mod(&p)
		_, err := g.Fit(train.X, train.Y, train.Cols, p)
		guestErr(c.name, err, c.msg)
	}
	_, err := g.Predict(test.X)
	notFitted("predict after failed fits", err)

	// The instance still works: a good fit, then bad and good predictions.
	info, err := g.Fit(train.X, train.Y, train.Cols, good)
	if err != nil || info.Trees != 3 {
		t.Fatalf("fit of 3 trees after the failures: %+v, %v", info, err)
	}
	_, err = g.Predict(test.X[:15])
	guestErr("predict of 15 values with 10 features", err, "not a multiple of the forest's 10 features")
	checkCPPPredict(t, h, g, test, 3)
	if pred, err := g.Predict(test.X[:20]); err != nil || len(pred) != 2 {
		t.Errorf("predict of 2 rows: %v, %v", pred, err)
	}
	// A failed fit drops the kept forest.
	checkFailedFitDrops(t, g, train, test, good, notFitted)
}
