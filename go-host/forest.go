package offload

// The random-forest guest (wasm-modules/forest-guest, forest ABI v1) run by wasmtime-go:
// the Go host's side of issue 6's "the Rust guest, run by the Rust host and by the Go
// host". The guest is offload-core's CART forest compiled for wasm32-wasip1; this file
// speaks its ABI exactly as host/src/forest_guest.rs does on the Rust side, so with the
// same data, hyperparameters and seed both hosts get the same forest and the same
// predictions bit for bit. It also loads the shipped diabetes data set and its split
// (core/data/diabetes), so Go needs nothing from Rust to train on it.

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// ForestABIVersion is the forest ABI this host speaks (forest_abi_version() must
// return it).
const ForestABIVersion = 1

// DefaultForestGuest is where scripts/build-forest-guest.sh puts the forest guest,
// relative to the repository root.
const DefaultForestGuest = "build/guests/forest/forest-rust.wasm"

// Error codes a forest guest returns (wasm-modules/forest-guest/src/lib.rs).
const (
	ForestErrArgument  = -1 // a pointer or count is bad
	ForestErrParams    = -2 // a hyperparameter is out of range
	ForestErrNotFitted = -3 // predict or node_count before a successful fit
	ForestErrOOM       = -4 // the guest could not allocate
	ForestErrData      = -5 // the training data is empty
)

// forestMaxMessage is the longest error message read back from the guest, in bytes.
const forestMaxMessage = 4096

// ErrForestNotFitted is returned by Predict and NodeCount before a successful Fit.
var ErrForestNotFitted = errors.New("no forest: call Fit first (or the last Fit failed)")

// ForestGuestError is a negative return code of a forest ABI export, with the message
// the guest's forest_last_error gave for it.
type ForestGuestError struct {
	Export string // the export that failed (forest_fit, forest_predict, forest_alloc, ...)
	Code   int32  // one of the ForestErr* codes, or another negative value
	Msg    string // the guest's message
}

func (e *ForestGuestError) Error() string {
	return fmt.Sprintf("guest %s returned error %d: %s", e.Export, e.Code, e.Msg)
}

// ForestParams are the hyperparameters of forest_fit. Zero MaxFeatures means all
// features and zero MaxDepth means unlimited (as in the ABI); every tree draws a
// bootstrap sample (the ABI has no switch for it). The guest checks the ranges: Trees
// ≥ 1, MaxFeatures ≤ the feature count, MinSamplesSplit ≥ 2, MinSamplesLeaf ≥ 1.
type ForestParams struct {
	Trees           int
	MaxFeatures     int
	MaxDepth        int
	MinSamplesSplit int
	MinSamplesLeaf  int
	Seed            uint64
}

// DefaultForestParams are offload-core's ForestParams::default() (and scikit-learn's
// RandomForestRegressor defaults): 200 trees, all features, unlimited depth,
// min_samples_split 2, min_samples_leaf 1, seed 42.
func DefaultForestParams() ForestParams {
	return ForestParams{Trees: 200, MinSamplesSplit: 2, MinSamplesLeaf: 1, Seed: 42}
}

// ForestGuest is one wasmtime-go instance of the forest guest, holding at most one
// forest. Inputs are copied into blocks the guest allocates (forest_alloc) through a
// view of linear memory (Memory.UnsafeData, re-taken after every call since a call may
// grow memory), and predictions are copied out the same way. WASI preview 1 is linked
// (the guest's Rust std imports fd_write, environ_*, proc_exit) with no stdio, no
// environment and no preopened directory.
//
// A trap (or proc_exit) comes back as *TrapError; the instance is then rebuilt from
// the compiled module, so the ForestGuest stays usable but holds no forest. Every call
// into the guest runs under a deadline (DefaultGuestDeadline unless SetDeadline); one
// that runs past it is interrupted and comes back as a *TrapError wrapping ErrDeadline,
// and the instance is rebuilt as after any trap. A mutex serialises calls, so one
// ForestGuest is safe for concurrent use.
type ForestGuest struct {
	mu        sync.Mutex
	name      string
	deadline  time.Duration
	engine    *wasmtime.Engine
	module    *wasmtime.Module
	live      *forestInstance
	nFeatures int // features of the forest inside the instance; 0 = none
	rebuilds  int
}

// forestInstance is one live instance and its typed exports.
type forestInstance struct {
	ticks                                                    uint64 // the deadline of each call, in epoch ticks
	store                                                    *wasmtime.Store
	mem                                                      *wasmtime.Memory
	alloc, free, fit, predict, lastError, nodeCount, version *wasmtime.Func
}

