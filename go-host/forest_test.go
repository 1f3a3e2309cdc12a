package offload

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// diabetesDir is the shipped diabetes data, relative to go-host/.
var diabetesDir = filepath.Join("..", "core", "data", "diabetes")

// forestFixture is the forest guest; OFFLOAD_FOREST_GUEST overrides it. A missing guest
// fails the test.
var forestFixture = &guestFixture{env: "OFFLOAD_FOREST_GUEST", def: filepath.Join("..", DefaultForestGuest),
	missing: "forest guest not built (%v): run scripts/build-forest-guest.sh (or ./build.sh all) from the repository root first"}

// forestGuestPath is the forest guest's path.
var forestGuestPath = forestFixture.path

func loadForest(tb testing.TB) *ForestGuest {
	tb.Helper()
	g, err := LoadForestGuest(forestGuestPath(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func diabetes(tb testing.TB) (train, test *Dataset) {
	tb.Helper()
	train, test, err := DiabetesSplit(diabetesDir)
	if err != nil {
		tb.Fatal(err)
	}
	return train, test
}

func TestDiabetesSplit(t *testing.T) {
	train, test := diabetes(t)
	if train.Rows != 353 || test.Rows != 89 || train.Cols != 10 || len(train.X) != 3530 || len(test.Y) != 89 {
		t.Fatalf("split %d/%d rows of %d features, want 353/89 of 10", train.Rows, test.Rows, train.Cols)
	}
	// Row 0 of the file (age 59, sex 2, bmi 32.1, ..., target 151) is in the test rows
	// or the training rows exactly once.
	found := 0
	for _, d := range []*Dataset{train, test} {
		for i := 0; i < d.Rows; i++ {
			if d.Y[i] == 151 && d.X[i*10] == 59 && d.X[i*10+2] == float32(32.1) {
				found++
			}
		}
	}
	if found != 1 {
		t.Fatalf("first diabetes row found %d times", found)
	}
}

func TestForestDiabetes(t *testing.T) {
	g := loadForest(t)
	defer g.Close()
	train, test := diabetes(t)
	p := DefaultForestParams()
	if err := g.Fit(train.X, train.Y, train.Cols, p); err != nil {
		t.Fatal(err)
	}
	pred, err := g.Predict(test.X)
	if err != nil {
		t.Fatal(err)
	}
	mse := MSE(pred, test.Y)
	t.Logf("wasm-rust (Go host): diabetes test MSE %.1f over %d rows", mse, len(pred))
	if len(pred) != 89 || !(mse >= 2700 && mse <= 3300) {
		t.Fatalf("%d predictions, test MSE %.1f: want 89 and 2700–3300 (scikit-learn: about 2966)", len(pred), mse)
	}
	nodes, err := g.NodeCount()
	if err != nil || nodes < 200 {
		t.Fatalf("node count %d (%v): want at least one node per tree", nodes, err)
	}
	// Same seed, same forest: the predictions repeat bit for bit; another seed differs.
	if err := g.Fit(train.X, train.Y, train.Cols, p); err != nil {
		t.Fatal(err)
	}
	again, err := g.Predict(test.X)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pred {
		if math.Float64bits(pred[i]) != math.Float64bits(again[i]) {
			t.Fatalf("row %d: %v then %v with the same seed", i, pred[i], again[i])
		}
	}
	p.Seed = 7
	if err := g.Fit(train.X, train.Y, train.Cols, p); err != nil {
		t.Fatal(err)
	}
	other, err := g.Predict(test.X)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i := range pred {
		if pred[i] == other[i] {
			same++
		}
	}
	if same == len(pred) {
		t.Fatal("seed 7 gives the same predictions as seed 42")
	}
	if g.Rebuilds() != 0 {
		t.Fatalf("%d rebuilds without a trap", g.Rebuilds())
	}
}

// offloadCLI finds the Rust host's CLI: $OFFLOAD_CLI, else the newer of
// target/{debug,release}/offload, else "" when neither is built.
func offloadCLI() string {
	if p := os.Getenv("OFFLOAD_CLI"); p != "" {
		return p
	}
	best, bestTime := "", time.Time{}
	for _, p := range []string{"debug", "release"} {
		f := filepath.Join("..", "target", p, "offload")
		if st, err := os.Stat(f); err == nil && st.ModTime().After(bestTime) {
			best, bestTime = f, st.ModTime()
		}
	}
	return best
}

// TestForestSameAsRustHost runs the same guest under the Rust host (`offload forest
// --path wasm`) and compares: the predictions bit for bit when that CLI can write them
// (`--predictions FILE`, JSON), else the printed test MSE and R² to their printed digits.
func TestForestSameAsRustHost(t *testing.T) {
	cli := offloadCLI()
	if cli == "" {
		t.Skip("SKIP forest/rust-host: target/{release,debug}/offload is not built (cargo build -p offload-host); nothing to compare with")
	}
	g := loadForest(t)
	defer g.Close()
	train, test := diabetes(t)
	if err := g.Fit(train.X, train.Y, train.Cols, DefaultForestParams()); err != nil {
		t.Fatal(err)
	}
	pred, err := g.Predict(test.X)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(cli)
	jsonFile := filepath.Join(t.TempDir(), "pred.json")
	run := func(extra ...string) (string, error) {
		cmd := exec.Command(abs, append([]string{"forest", "--path", "wasm", "--trees", "200", "--seed", "42"}, extra...)...)
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("--predictions", jsonFile)
	exact := err == nil
	if !exact {
		// An older CLI without --predictions: compare the printed numbers.
		if out, err = run(); err != nil {
			t.Fatalf("%s forest --path wasm: %v\n%s", cli, err, out)
		}
	}
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %s in the output of %s:\n%s", name, cli, out)
		}
		return m[1]
	}
	if got, want := fmt.Sprintf("%.1f", MSE(pred, test.Y)), field("test_mse"); got != want {
		t.Fatalf("test MSE: Go host %s, Rust host %s", got, want)
	}
	if !exact {
		t.Logf("compared the printed MSE only (%s has no --predictions)", cli)
		return
	}
	var rust struct {
		Predictions []float64 `json:"predictions"`
	}
	text, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(text, &rust); err != nil {
		t.Fatalf("%s: %v", jsonFile, err)
	}
	if len(rust.Predictions) != len(pred) {
		t.Fatalf("Rust host gave %d predictions, Go host %d", len(rust.Predictions), len(pred))
	}
	for i := range pred {
		if math.Float64bits(pred[i]) != math.Float64bits(rust.Predictions[i]) {
			t.Fatalf("row %d: Go host %v, Rust host %v", i, pred[i], rust.Predictions[i])
		}
	}
}

func TestForestBadInput(t *testing.T) {
	g := loadForest(t)
	defer g.Close()
	train, test := diabetes(t)
	if _, err := g.Predict(test.X); !errors.Is(err, ErrForestNotFitted) {
		t.Fatalf("predict before fit: %v, want ErrForestNotFitted", err)
	}
	if _, err := g.NodeCount(); !errors.Is(err, ErrForestNotFitted) {
		t.Fatalf("node count before fit: %v", err)
	}
	good := DefaultForestParams()
	good.Trees = 3
	cases := []struct {
		name string
		mod  func(*ForestParams)
		code int32
		msg  string
	}{
		{"zero trees", func(p *ForestParams) { p.Trees = 0 }, ForestErrParams, "tree"},
		{"max_features over d", func(p *ForestParams) { p.MaxFeatures = 11 }, ForestErrParams, "max_features"},
		{"negative max_features", func(p *ForestParams) { p.MaxFeatures = -1 }, ForestErrParams, "max_features"},
		{"min_samples_leaf 0", func(p *ForestParams) { p.MinSamplesLeaf = 0 }, ForestErrParams, "leaf"},
		{"min_samples_split 1", func(p *ForestParams) { p.MinSamplesSplit = 1 }, ForestErrParams, "split"},
	}
	for _, c := range cases {
		p := good
		c.mod(&p)
		err := g.Fit(train.X, train.Y, train.Cols, p)
		var ge *ForestGuestError
		if !errors.As(err, &ge) || ge.Code != c.code || !strings.Contains(ge.Msg, c.msg) {
			t.Errorf("%s: %v, want guest error %d mentioning %q", c.name, err, c.code, c.msg)
		}
	}
	var ge *ForestGuestError
	if err := g.Fit(nil, nil, 10, good); !errors.As(err, &ge) || ge.Code != ForestErrData {
		t.Errorf("empty data: %v, want ForestErrData", err)
	}
	if err := g.Fit(train.X[:25], train.Y[:3], 10, good); err == nil {
		t.Error("x of 25 values for 3 rows of 10 features: no error")
	}
	if err := g.Fit(train.X, train.Y, train.Cols, ForestParams{Trees: 1 << 40, MinSamplesSplit: 2, MinSamplesLeaf: 1}); err == nil || !strings.Contains(err.Error(), "i32") {
		t.Errorf("2^40 trees: %v, want an i32 range error", err)
	}
	// A failed fit leaves no forest; a good one works after all the failures.
	if _, err := g.Predict(test.X); !errors.Is(err, ErrForestNotFitted) {
		t.Fatalf("predict after failed fits: %v", err)
	}
	if err := g.Fit(train.X, train.Y, train.Cols, good); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Predict(test.X[:15]); err == nil {
		t.Error("predict of 15 values with 10 features: no error")
	}
	if pred, err := g.Predict(nil); err != nil || len(pred) != 0 {
		t.Errorf("predict of no rows: %v, %v", pred, err)
	}
	if pred, err := g.Predict(test.X[:20]); err != nil || len(pred) != 2 {
		t.Errorf("predict of 2 rows: %v, %v", pred, err)
	}
	g.Close()
	if _, err := g.Predict(test.X); err == nil {
		t.Error("predict after Close: no error")
	}
}

func TestForestGuestLoadErrors(t *testing.T) {
	if _, err := LoadForestGuest(filepath.Join(t.TempDir(), "missing.wasm")); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := CompileForestGuest("junk.wasm", []byte("not wasm")); err == nil {
		t.Error("junk bytes: no error")
	}
	// A vector guest is valid wasm but lacks the forest exports.
	vec := filepath.Join(guestDir, "wasm-rust.wasm")
	if _, err := os.Stat(vec); err == nil {
		if _, err := LoadForestGuest(vec); err == nil || !strings.Contains(err.Error(), "forest_") {
			t.Errorf("vector guest as forest guest: %v, want a missing-export error", err)
		}
	}
}

func TestReadCSVErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, text  string
		line, col   int
		msgContains string
	}{
		{"empty.csv", "", 0, 0, "no data rows"},
		{"header.csv", "a,b,y\n", 0, 0, "no data rows"},
		{"one.csv", "y\n1\n", 1, 0, "at least one feature"},
		{"cols.csv", "a,b,y\n1,2,3\n1,2\n", 3, 0, "2 columns"},
		{"nan.csv", "a,b,y\n1,2,3\n\n1,x,3\n", 4, 2, `"x"`},
		{"inf.csv", "a,b,y\n1,2,inf\n", 2, 3, "finite"},
	}
	for _, c := range cases {
		_, err := ReadCSV(write(c.name, c.text))
		var de *DataError
		if !errors.As(err, &de) || de.Line != c.line || de.Column != c.col || !strings.Contains(de.Msg, c.msgContains) || !strings.HasSuffix(de.File, c.name) {
			t.Errorf("%s: %v, want line %d column %d mentioning %q", c.name, err, c.line, c.col, c.msgContains)
		}
	}
	d, err := ReadCSV(write("ok.csv", "a,b,y\r\n1,2.5,3\r\n4,5,6\r\n"))
	if err != nil || d.Rows != 2 || d.Cols != 2 || d.X[1] != 2.5 || d.Y[1] != 6 || len(d.Features) != 2 {
		t.Fatalf("ok.csv: %+v, %v", d, err)
	}
	for _, c := range []struct{ text, msg string }{{"1\n-2\n", "not a row index"}, {"1\n9\n", "out of range"}, {"\n", "no row index"}} {
		_, err := ReadIndexList(write("idx.txt", c.text), 5)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("index list %q: %v, want %q", c.text, err, c.msg)
		}
	}
	if v, err := ReadIndexList(write("idx.txt", "3\n0\n"), 5); err != nil || len(v) != 2 || v[0] != 3 {
		t.Errorf("index list: %v, %v", v, err)
	}
}
