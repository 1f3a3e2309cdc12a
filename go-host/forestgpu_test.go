package offload

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// forestGPUFixture is the forest-gpu guest's core module (scripts/build-forest-gpu-guest.sh);
// OFFLOAD_FOREST_GPU_GUEST overrides it. A missing module skips the test, saying how to
// build it (CI builds it: build.sh guests).
var forestGPUFixture = &guestFixture{env: "OFFLOAD_FOREST_GPU_GUEST", def: filepath.Join("..", DefaultForestGPUGuest), skip: true,
	missing: "SKIP forest-gpu: guest not built (%v): run scripts/build-forest-gpu-guest.sh from the repository root"}

var (
	// forestGPUGuestPath is the forest-gpu guest's module path (skipping the test when it
	// is missing).
	forestGPUGuestPath = forestGPUFixture.path
	// newForestGPU instantiates the forest-gpu guest on h (compiled once per host), closed
	// at the end of the test.
	newForestGPU = forestGPUFixture.forestGPU
)

// forestGPUOpts gives training room: 200 trees on a software adapter take seconds.
var forestGPUOpts = WasiGPUOptions{Deadline: 10 * time.Minute}

// plainForestRef is the plain forest guest's (offload-core for wasm32, no GPU; equal to
// native Forest::fit/predict bit for bit: TestForestSameAsRustHost) default forest on the
// diabetes split: test predictions and node count, computed once.
var plainForestRef = struct {
	once  sync.Once
	pred  []float64
	nodes int
	err   error
}{}

func plainForest(tb testing.TB) ([]float64, int) {
	tb.Helper()
	path := forestGuestPath(tb)
	plainForestRef.once.Do(func() {
		r := &plainForestRef
		g, err := LoadForestGuest(path)
		if err != nil {
			r.err = err
			return
		}
		defer g.Close()
		train, test, err := DiabetesSplit(diabetesDir)
		if err != nil {
			r.err = err
			return
		}
		if r.err = g.Fit(train.X, train.Y, train.Cols, DefaultForestParams()); r.err != nil {
			return
		}
		if r.pred, r.err = g.Predict(test.X); r.err != nil {
			return
		}
		r.nodes, r.err = g.NodeCount()
	})
	if plainForestRef.err != nil {
		tb.Fatalf("plain forest guest (the reference): %v", plainForestRef.err)
	}
	return plainForestRef.pred, plainForestRef.nodes
}

// sameBits fails tb at the first value that differs from want in any bit.
func sameBits(tb testing.TB, what string, got, want []float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			tb.Fatalf("%s: row %d is %v, want %v bit for bit", what, i, got[i], want[i])
		}
	}
}

// closeRel fails tb at the first value further than tol·|want| from want.
func closeRel(tb testing.TB, what string, got, want []float64, tol float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !(math.Abs(got[i]-want[i]) <= tol*math.Abs(want[i])) {
			tb.Fatalf("%s: row %d is %v, want %v within %g relative", what, i, got[i], want[i], tol)
		}
	}
}

func checkNoBuffers(tb testing.TB, g *ForestGPUGuest, after string) {
	tb.Helper()
	if n, bytes := g.Instance().Buffers(); n != 0 || bytes != 0 {
		tb.Errorf("after %s: the instance still holds %d buffers (%d bytes)", after, n, bytes)
	}
}

// timedFit fits the default forest in g on train, failing tb on an error, and returns
// the fit-info with the time the fit took.
func timedFit(tb testing.TB, g *ForestGPUGuest, train *Dataset) (ForestFitInfo, time.Duration) {
	tb.Helper()
	t0 := time.Now()
	info, err := g.Fit(train.X, train.Y, train.Cols, DefaultForestParams())
	if err != nil {
		tb.Fatal(err)
	}
	return info, time.Since(t0)
}

