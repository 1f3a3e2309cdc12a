package offload

// Batches of guest calls on the wasmtime-go path: many calls per crossing into the
// guest (issue #18's call-batching path, `<guest>-batch` in the benchmarks).

import (
	"fmt"
	"math"
	"runtime"

	"github.com/offload-project/offload/go-host/internal/vecabi"
)

// ResidentCall is one call of a batch: one of CallResident's exports on the first N
// elements already in the guest's buffers, Scalar being scale's factor.
type ResidentCall = vecabi.ResidentCall

// BatchError is the error of a batch whose call Index trapped: the calls before it ran
// (their results are set), the instance is unusable as after any trap; it unwraps to
// the trap (a *TrapError).
type BatchError = vecabi.BatchError

// CallResidentBatch runs calls in order, each as CallResident would, and sets
// results[i] to call i's value (0 for mul and scale). On the fast path every 256 calls
// cross into the guest in one cgo call (path name `<guest>-batch` in the benchmarks),
// which is what a host making many small guest calls should use; on the FuncCall path
// the calls run one at a time. Every call is checked before any runs: len(results) !=
// len(calls) wraps ErrLengthMismatch, an N outside [0, capacity] ErrOverCapacity, an
// unknown export ErrNoExport, each error naming the call's index. A trap returns a
// *BatchError.
func (w *WasmVectorOps) CallResidentBatch(calls []ResidentCall, results []float64) error {
	if len(results) != len(calls) {
		return fmt.Errorf("CallResidentBatch: %d calls, %d result slots: %w", len(calls), len(results), ErrLengthMismatch)
	}
	return w.d.CallResidentBatch(calls, results)
}

// EmptyCalls calls the guest's `abi_version` k times as one batch (one cgo crossing
// per 256 calls on the fast path) and checks every result: the per-call overhead of
// CallResidentBatch, as EmptyCall is that of one call. Errors: k negative, a trap (a
// *BatchError), a wrong result.
func (w *WasmVectorOps) EmptyCalls(k int) error { return w.d.EmptyCalls(k) }

// The fast path's C batch holds a whole vecabi batch (a compile error otherwise).
const _ = uint(maxBatch - vecabi.MaxBatch)

// CallBatch runs calls in order (vecabi.BatchRuntime): on the fast path in one cgo
// crossing, each call under the instance's deadline; on the FuncCall path (or for an
// export the fast path has not registered) one call at a time.
func (r *wasmRuntime) CallBatch(calls []vecabi.BatchCall, out []uint64) (int, error) {
	fast := r.fast != nil
	for _, c := range calls {
		fast = fast && r.idx[c.E] >= 0
	}
	if !fast {
		for i, c := range calls {
			v, err := r.callRaw(c)
			if err != nil {
				return i, err
			}
			out[i] = v
		}
		return len(calls), nil
	}
	var bc [vecabi.MaxBatch]batchCall
	for i, c := range calls {
		bc[i] = batchCall{fi: r.idx[c.E], scalar: c.Scalar, n: c.N}
		switch {
		case c.HasScalar:
			bc[i].nargs = 2
		case c.HasN:
			bc[i].nargs = 1
		}
	}
	done, err := r.fast.callBatch(bc[:len(calls)], out, func(i int) string { return r.names[calls[i].E] }, r.deadline)
	runtime.KeepAlive(r.store)
	return done, err
}

// callRaw is one batch call through CallI32 or Call, its result as raw bits.
func (r *wasmRuntime) callRaw(c vecabi.BatchCall) (uint64, error) {
	if !c.HasN {
		v, err := r.CallI32(c.E)
		return uint64(uint32(v)), err
	}
	hasResult := c.E != vecabi.Mul && c.E != vecabi.Scale
	v, err := r.Call(c.E, c.Scalar, c.HasScalar, c.N, hasResult)
	return math.Float64bits(v), err
}