// forestExports are the function exports of forest ABI v1.
var forestExports = []string{
	"forest_abi_version", "forest_alloc", "forest_free", "forest_fit", "forest_predict",
	"forest_last_error", "forest_node_count",
}

// LoadForestGuest reads, compiles and instantiates the forest guest at path (usually
// DefaultForestGuest under the repository root). Errors: the file cannot be read, is
// not wasm, imports something other than WASI preview 1, lacks a forest ABI export, or
// reports another forest_abi_version.
func LoadForestGuest(path string) (*ForestGuest, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load forest guest: %w", err)
	}
	return CompileForestGuest(filepath.Base(path), wasm)
}

// CompileForestGuest compiles and instantiates forest guest bytes; name is used in
// messages. Errors as LoadForestGuest.
func CompileForestGuest(name string, wasm []byte) (*ForestGuest, error) {
	engine, err := guestEngine()
	if err != nil {
		return nil, err
	}
	mod, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile forest guest %s: %w", name, err)
	}
	for _, imp := range mod.Imports() {
		if imp.Module() != "wasi_snapshot_preview1" {
			n := ""
			if imp.Name() != nil {
				n = *imp.Name()
			}
			return nil, fmt.Errorf("forest guest %s imports %s.%s: only wasi_snapshot_preview1 is provided", name, imp.Module(), n)
		}
	}
	g := &ForestGuest{name: name, engine: engine, module: mod, deadline: DefaultGuestDeadline}
	clockAcquire()
	if g.live, err = g.instantiate(); err != nil {
		clockRelease()
		return nil, err
	}
	runtime.SetFinalizer(g, (*ForestGuest).Close) // releases the deadline clock
	return g, nil
}

// SetDeadline sets the deadline of every later call into the guest (and of the start of
// instances rebuilt after a trap): a call still running d after it began is interrupted
// and returns a *TrapError wrapping ErrDeadline (resolution 10 ms). Errors: d not
// positive, ErrClosed.
func (g *ForestGuest) SetDeadline(d time.Duration) error {
	if err := checkDeadline(d); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.module == nil {
		return ErrClosed
	}
	g.deadline = d
	if g.live != nil {
		g.live.ticks = deadlineTicks(d, epochTick)
	}
	return nil
}

// instantiate makes a fresh instance, checks forest_abi_version and looks up every
// export.
func (g *ForestGuest) instantiate() (_ *forestInstance, err error) {
	store := wasmtime.NewStore(g.engine)
	defer func() {
		if err != nil {
			store.Close()
		}
	}()
	ticks := deadlineTicks(g.deadline, epochTick)
	store.SetEpochDeadline(ticks) // before the start function runs
	linker := wasmtime.NewLinker(g.engine)
	defer linker.Close()
	if err := linker.DefineWasi(); err != nil {
		return nil, fmt.Errorf("forest guest %s: define WASI: %w", g.name, err)
	}
	store.SetWasi(wasmtime.NewWasiConfig())
	inst, err := linker.Instantiate(store, g.module)
	if err != nil {
		return nil, fmt.Errorf("forest guest %s: instantiate: %w", g.name, instantiateErr(err, g.deadline))
	}
	ext := inst.GetExport(store, "memory")
	if ext == nil || ext.Memory() == nil {
		return nil, fmt.Errorf("forest guest %s: missing export \"memory\" (forest ABI v1)", g.name)
	}
	fns := make(map[string]*wasmtime.Func, len(forestExports))
	for _, e := range forestExports {
		f := inst.GetFunc(store, e)
		if f == nil {
			return nil, fmt.Errorf("forest guest %s: missing export %q (forest ABI v1)", g.name, e)
		}
		fns[e] = f
	}
	fi := &forestInstance{
		ticks: ticks, store: store, mem: ext.Memory(),
		alloc: fns["forest_alloc"], free: fns["forest_free"], fit: fns["forest_fit"],
		predict: fns["forest_predict"], lastError: fns["forest_last_error"],
		nodeCount: fns["forest_node_count"], version: fns["forest_abi_version"],
	}
	v, err := fi.callI32(fi.version)
	if err != nil {
		return nil, fmt.Errorf("forest guest %s: forest_abi_version: %w", g.name, instantiateErr(err, g.deadline))
	}
	if v != ForestABIVersion {
		return nil, fmt.Errorf("forest guest %s: forest ABI version mismatch: forest_abi_version() is %d, this host speaks %d", g.name, v, ForestABIVersion)
	}
	return fi, nil
}