// fittedTrees is g's trees (failing tb on an error) and their total node count.
func fittedTrees(tb testing.TB, g *ForestGPUGuest) ([]ForestTree, int) {
	tb.Helper()
	trees, err := g.Trees()
	if err != nil {
		tb.Fatal(err)
	}
	nodes := 0
	for _, tr := range trees {
		nodes += len(tr.Feature)
	}
	return trees, nodes
}

// checkTestMSE fails tb unless the test MSE of pred is in scikit-learn's band, and
// returns it.
func checkTestMSE(tb testing.TB, pred []float64, test *Dataset) float64 {
	tb.Helper()
	mse := MSE(pred, test.Y)
	if !(mse >= 2700 && mse <= 3300) {
		tb.Fatalf("test MSE %.1f, want 2700–3300 (scikit-learn: about 2966)", mse)
	}
	return mse
}

// cliForestOrSkip is the Rust host's CLI (offloadCLI), skipping tb with skip when it is
// not built.
func cliForestOrSkip(tb testing.TB, skip string) string {
	tb.Helper()
	cli := offloadCLI()
	if cli == "" {
		tb.Skip(skip)
	}
	return cli
}

// fitPredictDefault fits the default forest in g on train and predicts test, failing tb
// on an error.
func fitPredictDefault(tb testing.TB, g *ForestGPUGuest, train, test *Dataset) []float64 {
	tb.Helper()
	if _, err := g.Fit(train.X, train.Y, train.Cols, DefaultForestParams()); err != nil {
		tb.Fatal(err)
	}
	pred, err := g.Predict(test.X)
	if err != nil {
		tb.Fatal(err)
	}
	return pred
}

// runCLIForest runs `cli forest ARGS --predictions FILE` from the repository root, FILE
// being name in a temporary folder, and returns FILE with the command's output and error.
func runCLIForest(tb testing.TB, cli, name string, args ...string) (file string, out []byte, err error) {
	tb.Helper()
	abs, err := filepath.Abs(cli)
	if err != nil {
		tb.Fatal(err)
	}
	file = filepath.Join(tb.TempDir(), name)
	cmd := exec.Command(abs, append(append([]string{"forest"}, args...), "--predictions", file)...)
	cmd.Dir = ".."
	out, err = cmd.CombinedOutput()
	return file, out, err
}

// readJSONFile decodes the JSON in file into v, failing tb on an error.
func readJSONFile(tb testing.TB, file string, v any) {
	tb.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(text, v); err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
}

// notFittedCheck checks that predict and trees of g fail before a fit, and returns the
// check: err is ErrForestNotFitted with a guest message that mentions msg.
func notFittedCheck(tb testing.TB, g *ForestGPUGuest, test *Dataset, msg string) func(what string, err error) {
	tb.Helper()
	notFitted := func(what string, err error) {
		tb.Helper()
		var ge *GuestError
		if !errors.Is(err, ErrForestNotFitted) || !errors.As(err, &ge) || !strings.Contains(ge.Msg, msg) {
			tb.Errorf("%s without a forest: %v, want ErrForestNotFitted with the guest's message", what, err)
		}
	}
	_, err := g.Predict(test.X)
	notFitted("predict", err)
	_, err = g.Trees()
	notFitted("trees", err)
	return notFitted
}

// badDataCase is training data a fit must refuse, with what its error mentions.
type badDataCase struct {
	name string
	x    []float32
	y    []float64
	d    int
	msg  string
}

// checkFailedFitDrops checks that a failed fit (good with zero trees) drops the forest g
// kept.
func checkFailedFitDrops(tb testing.TB, g *ForestGPUGuest, train, test *Dataset, good ForestParams, notFitted func(string, error)) {
	tb.Helper()
	bad := good
	bad.Trees = 0
	if _, err := g.Fit(train.X, train.Y, train.Cols, bad); err == nil {
		tb.Fatal("zero trees: no error")
	}
	_, err := g.Predict(test.X)
	notFitted("predict after a failed fit", err)
}

