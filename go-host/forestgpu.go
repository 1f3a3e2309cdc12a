package offload

// The forest-gpu guest (wasm-modules/forest-gpu-guest, world
// offload:forest-gpu/forest-gpu@0.1.0 in wasm-modules/wit/forest-gpu/world.wit) run by the Go
// host: offload-core's random forest trained and evaluated inside a wasm guest whose ML
// kernels (bootstrap-sample, find-split, batch-predict) are wasi:gpu imports served by this
// package's WasiGPUHost on a cpu, wgpu or cuda device. wasmtime-go has no component model,
// so the three exports are called here through the canonical ABI by hand
// (component-model/design/mvp/CanonicalABI.md, MAX_FLAT_PARAMS = 16, MAX_FLAT_RESULTS = 1):
//
//	fit(x: list<f32>, y: list<f64>, n-features: u32, params: forest-params)
//	    -> result<fit-info, string>
//	  core: (x.ptr i32, x.len i32, y.ptr i32, y.len i32, n-features i32,
//	         n-trees i32, max-features.disc i32, max-features.val i32,
//	         max-depth.disc i32, max-depth.val i32, min-samples-split i32,
//	         min-samples-leaf i32, bootstrap i32, seed i64) -> retptr i32      (14 params)
//	predict(x: list<f32>) -> result<list<f64>, string>
//	  core: (x.ptr i32, x.len i32) -> retptr i32
//	trees() -> result<list<tree>, string>
//	  core: () -> retptr i32
//
// Lists are lowered into blocks the guest allocates through its cabi_realloc (align 4 for
// f32, 8 for f64; lengths in elements); the guest owns them afterwards. Each result comes
// back through a return area the guest returns: discriminant byte at 0, payload at 4
// (every payload here has alignment 4), then cabi_post_<export>(retptr) frees what the
// guest allocated for it. Layouts (bytes):
//
//	result<fit-info, string>    size 20: fit-info at 4 = trees u32 @0, nodes u32 @4,
//	                            device string (ptr, len) @8; err string (ptr, len) at 4
//	result<list<f64>, string>   size 12: (ptr, len) at 4; elements 8 bytes, align 8
//	result<list<tree>, string>  size 12: (ptr, len) at 4; tree records 40 bytes, align 4:
//	                            feature list<s32> @0, threshold list<f32> @8,
//	                            left list<s32> @16, right list<s32> @24, value list<f32> @32
//
// Every lifted list is checked for alignment and for lying inside linear memory.

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/offload-project/offload/go-host/internal/cabi"
)

// DefaultForestGPUGuest is where scripts/build-forest-gpu-guest.sh puts the forest-gpu
// guest's core module (wasm32-wasip1), relative to the repository root.
const DefaultForestGPUGuest = "build/guests/forest/forest-gpu.core.wasm"

// forestGPUExports are the function exports the world requires of the core module.
var forestGPUExports = []string{"fit", "predict", "trees", "cabi_realloc"}

// The canonical-ABI types of the exports' results (the layouts above).
var (
	fitInfoT      = cabi.Record("fit-info", cabi.U32, cabi.U32, cabi.String)
	forestTreeT   = cabi.Record("tree", cabi.List(cabi.S32), cabi.List(cabi.F32), cabi.List(cabi.S32), cabi.List(cabi.S32), cabi.List(cabi.F32))
	fitResult     = cabi.Result(fitInfoT, cabi.String)
	predictResult = cabi.Result(cabi.List(cabi.F64), cabi.String)
	treesResult   = cabi.Result(cabi.List(forestTreeT), cabi.String)
)

// ForestGPUParams are the forest-params record of the forest-gpu world: the forest ABI's
// ForestParams (Trees → n-trees; MaxFeatures 0 → none, i.e. all features; MaxDepth 0 →
// none, i.e. unlimited; MinSamplesSplit; MinSamplesLeaf; Seed) plus the record's bootstrap
// switch, as NoBootstrap so that the zero value bootstraps like ForestParams does. The
// guest checks the ranges (Trees ≥ 1, MaxFeatures ≤ the feature count, MinSamplesSplit ≥
// 2, MinSamplesLeaf ≥ 1); values that do not fit the record's u32 fields are refused by
// the host before the call.
type ForestGPUParams struct {
	ForestParams
	// NoBootstrap trains every tree on every row once (bootstrap = false).
	NoBootstrap bool
}

// ForestFitInfo is the fit-info record: what fit trained.
type ForestFitInfo struct {
	Trees  int    // trees in the forest
	Nodes  int    // nodes over all trees
	Device string // the guest's get-device-info: "<backend>: <name>"
}

// ForestTree is one tree as offload-core's flat node arrays (the tree record): node 0 is
// the root; at a split node rows with x[Feature] <= Threshold go to Left, the others to
// Right; at a leaf Feature, Left and Right are -1 and Value is the prediction.
type ForestTree struct {
	Feature   []int32
	Threshold []float32
	Left      []int32
	Right     []int32
	Value     []float32
}