// close frees the instance's store (its linear memory's reservation, several GiB of
// address space) at once rather than at the next garbage collection: a host that rebuilds
// instances after traps in a loop otherwise runs out of address space. Nil-safe.
func (fi *forestInstance) close() {
	if fi != nil {
		fi.store.Close()
	}
}

// callI32 calls f under the deadline and returns its single i32 result.
func (fi *forestInstance) callI32(f *wasmtime.Func, args ...interface{}) (int32, error) {
	fi.store.SetEpochDeadline(fi.ticks)
	v, err := f.Call(fi.store, args...)
	if err != nil {
		return 0, err
	}
	i, ok := v.(int32)
	if !ok {
		return 0, fmt.Errorf("returned %T, want i32", v)
	}
	return i, nil
}

// Name is the guest's file name.
func (g *ForestGuest) Name() string { return g.name }

// Rebuilds is how many times the instance was rebuilt after a trap.
func (g *ForestGuest) Rebuilds() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rebuilds
}

// NFeatures is the feature count of the forest inside the guest, 0 before a fit.
func (g *ForestGuest) NFeatures() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nFeatures
}

// callFree calls forest_free(ptr, bytes) under the deadline; its error is ignored (the
// block leaks inside the sandbox, and after a trap its instance is gone anyway).
func (fi *forestInstance) callFree(ptr, bytes int32) {
	fi.store.SetEpochDeadline(fi.ticks)
	_, _ = fi.free.Call(fi.store, ptr, bytes)
}

// Close drops the instance; later calls return ErrClosed.
func (g *ForestGuest) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.module != nil {
		clockRelease()
	}
	g.live.close()
	g.live = nil
	g.module = nil
	g.nFeatures = 0
}

// call runs one export on the live instance. A trap (or WASI exit) drops the forest,
// rebuilds the instance and comes back as *TrapError.
func (g *ForestGuest) call(export string, f func(*forestInstance) (int32, error)) (int32, error) {
	if g.module == nil {
		return 0, ErrClosed
	}
	if g.live == nil {
		fi, err := g.instantiate()
		if err != nil {
			return 0, fmt.Errorf("forest guest %s: rebuilding the instance: %w", g.name, err)
		}
		g.live = fi
		g.rebuilds++
	}
	r, err := f(g.live)
	if err != nil {
		g.live.close()
		g.live, g.nFeatures = nil, 0
		interrupted := isInterrupt(err)
		msg := err.Error()
		var werr *wasmtime.Error
		if errors.As(err, &werr) {
			if status, ok := werr.ExitStatus(); ok {
				msg = fmt.Sprintf("proc_exit(%d)", status)
			}
		}
		// A failed rebuild is reported by the next call.
		if fi, rerr := g.instantiate(); rerr == nil {
			g.live = fi
			g.rebuilds++
		}
		if interrupted {
			return 0, deadlineTrap(export, wasmtimeInterrupt, g.deadline)
		}
		return 0, &TrapError{Export: export, Msg: msg}
	}
	return r, nil
}

// lastError is the guest's forest_last_error, read through a guest block.
func (g *ForestGuest) lastError() string {
	if g.live == nil {
		return "(no instance to ask)"
	}
	fi := g.live
	n, err := fi.callI32(fi.lastError, int32(0), int32(0))
	if err != nil {
		return fmt.Sprintf("(reading the message failed: %v)", err)
	}
	if n <= 0 {
		return fmt.Sprintf("(no message; forest_last_error returned %d)", n)
	}
	capacity := min(n, forestMaxMessage)
	buf, err := fi.callI32(fi.alloc, capacity)
	if err != nil || buf <= 0 {
		return fmt.Sprintf("(a message of %d bytes the guest has no room to copy)", n)
	}
	defer fi.callFree(buf, capacity)
	k, err := fi.callI32(fi.lastError, buf, capacity)
	if err != nil || k < 0 {
		return fmt.Sprintf("(forest_last_error returned %d, %v)", k, err)
	}
	k = min(k, capacity)
	data := fi.mem.UnsafeData(fi.store)
	if int(buf)+int(k) > len(data) {
		return fmt.Sprintf("(message block %d+%d outside linear memory)", buf, k)
	}
	return string(data[buf : buf+k])
}

// check turns a negative return code into *ForestGuestError.
func (g *ForestGuest) check(export string, rc int32) error {
	if rc >= 0 {
		return nil
	}
	return &ForestGuestError{Export: export, Code: rc, Msg: g.lastError()}
}

