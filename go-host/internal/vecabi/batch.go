package vecabi

import (
	"fmt"
	"math"
)

// MaxBatch is the most calls a BatchRuntime is handed at once: a longer batch crosses
// into the runtime once per MaxBatch calls.
const MaxBatch = 256

// ResidentCall is one guest call of a batch (Driver.CallResidentBatch): Export is one of
// CallResident's export names ("sum", "dot", "sum_simd", "dot_simd", "mul", "scale"), N
// the number of elements (already in the guest's buffers) it works on, Scalar scale's
// factor (ignored by the other exports).
type ResidentCall struct {
	Export string
	N      int
	Scalar float64
}

// BatchCall is one call as a BatchRuntime receives it, checked by the driver: the
// export's slot and its arguments, (), (n) or (scalar, n).
type BatchCall struct {
	E         Export
	HasN      bool // false for an export without arguments (abi_version)
	HasScalar bool // scale's (scalar, n)
	Scalar    float64
	N         int32 // in elements
}

// BatchRuntime is a Runtime that can run several calls in one crossing into the
// WebAssembly runtime (the wasmtime-go fast path makes one cgo call per batch instead
// of one per call). A Runtime without it runs a batch one Call at a time.
type BatchRuntime interface {
	Runtime
	// CallBatch runs calls in order (1 ≤ len(calls) ≤ MaxBatch) and writes call i's
	// result slot to out[i] as raw bits (an f64's bits, or an i32 in the low 32 bits;
	// unspecified for an export without a result). It returns how many calls returned;
	// when that is less than len(calls), the error is the trap of the call that did
	// not (as Call's error: the driver then refuses further calls).
	CallBatch(calls []BatchCall, out []uint64) (int, error)
}

// BatchError is the error of a batch whose call Index trapped: the calls before it ran
// and their results are in place, the later ones did not run, and the instance is
// unusable as after any trap. It unwraps to the trap.
type BatchError struct {
	Index int   // the call that trapped, from 0
	Err   error // its trap
}

func (e *BatchError) Error() string { return fmt.Sprintf("batch call %d: %v", e.Index, e.Err) }

func (e *BatchError) Unwrap() error { return e.Err }

// CallResidentBatch runs calls in order, each as CallResident would (same checks, same
// guest exports, copying nothing), and sets results[i] to call i's value (0 for mul and
// scale). On a BatchRuntime every MaxBatch calls cross into the guest once. Every call
// is checked before any runs: len(results) must equal len(calls), each N must be in [0,
// capacity] (ErrOverCapacity) and each export known to the guest (ErrNoExport), and the
// error names the call's index. A trap returns a *BatchError; the results of the calls
// before it are set.
func (d *Driver) CallResidentBatch(calls []ResidentCall, results []float64) error {
	if len(results) != len(calls) {
		return fmt.Errorf("batch of %d calls with %d result slots", len(calls), len(results))
	}
	bc := make([]BatchCall, len(calls))
	for i, c := range calls {
		if c.N < 0 || c.N > d.capacity {
			return fmt.Errorf("batch call %d: %w: n = %d, capacity %d", i, ErrOverCapacity, c.N, d.capacity)
		}
		e, ok := residentExport(c.Export)
		if !ok || (e == DotSIMD && d.abi < 2) {
			return fmt.Errorf("batch call %d: %w: guest %s (ABI v%d) has no export %q", i, ErrNoExport, d.name, d.abi, c.Export)
		}
		bc[i] = BatchCall{E: e, HasN: true, HasScalar: e == Scale, Scalar: c.Scalar, N: int32(c.N)}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return err
	}
	return d.runBatch(bc, func(i int, raw uint64) {
		results[i] = 0
		if bc[i].E != Mul && bc[i].E != Scale {
			results[i] = math.Float64frombits(raw)
		}
	})
}

// EmptyCalls calls the guest's `abi_version` k times as one batch (on a BatchRuntime,
// one crossing per MaxBatch calls) and checks that every call returned the guest's ABI
// version: the per-call overhead of the batch path, as EmptyCall is that of one call.
// Errors: k negative; a trap (a *BatchError); a call that returned another value.
func (d *Driver) EmptyCalls(k int) error {
	if k < 0 {
		return fmt.Errorf("EmptyCalls(%d): the count must not be negative", k)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return err
	}
	calls := make([]BatchCall, min(k, MaxBatch))
	for i := range calls {
		calls[i] = BatchCall{E: AbiVersion}
	}
	var bad error
	check := func(i int, raw uint64) {
		if v := int32(uint32(raw)); v != int32(d.abi) && bad == nil {
			bad = fmt.Errorf("guest %s: empty call %d returned %d, abi_version is %d", d.name, i, v, d.abi)
		}
	}
	for done := 0; done < k; done += len(calls) {
		calls = calls[:min(len(calls), k-done)]
		if err := d.runBatch(calls, check); err != nil {
			return err
		}
	}
	return bad
}

// runBatch runs calls (checked) in pieces of MaxBatch, handing each call's raw result
// to put; a trap marks the instance broken and comes back as a *BatchError. Called with
// the mutex held.
func (d *Driver) runBatch(calls []BatchCall, put func(i int, raw uint64)) error {
	br, ok := d.rt.(BatchRuntime)
	if !ok {
		for i, c := range calls {
			raw, err := d.callOne(c)
			if err != nil {
				return d.batchFail(i, err)
			}
			put(i, raw)
		}
		return nil
	}
	var out [MaxBatch]uint64
	for lo := 0; lo < len(calls); lo += MaxBatch {
		piece := calls[lo:min(lo+MaxBatch, len(calls))]
		n, err := br.CallBatch(piece, out[:len(piece)])
		for i := range n {
			put(lo+i, out[i])
		}
		if n < len(piece) {
			return d.batchFail(lo+n, err)
		}
	}
	return nil
}

// callOne runs one batch call through Call or CallI32 and returns its raw result.
func (d *Driver) callOne(c BatchCall) (uint64, error) {
	if !c.HasN {
		v, err := d.rt.CallI32(c.E)
		return uint64(uint32(v)), err
	}
	hasResult := c.E != Mul && c.E != Scale
	v, err := d.rt.Call(c.E, c.Scalar, c.HasScalar, c.N, hasResult)
	return math.Float64bits(v), err
}

// batchFail is fail for call i of a batch: a trap breaks the instance and comes back
// as a *BatchError (a *ResultError, which does not break it, too, so the index is
// known).
func (d *Driver) batchFail(i int, err error) error {
	if err == nil {
		err = fmt.Errorf("guest %s: the runtime stopped the batch without an error", d.name)
	}
	return &BatchError{Index: i, Err: d.fail(err)}
}