// Check verifies the tree is well formed for rows of nFeatures values: five arrays of one
// nonzero length, a split's feature in [0, nFeatures), its children after it and in
// range (so a walk from the root ends), a leaf with both children -1.
func (t *ForestTree) Check(nFeatures int) error {
	n := len(t.Feature)
	if n == 0 || len(t.Threshold) != n || len(t.Left) != n || len(t.Right) != n || len(t.Value) != n {
		return fmt.Errorf("tree arrays of lengths %d/%d/%d/%d/%d (feature/threshold/left/right/value), want one nonzero length",
			n, len(t.Threshold), len(t.Left), len(t.Right), len(t.Value))
	}
	for i := 0; i < n; i++ {
		f, l, r := t.Feature[i], t.Left[i], t.Right[i]
		switch {
		case f < 0:
			if f != -1 || l != -1 || r != -1 {
				return fmt.Errorf("leaf node %d has feature %d, children %d and %d, want -1", i, f, l, r)
			}
		case int(f) >= nFeatures:
			return fmt.Errorf("node %d splits on feature %d of %d", i, f, nFeatures)
		case int(l) <= i || int(r) <= i || int(l) >= n || int(r) >= n:
			return fmt.Errorf("node %d has children %d and %d, want nodes after it among %d", i, l, r, n)
		}
	}
	return nil
}

// ForestGPUGuest is the forest-gpu guest on one WasiGPUInstance: Fit trains a forest in the
// guest through the host device's ML kernels and keeps it there, Predict runs batch-predict
// on the device, Trees reads the forest back. A mutex (the instance's) serialises calls.
//
// Errors: an export's err(string) is a *GuestError carrying the guest's message (a bad
// hyperparameter, a gpu-error as "<case>: <message>"); Predict and Trees before a
// successful Fit also match ErrForestNotFitted. The instance stays usable after either. A
// trap (including the host's deadline) is a *TrapError, after which the instance refuses
// further calls: close it and load a new one. Close frees the device buffers the instance
// still holds.
type ForestGPUGuest struct {
	w         *WasiGPUInstance
	nFeatures int // features of the forest kept in the guest; 0 = none (host's view)
}

// LoadForestGPUGuest compiles the forest-gpu core module at path on host and instantiates
// it (see NewForestGPUGuest).
func LoadForestGPUGuest(host *WasiGPUHost, path string) (*ForestGPUGuest, error) {
	w, err := host.Instantiate(path)
	if err != nil {
		return nil, err
	}
	g, err := NewForestGPUGuest(w)
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	return g, nil
}

// NewForestGPUGuest wraps an instance of the forest-gpu core module, checking that it
// exports fit, predict, trees and cabi_realloc. The ForestGPUGuest owns w from then on
// (its Close closes w).
func NewForestGPUGuest(w *WasiGPUInstance) (*ForestGPUGuest, error) {
	for _, e := range forestGPUExports {
		if w.exports[e] == nil {
			return nil, fmt.Errorf("forest-gpu guest %s: missing export %q (world offload:forest-gpu/forest-gpu@0.1.0)", w.name, e)
		}
	}
	return &ForestGPUGuest{w: w}, nil
}

// Instance is the underlying wasi:gpu instance (for Buffers, Name).
func (g *ForestGPUGuest) Instance() *WasiGPUInstance { return g.w }

// Close closes the instance and frees the device buffers it still holds.
func (g *ForestGPUGuest) Close() error { return g.w.Close() }

// u32Field converts a hyperparameter or count to a u32 field of the record.
func u32Field(what string, v int) (int32, error) {
	if v < 0 || uint64(v) > math.MaxUint32 {
		return 0, fmt.Errorf("forest-gpu fit: %s = %d is outside the record's u32 range", what, v)
	}
	return int32(uint32(v)), nil
}

// f32Bytes and f64Bytes view a slice's elements as their (little-endian) bytes.
func f32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

func f64Bytes(v []float64) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 8*len(v))
}

// Fit trains a forest in the guest with the default bootstrap (see FitParams).
func (g *ForestGPUGuest) Fit(x []float32, y []float64, nFeatures int, p ForestParams) (ForestFitInfo, error) {
	return g.FitParams(x, y, nFeatures, ForestGPUParams{ForestParams: p})
}