// Fit trains a forest inside the guest on x (len(y) × nFeatures float32, row-major)
// and targets y, replacing any previous forest. The guest checks the hyperparameters
// (a *ForestGuestError with ForestErrParams names the bad one) and rejects empty data
// (ForestErrData); mismatched lengths or sizes over the ABI's i32 are refused here.
// On any error the guest holds no forest.
func (g *ForestGuest) Fit(x []float32, y []float64, nFeatures int, p ForestParams) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nFeatures = 0
	n := len(y)
	if nFeatures < 0 || n*nFeatures != len(x) {
		return fmt.Errorf("forest fit: x has %d values, y has %d rows of %d features", len(x), n, nFeatures)
	}
	var args [9]int32
	for i, v := range []struct {
		what string
		v    int
	}{
		{"rows", n}, {"features", nFeatures}, {"trees", p.Trees}, {"max_features", p.MaxFeatures},
		{"max_depth", p.MaxDepth}, {"min_samples_split", p.MinSamplesSplit},
		{"min_samples_leaf", p.MinSamplesLeaf}, {"x bytes", 4 * len(x)}, {"y bytes", 8 * n},
	} {
		a, err := toI32(v.what, v.v)
		if err != nil {
			return fmt.Errorf("forest fit: %w", err)
		}
		args[i] = a
	}
	// Empty data: let the guest report it (no block can be 0 bytes); any aligned
	// pointer does, the guest looks at the sizes first.
	xb, yb := block{8, 8}, block{8, 8}
	if n > 0 && nFeatures > 0 {
		var err error
		if xb, err = g.putF32("forest fit", x); err != nil {
			return err
		}
		if yb, err = g.putF64("forest fit", y); err != nil {
			g.release(xb)
			return err
		}
	}
	rc, err := g.call("forest_fit", func(fi *forestInstance) (int32, error) {
		return fi.callI32(fi.fit, xb.ptr, yb.ptr, args[0], args[1], args[2], args[3],
			args[4], args[5], args[6], int64(p.Seed))
	})
	if err != nil {
		return err // the blocks went down with the old instance
	}
	if n > 0 && nFeatures > 0 {
		g.release(xb)
		g.release(yb)
	}
	if err := g.check("forest_fit", rc); err != nil {
		return err
	}
	g.nFeatures = nFeatures
	return nil
}

// Predict returns the forest's prediction (the mean of the trees' leaf values) for
// each row of x (rows × NFeatures float32, row-major). Errors: ErrForestNotFitted, a
// length that is not a multiple of the feature count, sizes over the ABI's i32, a
// *ForestGuestError or *TrapError.
func (g *ForestGuest) Predict(x []float32) ([]float64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.module == nil {
		return nil, ErrClosed
	}
	d := g.nFeatures
	if d == 0 {
		return nil, ErrForestNotFitted
	}
	if len(x)%d != 0 {
		return nil, fmt.Errorf("forest predict: %d values are not rows of %d features", len(x), d)
	}
	n := len(x) / d
	if n == 0 {
		return []float64{}, nil
	}
	if _, err := toI32("prediction bytes", 8*n); err != nil {
		return nil, fmt.Errorf("forest predict: %w", err)
	}
	xb, err := g.putF32("forest predict", x)
	if err != nil {
		return nil, err
	}
	ob, err := g.allocBlock("forest predict", 8*n)
	if err != nil {
		g.release(xb)
		return nil, err
	}
	rc, err := g.call("forest_predict", func(fi *forestInstance) (int32, error) {
		return fi.callI32(fi.predict, xb.ptr, int32(n), ob.ptr)
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		g.release(xb)
		g.release(ob)
	}()
	if err := g.check("forest_predict", rc); err != nil {
		return nil, err
	}
	data := g.live.mem.UnsafeData(g.live.store)
	if int(ob.ptr)+8*n > len(data) {
		return nil, fmt.Errorf("forest predict: output block %d+%d no longer inside linear memory", ob.ptr, 8*n)
	}
	out := make([]float64, n)
	copy(out, bytesAsF64(data[ob.ptr:int(ob.ptr)+8*n]))
	return out, nil
}

// NodeCount is the number of nodes over all trees of the forest inside the guest.
func (g *ForestGuest) NodeCount() (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.module == nil {
		return 0, ErrClosed
	}
	if g.nFeatures == 0 {
		return 0, ErrForestNotFitted
	}
	rc, err := g.call("forest_node_count", func(fi *forestInstance) (int32, error) {
		return fi.callI32(fi.nodeCount)
	})
	if err != nil {
		return 0, err
	}
	if err := g.check("forest_node_count", rc); err != nil {
		return 0, err
	}
	return int(rc), nil
}

// Dataset is a regression data set: Rows × Cols float32 features, row-major, and Rows
// float64 targets (the layout of offload-core's data::Dataset and of the forest ABI).
type Dataset struct {
	Features []string
	X        []float32
	Y        []float64
	Rows     int
	Cols     int
}

// Subset returns the rows idx of d, in that order (indices must be < d.Rows).
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{Features: d.Features, Cols: d.Cols, Rows: len(idx),
		X: make([]float32, 0, len(idx)*d.Cols), Y: make([]float64, 0, len(idx))}
	for _, i := range idx {
		s.X = append(s.X, d.X[i*d.Cols:(i+1)*d.Cols]...)
		s.Y = append(s.Y, d.Y[i])
	}
	return s
}