// TestForestGPUDiabetes trains the default forest (200 trees, seed 42) on the diabetes
// split through wasi:gpu on every available backend and checks it against the plain
// forest guest: the same node count, the trees' predictions (predictTrees) equal bit for
// bit, the device's batch-predict equal bit for bit with f64 (within 1e-5 relative in f32),
// the test MSE in scikit-learn's range, and no device buffer left behind.
func TestForestGPUDiabetes(t *testing.T) {
	forestGPUGuestPath(t)
	train, test := diabetes(t)
	want, wantNodes := plainForest(t)
	for _, backend := range wasiBackends {
		t.Run(backend, func(t *testing.T) {
			h := newWasiGPUHost(t, backend, forestGPUOpts)
			g := newForestGPU(t, h)
			info, fitTime := timedFit(t, g, train)
			if info.Trees != 200 || info.Nodes != wantNodes || !strings.HasPrefix(info.Device, backend+": ") {
				t.Fatalf("fit-info %+v, want 200 trees, %d nodes (plain guest), device %q…", info, wantNodes, backend+": ")
			}
			checkNoBuffers(t, g, "fit")

			trees, nodes := fittedTrees(t, g)
			if len(trees) != 200 || nodes != info.Nodes {
				t.Fatalf("trees(): %d trees of %d nodes, want 200 of %d", len(trees), nodes, info.Nodes)
			}
			fromTrees, err := predictTrees(trees, test.X, test.Cols)
			if err != nil {
				t.Fatal(err)
			}
			sameBits(t, "predictTrees(trees()) vs the plain guest", fromTrees, want)

			t1 := time.Now()
			pred, err := g.Predict(test.X)
			if err != nil {
				t.Fatal(err)
			}
			predTime := time.Since(t1)
			if h.GPU().Info().SupportsF64 {
				sameBits(t, "predict vs the plain guest", pred, want)
			} else {
				t.Logf("%s has no f64: batch-predict sums in f32, compared within 1e-5 relative", h.GPU().Info().Name)
				closeRel(t, "predict (f32) vs the plain guest", pred, want, 1e-5)
			}
			checkNoBuffers(t, g, "predict")
			mse := checkTestMSE(t, pred, test)
			t.Logf("wasi-gpu-%s (Go host, %s): fit %v, predict %v, test MSE %.1f, %d nodes",
				backend, info.Device, fitTime.Round(time.Millisecond), predTime.Round(time.Microsecond), mse, info.Nodes)
		})
	}
}

// TestForestGPUSameAsNative compares the forest-gpu guest's predictions on the cpu
// device with the native Rust forest's (`offload forest --path native --predictions FILE`)
// bit for bit.
func TestForestGPUSameAsNative(t *testing.T) {
	forestGPUGuestPath(t)
	cli := cliForestOrSkip(t, "SKIP forest-gpu/native: target/{release,debug}/offload is not built (cargo build -p offload-host); nothing to compare with")
	train, test := diabetes(t)
	pred := fitPredictDefault(t, newForestGPU(t, newWasiGPUHost(t, "cpu", forestGPUOpts)), train, test)
	file, out, err := runCLIForest(t, cli, "native.json", "--path", "native", "--trees", "200", "--seed", "42")
	if err != nil {
		t.Fatalf("%s forest --path native --predictions: %v\n%s", cli, err, out)
	}
	var native struct {
		Predictions []float64 `json:"predictions"`
	}
	readJSONFile(t, file, &native)
	sameBits(t, "forest-gpu guest (cpu) vs native", pred, native.Predictions)
}

