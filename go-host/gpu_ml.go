package offload

// ML kernels of the GPU API (see gpu.go): bootstrap sampling, split search, averaging and
// forest prediction on resident buffers.

// #cgo CFLAGS: -I${SRCDIR}/../capi/include
/*
#include "gpu_call.h"
static off_gres off_gpu_bootstrap(uint64_t d, uint64_t seed, uint32_t first, uint32_t trees, uint32_t rows, uint64_t out) {
	return off_g(offload_gpu_bootstrap_sample(d, seed, first, trees, rows, out), 0, 0);
}
static off_gres off_gpu_find_split(uint64_t d, const OffloadGpuSplitArgs *a) {
	return off_g(offload_gpu_find_split(d, a), 0, 0);
}
static off_gres off_gpu_average(uint64_t d, int32_t dt, uint64_t preds, uint32_t trees, uint32_t rows, uint64_t out) {
	return off_g(offload_gpu_average(d, dt, preds, trees, rows, out), 0, 0);
}
static off_gres off_gpu_batch_predict(uint64_t d, int32_t dt, const OffloadGpuForest *f, uint64_t x, uint32_t rows, uint64_t out) {
	return off_g(offload_gpu_batch_predict(d, dt, f, x, rows, out), 0, 0);
}
*/
import "C"

// ---------------------------------------------------------------------------------------
// ML kernels (random forests) on resident buffers: capi's offload_gpu_bootstrap_sample,
// _find_split, _average and _batch_predict. A backend without a kernel answers
// GPUUnsupported, naming it.

// GPUSplitArgs are the operands and shape of [GPU.FindSplit] (OffloadGpuSplitArgs):
// X f32 NRows×D row-major, Y f64 NRows, Order u32 D×NRows (rows of each feature in
// order of (x, row)), Weights u32 NTrees×NRows (bootstrap weights), NodeOf u32
// NTrees×NRows (open node of each row or 0xFFFFFFFF), CandRank u32 NNodes×D (rank of each
// candidate feature or 0xFFFFFFFF); Out receives NNodes records of 24 bytes
// ([GPUSplitRecord]). Counts are elements.
type GPUSplitArgs struct {
	X, Y, Order, Weights, NodeOf, CandRank, Out GPUBuffer
	NRows, D, NTrees, NNodes, MinLeaf           uint32
}

// GPUSplitRecord is one node's result of [GPU.FindSplit] as laid out in Out (24 bytes,
// little-endian).
type GPUSplitRecord struct {
	Score      float64 // S_L²/W_L + S_R²/W_R; 0 when there is no split
	Feature    int32   // split feature, -1 when the node has no valid split
	Threshold  float32 // rows with x[Feature] <= Threshold go left
	WeightLeft uint32  // bootstrap weight sent left
	Pad        uint32  // zero
}

// GPUForest is a forest in device buffers for [GPU.BatchPredict] (OffloadGpuForest): the
// node arrays of all trees end to end (NNodes nodes): Feature i32 (-1 at a leaf), Threshold
// f32, Left and Right i32 (child ids relative to the tree's root), Value f32, TreeStart u32
// NTrees (each root's index).
type GPUForest struct {
	Feature, Threshold, Left, Right, Value, TreeStart GPUBuffer
	NTrees, NNodes, NFeatures                         uint32
}

// BootstrapSample writes the bootstrap weights of trees firstTree … firstTree+nTrees−1 to
// out (u32 nTrees×nRows): how often each row is drawn among nRows draws of PCG32 seeded
// with seed on stream 2·tree (offload_core::forest::bootstrap_counts). Queued.
func (g *GPU) BootstrapSample(seed uint64, firstTree, nTrees, nRows uint32, out GPUBuffer) error {
	return gpuErr("offload_gpu_bootstrap_sample", C.off_gpu_bootstrap(g.handle(), C.uint64_t(seed),
		C.uint32_t(firstTree), C.uint32_t(nTrees), C.uint32_t(nRows), C.uint64_t(out)))
}

// FindSplit writes the best split (CART, squared error) of every open node of a batch of
// trees to a.Out, one [GPUSplitRecord] per node. Queued.
func (g *GPU) FindSplit(a GPUSplitArgs) error {
	ca := C.OffloadGpuSplitArgs{
		x: C.uint64_t(a.X), y: C.uint64_t(a.Y), order: C.uint64_t(a.Order), weights: C.uint64_t(a.Weights),
		node_of: C.uint64_t(a.NodeOf), cand_rank: C.uint64_t(a.CandRank), out: C.uint64_t(a.Out),
		n_rows: C.uint32_t(a.NRows), d: C.uint32_t(a.D), n_trees: C.uint32_t(a.NTrees),
		n_nodes: C.uint32_t(a.NNodes), min_leaf: C.uint32_t(a.MinLeaf),
	}
	return gpuErr("offload_gpu_find_split", C.off_gpu_find_split(g.handle(), &ca))
}

// Average writes out[r] = (Σ_t preds[t·nRows + r]) / nTrees (preds f32 nTrees×nRows, sum
// in tree order in dt, out nRows elements of dt). Queued.
func (g *GPU) Average(dt GPUDType, preds GPUBuffer, nTrees, nRows uint32, out GPUBuffer) error {
	return gpuErr("offload_gpu_average", C.off_gpu_average(g.handle(), C.int32_t(dt), C.uint64_t(preds),
		C.uint32_t(nTrees), C.uint32_t(nRows), C.uint64_t(out)))
}

// BatchPredict writes the forest's mean prediction for each of the nRows rows of x (f32
// nRows×f.NFeatures) to out (nRows elements of dt), summed in tree order in dt. Queued.
func (g *GPU) BatchPredict(dt GPUDType, f GPUForest, x GPUBuffer, nRows uint32, out GPUBuffer) error {
	cf := C.OffloadGpuForest{
		feature: C.uint64_t(f.Feature), threshold: C.uint64_t(f.Threshold), left: C.uint64_t(f.Left),
		right: C.uint64_t(f.Right), value: C.uint64_t(f.Value), tree_start: C.uint64_t(f.TreeStart),
		n_trees: C.uint32_t(f.NTrees), n_nodes: C.uint32_t(f.NNodes), n_features: C.uint32_t(f.NFeatures),
	}
	return gpuErr("offload_gpu_batch_predict", C.off_gpu_batch_predict(g.handle(), C.int32_t(dt), &cf,
		C.uint64_t(x), C.uint32_t(nRows), C.uint64_t(out)))
}