// DataError is a malformed data file: the file, the 1-based line and column (0 when the
// problem is not one field) and what is wrong.
type DataError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *DataError) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: column %d: %s", e.File, e.Line, e.Column, e.Msg)
}

// ReadCSV reads a regression CSV as offload-core's data::parse_csv does: a header of
// names, then rows of numbers; the last column is the target (float64), the others are
// features (parsed as float64, then rounded to float32, so the values equal Rust's).
// Blank lines are skipped. Errors (*DataError): an empty file, fewer than two columns,
// a row with another column count, a field that is not a finite number.
func ReadCSV(file string) (*Dataset, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	d := &Dataset{}
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		fields := strings.Split(l, ",")
		if d.Features == nil {
			if len(fields) < 2 {
				return nil, &DataError{File: file, Line: line, Msg: "need at least one feature and a target column"}
			}
			for _, name := range fields {
				d.Features = append(d.Features, strings.TrimSpace(name))
			}
			d.Cols = len(fields) - 1
			continue
		}
		if len(fields) != d.Cols+1 {
			return nil, &DataError{File: file, Line: line, Msg: fmt.Sprintf("%d columns, the header has %d", len(fields), d.Cols+1)}
		}
		for c, s := range fields {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, &DataError{File: file, Line: line, Column: c + 1, Msg: fmt.Sprintf("%q is not a finite number", s)}
			}
			if c < d.Cols {
				d.X = append(d.X, float32(v))
			} else {
				d.Y = append(d.Y, v)
			}
		}
		d.Rows++
	}
	if err := sc.Err(); err != nil {
		return nil, &DataError{File: file, Line: line + 1, Msg: err.Error()}
	}
	if d.Rows == 0 {
		return nil, &DataError{File: file, Msg: "no data rows"}
	}
	d.Features = d.Features[:d.Cols]
	return d, nil
}

// ReadIndexList reads row indices, one per line (blank lines skipped), each < nRows.
// Errors (*DataError): a line that is not an index, an index out of range, no index.
func ReadIndexList(file string, nRows int) ([]int, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []int
	for i, l := range strings.Split(string(text), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		v, err := strconv.Atoi(l)
		if err != nil || v < 0 {
			return nil, &DataError{File: file, Line: i + 1, Msg: fmt.Sprintf("%q is not a row index", l)}
		}
		if v >= nRows {
			return nil, &DataError{File: file, Line: i + 1, Msg: fmt.Sprintf("row %d out of range (the data has %d rows)", v, nRows)}
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, &DataError{File: file, Msg: "no row index"}
	}
	return out, nil
}

// DiabetesSplit loads the diabetes data set (Efron, Hastie, Johnstone and Tibshirani
// 2004, "Least Angle Regression": 442 patients × 10 raw features, disease progression
// after one year) from dir (core/data/diabetes in the repository) and returns
// scikit-learn's train_test_split(test_size=0.2, random_state=42) of it, shipped as
// train_idx.txt (353 rows) and test_idx.txt (89 rows).
func DiabetesSplit(dir string) (train, test *Dataset, err error) {
	d, err := ReadCSV(filepath.Join(dir, "diabetes.csv"))
	if err != nil {
		return nil, nil, err
	}
	tr, err := ReadIndexList(filepath.Join(dir, "train_idx.txt"), d.Rows)
	if err != nil {
		return nil, nil, err
	}
	te, err := ReadIndexList(filepath.Join(dir, "test_idx.txt"), d.Rows)
	if err != nil {
		return nil, nil, err
	}
	return d.Subset(tr), d.Subset(te), nil
}

// MSE is the mean squared error of pred against y (equal lengths, not empty; NaN
// otherwise).
func MSE(pred, y []float64) float64 {
	if len(pred) != len(y) || len(y) == 0 {
		return math.NaN()
	}
	s := 0.0
	for i := range y {
		e := pred[i] - y[i]
		s += e * e
	}
	return s / float64(len(y))
}