// FitParams calls fit: trains a forest on x (len(y) × nFeatures float32, row-major) and
// targets y through the host's device and keeps it in the guest, replacing an earlier one
// (a failed fit leaves none). The guest checks the data (empty, x and y of different row
// counts) and the hyperparameters; values outside u32 are refused here, before the call
// (the kept forest is then unchanged), and lists over 2^31−1 bytes. The device buffers the guest creates are destroyed before fit returns.
func (g *ForestGPUGuest) FitParams(x []float32, y []float64, nFeatures int, p ForestGPUParams) (ForestFitInfo, error) {
	const export = "fit"
	w := g.w
	w.mu.Lock()
	defer w.mu.Unlock()
	var info ForestFitInfo
	if err := w.ready(); err != nil {
		return info, err
	}
	var u [6]int32
	for i, f := range []struct {
		what string
		v    int
	}{
		{"n-features", nFeatures}, {"n-trees", p.Trees}, {"max-features", p.MaxFeatures},
		{"max-depth", p.MaxDepth}, {"min-samples-split", p.MinSamplesSplit}, {"min-samples-leaf", p.MinSamplesLeaf},
	} {
		v, err := u32Field(f.what, f.v)
		if err != nil {
			return info, err
		}
		u[i] = v
	}
	opt := func(v int32) int32 { // option<u32> discriminant: 0 (the Go zero) is none
		if v == 0 {
			return 0
		}
		return 1
	}
	bootstrap := int32(1)
	if p.NoBootstrap {
		bootstrap = 0
	}
	g.nFeatures = 0 // from here on the guest drops its forest or replaces it
	xp, xn, err := w.lowerList(export, 4, 4, f32Bytes(x))
	if err != nil {
		return info, err
	}
	yp, yn, err := w.lowerList(export, 8, 8, f64Bytes(y))
	if err != nil {
		return info, err
	}
	err = w.callResult(export, &fitResult, func(m []byte, at int) error {
		dev, err := w.liftString(export, at+int(fitInfoT.FieldOffset(2)))
		if err != nil {
			return err
		}
		info = ForestFitInfo{Trees: int(cabi.Le32(m[at+int(fitInfoT.FieldOffset(0)):])),
			Nodes: int(cabi.Le32(m[at+int(fitInfoT.FieldOffset(1)):])), Device: dev}
		return nil
	}, xp, xn, yp, yn, u[0], u[1], opt(u[2]), u[2], opt(u[3]), u[3], u[4], u[5], bootstrap, int64(p.Seed))
	if err != nil {
		return ForestFitInfo{}, err
	}
	g.nFeatures = nFeatures
	return info, nil
}

// notFitted adds ErrForestNotFitted to a guest error when the host knows no fit succeeded.
func (g *ForestGPUGuest) notFitted(err error) error {
	var ge *GuestError
	if g.nFeatures == 0 && errors.As(err, &ge) {
		return fmt.Errorf("%w: %w", ErrForestNotFitted, err)
	}
	return err
}

// Predict calls predict: the kept forest's prediction (the mean of the trees' leaf values,
// by batch-predict on the host's device) for each row of x (rows × the fit's nFeatures
// float32, row-major). On a device with f64 it equals offload-core's Forest::predict (and
// the native Forest::predict of Trees) bit for bit; without f64 the guest sums in f32. Errors: no forest
// yet (also ErrForestNotFitted), a width that is not a multiple of the feature count, a
// gpu-error, a result of another length than the rows.
func (g *ForestGPUGuest) Predict(x []float32) ([]float64, error) {
	const export = "predict"
	w := g.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ready(); err != nil {
		return nil, err
	}
	xp, xn, err := w.lowerList(export, 4, 4, f32Bytes(x))
	if err != nil {
		return nil, err
	}
	var out []float64
	err = w.callResult(export, &predictResult, func(m []byte, at int) error {
		b, err := w.liftList(export, m, at, 8, 8)
		if err != nil {
			return err
		}
		out = make([]float64, len(b)/8)
		copy(f64Bytes(out), b)
		return nil
	}, xp, xn)
	if err != nil {
		return nil, g.notFitted(err)
	}
	if d := g.nFeatures; d > 0 && len(out) != len(x)/d {
		return nil, fmt.Errorf("forest-gpu guest %s: predict returned %d values for %d rows", w.name, len(out), len(x)/d)
	}
	return out, nil
}

// Trees calls trees: the kept forest's trees, copied out of linear memory (each list
// checked against memory and alignment; the trees are not checked: see ForestTree.Check).
// Error: no forest yet (also ErrForestNotFitted).
func (g *ForestGPUGuest) Trees() ([]ForestTree, error) {
	const export = "trees"
	w := g.w
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []ForestTree
	err := w.callResult(export, &treesResult, func(m []byte, at int) error {
		size := int(forestTreeT.Size())
		recs, err := w.liftList(export, m, at, size, int(forestTreeT.Align()))
		if err != nil {
			return err
		}
		p := int(cabi.Le32(m[at:])) // liftList checked the records lie in memory
		out = make([]ForestTree, len(recs)/size)
		for i := range out {
			r := p + size*i
			var lists [5][]byte
			for j := range lists {
				if lists[j], err = w.liftList(export, m, r+int(forestTreeT.FieldOffset(j)), 4, 4); err != nil {
					return fmt.Errorf("tree %d: %w", i, err)
				}
			}
			t := &out[i]
			t.Feature = liftI32s(lists[0])
			t.Threshold = liftF32s(lists[1])
			t.Left = liftI32s(lists[2])
			t.Right = liftI32s(lists[3])
			t.Value = liftF32s(lists[4])
		}
		return nil
	})
	if err != nil {
		return nil, g.notFitted(err)
	}
	return out, nil
}

// liftI32s and liftF32s copy little-endian elements out of linear memory.
func liftI32s(b []byte) []int32 {
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(cabi.Le32(b[4*i:]))
	}
	return out
}

func liftF32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(cabi.Le32(b[4*i:]))
	}
	return out
}
