package offload

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// batchOps is an instance with the batch API.
type batchOps interface {
	residentOps
	CallResidentBatch(calls []ResidentCall, results []float64) error
}

// batchInstances are the WAT guest of capacity fuzzCapacity on each call path
// (wasmtime fast path, Func.Call, wazero) and the shipped Rust guest on the fast path
// when it is built.
func batchInstances(t *testing.T) []batchOps {
	t.Helper()
	fx := vectorFuzzFixture(t)
	var out []batchOps
	for _, p := range []CallPath{FastCall, FuncCall} {
		w, err := fx.small.Instantiate("batch", p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	z, err := NewWazeroVectorOpsFromBytes("fuzz-vector.wasm", fx.smallWasm, "batch-wazero")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, z)
	if fx.rust != nil {
		w, err := fx.rust.Instantiate("wasm-rust", FastCall)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	t.Cleanup(func() {
		for _, o := range out {
			_ = closeVector(o)
		}
	})
	return out
}

// TestCallResidentBatch: a batch of every resident export, longer than one crossing
// (600 calls, 256 per crossing on the fast path), gives each call the value CallResident
// gives it alone, and leaves mul's and scale's output in the result buffer.
func TestCallResidentBatch(t *testing.T) {
	for _, o := range batchInstances(t) {
		c := min(o.Capacity(), fuzzCapacity)
		a, b := make([]float64, c), make([]float64, c)
		for i := range a {
			a[i], b[i] = float64(i)+0.25, 1.5-float64(i)
		}
		if err := o.CopyIn(a); err != nil {
			t.Fatal(err)
		}
		if err := o.CopyInB(b); err != nil {
			t.Fatal(err)
		}
		exports := []string{"sum", "dot", "sum_simd", "dot_simd", "mul", "scale"}
		calls := make([]ResidentCall, 600)
		for i := range calls {
			calls[i] = ResidentCall{Export: exports[i%len(exports)], N: i % (c + 1), Scalar: float64(i) / 8}
		}
		calls[len(calls)-1] = ResidentCall{Export: "scale", N: c, Scalar: -3}
		got := make([]float64, len(calls))
		if err := o.CallResidentBatch(calls, got); err != nil {
			t.Fatalf("%s: %v", o.Name(), err)
		}
		for i, cl := range calls {
			want, err := o.CallResident(cl.Export, cl.N, cl.Scalar)
			if err != nil {
				t.Fatalf("%s: CallResident(%q, %d): %v", o.Name(), cl.Export, cl.N, err)
			}
			if math.Float64bits(got[i]) != math.Float64bits(want) {
				t.Fatalf("%s: batch call %d (%s, n=%d) = %v, alone %v", o.Name(), i, cl.Export, cl.N, got[i], want)
			}
		}
		res := make([]float64, c)
		if err := o.ReadResult(res); err != nil {
			t.Fatal(err)
		}
		for i := range res {
			if res[i] != -3*a[i] {
				t.Fatalf("%s: result[%d] = %v after the batch's last scale, want %v", o.Name(), i, res[i], -3*a[i])
			}
		}
	}
}

// TestCallResidentBatchChecksFirst: a batch with one bad call is refused before any call
// runs (the result buffer keeps its bits, the results stay as they were), with the
// documented error naming the bad call's index; the instance stays usable.
func TestCallResidentBatchChecksFirst(t *testing.T) {
	for _, o := range batchInstances(t) {
		c := o.Capacity()
		if err := o.CopyIn([]float64{2, 3}); err != nil {
			t.Fatal(err)
		}
		if _, err := o.CallResident("scale", 2, 1); err != nil { // result = a
			t.Fatal(err)
		}
		cases := []struct {
			bad  ResidentCall
			want error
		}{
			{ResidentCall{Export: "sum", N: c + 1}, ErrOverCapacity},
			{ResidentCall{Export: "sum", N: -1}, ErrOverCapacity},
			{ResidentCall{Export: "abi_version", N: 1}, ErrNoExport},
			{ResidentCall{Export: "", N: 1}, ErrNoExport},
		}
		for _, tc := range cases {
			calls := []ResidentCall{{Export: "scale", N: 2, Scalar: 10}, {Export: "sum", N: 2}, tc.bad}
			got := []float64{-1, -1, -1}
			err := o.CallResidentBatch(calls, got)
			if !errors.Is(err, tc.want) || err == nil || !strings.Contains(err.Error(), "batch call 2") {
				t.Fatalf("%s: bad call %+v: %v, want %v naming batch call 2", o.Name(), tc.bad, err, tc.want)
			}
			res := make([]float64, 2)
			if err := o.ReadResult(res); err != nil || res[0] != 2 || res[1] != 3 || got[0] != -1 || got[1] != -1 {
				t.Fatalf("%s: a refused batch ran a call: result %v, results %v (%v)", o.Name(), res, got, err)
			}
		}
		if err := o.CallResidentBatch(make([]ResidentCall, 2), make([]float64, 1)); !errors.Is(err, ErrLengthMismatch) {
			t.Fatalf("%s: 2 calls, 1 slot: %v, want ErrLengthMismatch", o.Name(), err)
		}
		if err := o.CallResidentBatch(nil, nil); err != nil {
			t.Fatalf("%s: empty batch: %v", o.Name(), err)
		}
		if v, err := o.CallResident("sum", 2, 0); err != nil || v != 5 {
			t.Fatalf("%s: after refused batches: sum = %v, %v", o.Name(), v, err)
		}
	}
}

// TestCallResidentBatchDeadline: a batch whose second call loops forever returns a
// *BatchError at index 1 wrapping ErrDeadline, after the deadline and not long after;
// the first call's result is set, and the instance then refuses calls (as after any
// trap).
func TestCallResidentBatchDeadline(t *testing.T) {
	for _, kind := range []string{"wasmtime-fast", "wasmtime-call", "wazero"} {
		o := loopInstance(t, kind).(batchOps)
		got := []float64{0, 0, 0}
		start := time.Now()
		err := o.CallResidentBatch([]ResidentCall{{Export: "sum_simd", N: 1}, {Export: "sum", N: 1}, {Export: "sum_simd", N: 1}}, got)
		took := time.Since(start)
		var be *BatchError
		if !errors.As(err, &be) || be.Index != 1 {
			t.Fatalf("%s: %v, want a *BatchError at call 1", kind, err)
		}
		wantDeadline(t, err, "sum", took)
		if got[0] != 42 || got[2] != 0 {
			t.Fatalf("%s: results %v, want [42 0 0]", kind, got)
		}
		if _, err := o.CallResident("sum_simd", 1, 0); err == nil {
			t.Fatalf("%s: the instance accepted a call after the batch's trap", kind)
		}
	}
}

// TestEmptyCalls: EmptyCalls checks k abi_version calls (none, fewer than one crossing,
// several) and refuses a negative count.
func TestEmptyCalls(t *testing.T) {
	for _, o := range batchInstances(t) {
		w, ok := o.(*WasmVectorOps)
		if !ok {
			continue
		}
		for _, k := range []int{0, 1, 255, 256, 257, 1000} {
			if err := w.EmptyCalls(k); err != nil {
				t.Fatalf("%s: EmptyCalls(%d): %v", w.Name(), k, err)
			}
		}
		if err := w.EmptyCalls(-1); err == nil {
			t.Fatalf("%s: EmptyCalls(-1) accepted", w.Name())
		}
	}
}