// TestForestGPUBadInput: bad hyperparameters and data are errors carrying the guest's
// message (or the host's, for values outside u32), predict and trees before a fit are
// ErrForestNotFitted, and after every failure the instance holds no buffer and still
// trains and predicts.
func TestForestGPUBadInput(t *testing.T) {
	forestGPUGuestPath(t)
	train, test := diabetes(t)
	g := newForestGPU(t, newWasiGPUHost(t, "cpu", forestGPUOpts))
	notFitted := notFittedCheck(t, g, test, "no forest")

	good := DefaultForestParams()
	good.Trees = 3
	cases := []struct {
		name  string
		mod   func(*ForestParams)
		guest bool // a *GuestError (else refused by the host)
		msg   string
	}{
		{"zero trees", func(p *ForestParams) { p.Trees = 0 }, true, "tree"},
		{"max_features over d", func(p *ForestParams) { p.MaxFeatures = 11 }, true, "max_features"},
		{"min_samples_leaf 0", func(p *ForestParams) { p.MinSamplesLeaf = 0 }, true, "leaf"},
		{"min_samples_split 1", func(p *ForestParams) { p.MinSamplesSplit = 1 }, true, "split"},
		{"negative max_features", func(p *ForestParams) { p.MaxFeatures = -1 }, false, "u32"},
		{"2^33 trees", func(p *ForestParams) { p.Trees = 1 << 33 }, false, "u32"},
		{"2^21 trees", func(p *ForestParams) { p.Trees = 1 << 21 }, true, "n-trees"},
	}
	for _, c := range cases {
		p := good
		c.mod(&p)
		_, err := g.Fit(train.X, train.Y, train.Cols, p)
		var ge *GuestError
		isGuest := errors.As(err, &ge)
		if err == nil || isGuest != c.guest || !strings.Contains(strings.ToLower(err.Error()), c.msg) {
			t.Errorf("%s: %v, want an error mentioning %q (guest error: %v)", c.name, err, c.msg, c.guest)
		}
		checkNoBuffers(t, g, c.name)
	}
	for _, c := range []badDataCase{
		{"empty data", nil, nil, 10, "empty"},
		{"25 values for 3 rows of 10", train.X[:25], train.Y[:3], 10, "25 values"},
		{"zero features", train.X, train.Y, 0, "n-features"},
	} {
		_, err := g.Fit(c.x, c.y, c.d, good)
		var ge *GuestError
		if !errors.As(err, &ge) || !strings.Contains(ge.Msg, c.msg) {
			t.Errorf("%s: %v, want a guest error mentioning %q", c.name, err, c.msg)
		}
		checkNoBuffers(t, g, c.name)
	}

	// The instance still works: a good fit, then bad and good predictions.
	info, err := g.Fit(train.X, train.Y, train.Cols, good)
	if err != nil || info.Trees != 3 {
		t.Fatalf("fit of 3 trees after the failures: %+v, %v", info, err)
	}
	if _, err := g.Predict(test.X[:15]); err == nil {
		t.Error("predict of 15 values with 10 features: no error")
	}
	if pred, err := g.Predict(test.X[:20]); err != nil || len(pred) != 2 {
		t.Errorf("predict of 2 rows: %v, %v", pred, err)
	}
	if trees, err := g.Trees(); err != nil || len(trees) != 3 {
		t.Errorf("trees: %d, %v", len(trees), err)
	}
	checkNoBuffers(t, g, "predict")
	// A failed fit drops the kept forest.
	checkFailedFitDrops(t, g, train, test, good, notFitted)
}

// TestForestGPUBootstrapSwitch: without bootstrap every tree's root holds the mean of all
// targets; with it the roots differ from tree to tree.
func TestForestGPUBootstrapSwitch(t *testing.T) {
	forestGPUGuestPath(t)
	train, _ := diabetes(t)
	g := newForestGPU(t, newWasiGPUHost(t, "cpu", forestGPUOpts))
	var mean float64
	for _, v := range train.Y {
		mean += v
	}
	mean /= float64(len(train.Y))
	roots := func(noBootstrap bool) []float32 {
		t.Helper()
		p := ForestGPUParams{ForestParams: DefaultForestParams(), NoBootstrap: noBootstrap}
		p.Trees, p.MaxDepth = 4, 3
		if _, err := g.FitParams(train.X, train.Y, train.Cols, p); err != nil {
			t.Fatal(err)
		}
		trees, err := g.Trees()
		if err != nil {
			t.Fatal(err)
		}
		var out []float32
		for _, tr := range trees {
			if err := tr.Check(train.Cols); err != nil {
				t.Fatal(err)
			}
			out = append(out, tr.Value[0])
		}
		return out
	}
	for i, v := range roots(true) {
		if math.Abs(float64(v)-mean) > 1e-6*mean {
			t.Errorf("no bootstrap: tree %d's root value %v, want the mean target %v", i, v, mean)
		}
	}
	r := roots(false)
	if r[0] == r[1] && r[1] == r[2] && r[2] == r[3] {
		t.Errorf("bootstrap: every root value is %v", r[0])
	}
}

// TestForestGPUDeadlineTrap: a fit interrupted at the host's deadline is a *TrapError,
// the instance then refuses calls, and Close frees what it held.
func TestForestGPUDeadlineTrap(t *testing.T) {
	forestGPUGuestPath(t)
	train, test := diabetes(t)
	h := newWasiGPUHost(t, "cpu", WasiGPUOptions{Deadline: time.Millisecond, EpochTick: time.Millisecond})
	g := newForestGPU(t, h)
	p := DefaultForestParams()
	p.Trees = 2000
	_, err := g.Fit(train.X, train.Y, train.Cols, p)
	var te *TrapError
	// The trap lands in fit, or (on a loaded machine, rarely) already in the
	// cabi_realloc that lowers its lists: both run under the deadline.
	if !errors.As(err, &te) || (te.Export != "fit" && te.Export != "cabi_realloc") {
		t.Fatalf("fit of 2000 trees within 1 ms: %v, want a trap in fit", err)
	}
	if _, err := g.Predict(test.X); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Errorf("predict after a trap: %v, want the instance unusable", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("close after a trap: %v", err)
	}
	if n, bytes := g.Instance().Buffers(); n != 0 || bytes != 0 {
		t.Errorf("after close: %d buffers (%d bytes)", n, bytes)
	}
}

// TestForestGPUTreeChecks: predictTrees refuses malformed trees instead of looping or
// indexing out of range.
func TestForestGPUTreeChecks(t *testing.T) {
	leaf := ForestTree{Feature: []int32{-1}, Threshold: []float32{0}, Left: []int32{-1}, Right: []int32{-1}, Value: []float32{2}}
	split := ForestTree{Feature: []int32{1, -1, -1}, Threshold: []float32{0.5, 0, 0}, Left: []int32{1, -1, -1},
		Right: []int32{2, -1, -1}, Value: []float32{0, 1, 3}}
	got, err := predictTrees([]ForestTree{leaf, split}, []float32{0, 0, 0, 1}, 2)
	if err != nil || len(got) != 2 || got[0] != 1.5 || got[1] != 2.5 {
		t.Fatalf("predictTrees = %v, %v; want [1.5 2.5]", got, err)
	}
	loop := split
	loop.Left = []int32{0, -1, -1}
	wide := split
	wide.Feature = []int32{2, -1, -1}
	short := split
	short.Value = []float32{0, 1}
	for name, tr := range map[string]ForestTree{"loop": loop, "feature 2 of 2": wide, "short value": short, "empty": {}} {
		if _, err := predictTrees([]ForestTree{tr}, []float32{0, 0}, 2); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := predictTrees(nil, []float32{0, 0}, 2); err == nil {
		t.Error("no trees: no error")
	}
	if _, err := predictTrees([]ForestTree{leaf}, []float32{0, 0, 0}, 2); err == nil {
		t.Error("3 values of 2 features: no error")
	}
}
