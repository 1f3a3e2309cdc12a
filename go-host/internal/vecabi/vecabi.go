// Package vecabi drives a vector guest — a WebAssembly module of the vector-guest ABI
// (v1 or v2, described in the repository's README.md, "The vector guest ABI (v2)") —
// over any WebAssembly runtime. It is written once for the wasmtime-go and the wazero
// paths of package offload, which reach their runtime through the small [Runtime]
// interface (bind an export, call it, view linear memory).
//
// The driver reads the ABI exports (abi_version, get_capacity and the three buffer
// offsets) and checks them, copies inputs into the guest's static buffers, runs inputs
// longer than the guest's capacity in capacity-sized pieces, and carries the running
// total of a strict reduction (`sum`, `dot`) from one piece into the next so the result
// keeps the bits of a left-to-right loop at every length. ABI v1 guests have no
// `dot_simd`: their `dot` (of unspecified order) serves the fast dot, and a strict dot
// on them is refused with [ErrV1StrictDot].
//
// Lengths and capacities are in elements (float64); buffer offsets are in bytes.
package vecabi

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Version is the newest vector-guest ABI the driver speaks: `sum` and `dot` strict
// (left to right), `sum_simd` and `dot_simd` fast.
const Version = 2

// MinVersion is the oldest vector-guest ABI the driver loads (v1: no `dot_simd`, a
// `dot` of unspecified order).
const MinVersion = 1

// ErrOverCapacity is wrapped by the error of an unchunked guest call whose length (in
// elements) exceeds the guest's capacity or is negative, and by that of a strict
// reduction split over a guest whose capacity is below 2.
var ErrOverCapacity = errors.New("length over the guest's buffer capacity")

// ErrClosed is returned by calls on a closed driver.
var ErrClosed = errors.New("instance is closed")

// ErrNoExport is wrapped by the error of a resident call naming an export the guest
// does not have (e.g. "dot_simd" on an ABI v1 guest) or an unknown reduction.
var ErrNoExport = errors.New("no such vector-guest export")

// ErrV1StrictDot is returned for a strict dot asked of an ABI v1 guest, whose `dot`
// adds in an unspecified order. Its text is the reason callers give in their own
// "family not implemented" error.
var ErrV1StrictDot = errors.New("ABI v1 guest: its dot adds in an unspecified order; rebuild it for ABI v2")

// Export is one function export of the vector-guest ABI: the slot a [Runtime] binds a
// guest function to.
type Export int

// The exports of the ABI, in the order they are looked up. DotSIMD is bound to
// "dot_simd" on an ABI v2 guest and to "dot" on a v1 guest.
const (
	AbiVersion       Export = iota // abi_version() -> i32
	GetCapacity                    // get_capacity() -> i32, in elements
	GetBufferAOffset               // get_buffer_a_offset() -> i32, in bytes
	GetBufferBOffset               // get_buffer_b_offset() -> i32, in bytes
	GetResultOffset                // get_result_offset() -> i32, in bytes
	Sum                            // sum(n i32) -> f64, strict
	Dot                            // dot(n i32) -> f64, strict on v2
	Mul                            // mul(n i32): result[i] = a[i]·b[i]
	Scale                          // scale(s f64, n i32): result[i] = s·a[i]
	SumSIMD                        // sum_simd(n i32) -> f64, fast
	DotSIMD                        // dot_simd(n i32) -> f64, fast ("dot" on v1)
	NumExports                     // the number of slots
)

// v1Names are the export names of ABI v1, indexed by Export (DotSIMD has none in v1).
var v1Names = [...]string{
	AbiVersion: "abi_version", GetCapacity: "get_capacity", GetBufferAOffset: "get_buffer_a_offset",
	GetBufferBOffset: "get_buffer_b_offset", GetResultOffset: "get_result_offset",
	Sum: "sum", Dot: "dot", Mul: "mul", Scale: "scale", SumSIMD: "sum_simd",
}

// Buffer names one of the guest's three static buffers.
type Buffer int

// The guest's buffers: the inputs a and b and the output of mul and scale.
const (
	BufA Buffer = iota
	BufB
	BufResult
)

// Runtime is one instance of a vector guest in some WebAssembly runtime, as the driver
// sees it. Its methods are called with the driver's mutex held, never concurrently.
//
// A non-nil error from CallI32 or Call is taken as a trap (the driver then refuses
// further calls and returns the error as it is, so a runtime returns its own trap
// type), except a *[ResultError], which leaves the instance usable.
type Runtime interface {
	// Bind looks up the guest's function export name and binds it to slot e for later
	// calls; false when the guest exports no function of that name.
	Bind(e Export, name string) bool
	// CallI32 calls the export bound to e, which takes no arguments and returns one i32.
	CallI32(e Export) (int32, error)
	// Call calls the export bound to e with the arguments (n), or (scalar, n) when
	// hasScalar, n in elements, and returns its f64 result when hasResult (else 0).
	Call(e Export, scalar float64, hasScalar bool, n int32, hasResult bool) (float64, error)
	// Memory is a view of the whole linear memory, valid until the next call.
	Memory() []byte
}

// ResultError is a Runtime's error for an export that returned values of the wrong
// type or number; it does not make the instance unusable.
type ResultError struct {
	Export string // the export called
	Got    string // what it returned, e.g. "int64" or "2 values"
	Want   string // what the ABI says, e.g. "i32"
}

func (e *ResultError) Error() string {
	return fmt.Sprintf("%s returned %s, want %s", e.Export, e.Got, e.Want)
}

// CheckVersion accepts ABI versions MinVersion..Version; file names the guest in the
// error.
func CheckVersion(file string, abi int) error {
	if abi < MinVersion || abi > Version {
		return fmt.Errorf("guest %s: abi_version %d, this host speaks %d to %d", file, abi, MinVersion, Version)
	}
	return nil
}

// ExportName is the name of export e on a guest of ABI abi.
func ExportName(e Export, abi int) string {
	if e == DotSIMD {
		if abi >= 2 {
			return "dot_simd"
		}
		return "dot"
	}
	return v1Names[e]
}

// ReductionExport is the export that runs reduction op ("Sum" or "Dot") in the strict
// (strict = true) or fast family on a guest of ABI abi: sum/dot (strict),
// sum_simd/dot_simd (fast; dot on ABI v1). Errors: ErrV1StrictDot for a strict dot on
// ABI v1, one wrapping ErrNoExport for another op.
func ReductionExport(abi int, op string, strict bool) (string, error) {
	switch {
	case op == "Sum" && strict:
		return "sum", nil
	case op == "Sum":
		return "sum_simd", nil
	case op == "Dot" && strict && abi < 2:
		return "", ErrV1StrictDot
	case op == "Dot" && strict:
		return "dot", nil
	case op == "Dot":
		return ExportName(DotSIMD, abi), nil
	}
	return "", fmt.Errorf("%w: no resident reduction %q", ErrNoExport, op)
}

// StrictChunks runs a strict (left-to-right) reduction over n elements through a guest
// of the given capacity (in elements), one guest call per piece: fn(lo, hi, carry,
// total) must put elements [lo, hi) in the guest's buffers (after the running total
// when carry is set) and return the guest's result, the new running total. The first
// piece is [0, min(n, capacity)); each later piece is capacity-1 elements, preceded in
// slot 0 of buffer a by the running total (and by 1.0 in slot 0 of buffer b for dot),
// so the guest's left-to-right loop continues exactly where the previous call stopped
// (±0 + total and total·1 are total, bit for bit): the result has the bits of one
// left-to-right loop at every n, not those of a sum of per-chunk sums. A capacity
// below 2 cannot carry: an error wrapping ErrOverCapacity when n exceeds it.
func StrictChunks(n, capacity int, fn func(lo, hi int, carry bool, total float64) (float64, error)) (float64, error) {
	if n <= capacity {
		return fn(0, n, false, 0)
	}
	if capacity < 2 {
		return 0, fmt.Errorf("%w: a strict reduction of %d elements in pieces needs a capacity of at least 2, the guest has %d", ErrOverCapacity, n, capacity)
	}
	total, err := fn(0, capacity, false, 0)
	for lo := capacity; lo < n && err == nil; {
		hi := min(lo+capacity-1, n)
		total, err = fn(lo, hi, true, total)
		lo = hi
	}
	return total, err
}

// Driver runs the vector-guest ABI over one Runtime. A mutex serialises its calls, so
// one Driver is safe for concurrent use (calls run one at a time). After a trap it
// refuses further calls; after Close every call returns ErrClosed.
type Driver struct {
	mu       sync.Mutex
	name     string // the benchmark path name, in messages
	rt       Runtime
	abi      int
	capacity int    // in elements
	off      [3]int // byte offsets of buffers a, b and result
	broken   error  // the trap that broke the instance, or ErrClosed
}

// New binds the ABI's exports through rt, checks abi_version (MinVersion..Version)
// and reads the capacity and buffer offsets, checking that each buffer is an 8-byte
// aligned range of capacity float64 inside linear memory. file names the guest in
// errors; name (the benchmark path name) names it in later call errors. Errors: a
// missing export (naming it in quotes), an unsupported abi_version, a getter that
// traps or returns the wrong type, a buffer outside memory.
func New(file, name string, rt Runtime) (*Driver, error) {
	for e := AbiVersion; e <= SumSIMD; e++ {
		if !rt.Bind(e, v1Names[e]) {
			return nil, fmt.Errorf("guest %s: missing export %q (vector-guest ABI v1)", file, v1Names[e])
		}
	}
	getI32 := func(e Export) (int, error) {
		v, err := rt.CallI32(e)
		var re *ResultError
		if errors.As(err, &re) {
			return 0, fmt.Errorf("guest %s: %w", file, err)
		}
		if err != nil {
			return 0, fmt.Errorf("guest %s: %s: %w", file, v1Names[e], err)
		}
		return int(v), nil
	}
	abi, err := getI32(AbiVersion)
	if err != nil {
		return nil, err
	}
	if err := CheckVersion(file, abi); err != nil {
		return nil, err
	}
	if !rt.Bind(DotSIMD, ExportName(DotSIMD, abi)) {
		return nil, fmt.Errorf("guest %s: missing export %q (vector-guest ABI v%d)", file, ExportName(DotSIMD, abi), abi)
	}
	d := &Driver{name: name, rt: rt, abi: abi}
	if d.capacity, err = getI32(GetCapacity); err != nil {
		return nil, err
	}
	for i, e := range []Export{GetBufferAOffset, GetBufferBOffset, GetResultOffset} {
		if d.off[i], err = getI32(e); err != nil {
			return nil, err
		}
	}
	size := len(rt.Memory())
	for _, o := range d.off {
		if d.capacity <= 0 || o < 0 || o%8 != 0 || o+8*d.capacity > size {
			return nil, fmt.Errorf("guest %s: buffer at offset %d with capacity %d does not fit an 8-byte aligned range in %d bytes of memory", file, o, d.capacity, size)
		}
	}
	return d, nil
}

// Name is the benchmark path name given to New.
func (d *Driver) Name() string { return d.name }

// Capacity is the guest's buffer capacity in elements.
func (d *Driver) Capacity() int { return d.capacity }

// ABI is the guest's abi_version (1 or 2).
func (d *Driver) ABI() int { return d.abi }

// Close runs free (the runtime's own release, may be nil) under the mutex and makes
// every later call return ErrClosed; it returns free's error.
func (d *Driver) Close(free func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	if free != nil {
		err = free()
	}
	d.broken = ErrClosed
	return err
}

// Locked runs fn under the driver's mutex, between calls (so fn may change the
// runtime's settings), and returns its error; ErrClosed without running it after Close.
// A trapped driver still runs fn.
func (d *Driver) Locked(fn func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if errors.Is(d.broken, ErrClosed) {
		return ErrClosed
	}
	return fn()
}

// Trapped reports whether a trap broke the instance (not whether it was closed).
func (d *Driver) Trapped() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.broken != nil && !errors.Is(d.broken, ErrClosed)
}

func (d *Driver) ready() error {
	if d.broken != nil {
		if errors.Is(d.broken, ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("guest %s unusable after an earlier trap (%w); create a new instance", d.name, d.broken)
	}
	return nil
}

// buf is a view of the first n float64 of buffer b (re-taken per use: a call may
// change the runtime's view of memory). Offsets were checked in New and linear memory
// never shrinks.
func (d *Driver) buf(b Buffer, n int) []float64 {
	if n == 0 {
		return nil
	}
	m := d.rt.Memory()[d.off[b] : d.off[b]+8*n]
	return unsafe.Slice((*float64)(unsafe.Pointer(&m[0])), n)
}

// call invokes export e; a trap marks the instance broken, a *ResultError is named
// after the guest.
func (d *Driver) call(e Export, scalar float64, hasScalar bool, n int, hasResult bool) (float64, error) {
	r, err := d.rt.Call(e, scalar, hasScalar, int32(n), hasResult)
	if err != nil {
		return 0, d.fail(err)
	}
	return r, nil
}

// fail records a trap as the instance's breaking error, and names the guest in a
// *ResultError.
func (d *Driver) fail(err error) error {
	var re *ResultError
	if errors.As(err, &re) {
		return fmt.Errorf("guest %s: %w", d.name, err)
	}
	d.broken = err
	return err
}

// chunks calls fn(lo, hi) for each capacity-sized piece of [0, n), and once with
// (0, 0) when n == 0, so an empty input still runs the guest.
func (d *Driver) chunks(n int, fn func(lo, hi int) error) error {
	if n == 0 {
		return fn(0, 0)
	}
	for lo := 0; lo < n; lo += d.capacity {
		if err := fn(lo, min(lo+d.capacity, n)); err != nil {
			return err
		}
	}
	return nil
}

// reduceStrict is a strict reduction of a (and b, for dot, when not nil), chunked with
// the running total carried into each next piece (see StrictChunks).
func (d *Driver) reduceStrict(e Export, a, b []float64) (float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return 0, err
	}
	return StrictChunks(len(a), d.capacity, func(lo, hi int, carry bool, total float64) (float64, error) {
		k := 0
		if carry {
			k = 1
		}
		va := d.buf(BufA, k+hi-lo)
		copy(va[k:], a[lo:hi])
		if carry {
			va[0] = total
		}
		if b != nil {
			vb := d.buf(BufB, k+hi-lo)
			copy(vb[k:], b[lo:hi])
			if carry {
				vb[0] = 1
			}
		}
		return d.call(e, 0, false, k+hi-lo, true)
	})
}

// reduce is a fast reduction of a (and b when not nil): the sum of per-chunk results.
func (d *Driver) reduce(e Export, a, b []float64) (float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return 0, err
	}
	total := 0.0
	err := d.chunks(len(a), func(lo, hi int) error {
		copy(d.buf(BufA, hi-lo), a[lo:hi])
		if b != nil {
			copy(d.buf(BufB, hi-lo), b[lo:hi])
		}
		r, err := d.call(e, 0, false, hi-lo, true)
		total += r
		return err
	})
	return total, err
}

// Sum returns Σ x[i] through the guest's `sum`, strictly left to right at every length.
func (d *Driver) Sum(x []float64) (float64, error) { return d.reduceStrict(Sum, x, nil) }

// SumFast returns Σ x[i] from the guest's `sum_simd`; past the capacity, the sum of
// per-chunk sums.
func (d *Driver) SumFast(x []float64) (float64, error) { return d.reduce(SumSIMD, x, nil) }

// Dot returns Σ a[i]·b[i] through the guest's `dot`, strictly left to right at every
// length; ErrV1StrictDot on an ABI v1 guest. len(b) must be len(a) (the caller checks).
func (d *Driver) Dot(a, b []float64) (float64, error) {
	if d.abi < 2 {
		return 0, ErrV1StrictDot
	}
	if b == nil {
		b = []float64{}
	}
	return d.reduceStrict(Dot, a, b)
}

// DotFast returns Σ a[i]·b[i] from the guest's `dot_simd` (`dot` on ABI v1); past the
// capacity, the sum of per-chunk results. len(b) must be len(a) (the caller checks).
func (d *Driver) DotFast(a, b []float64) (float64, error) {
	if b == nil {
		b = []float64{}
	}
	return d.reduce(DotSIMD, a, b)
}

// Mul sets dst[i] = a[i]·b[i] through the guest's `mul`, chunked; dst may alias a or
// b. The three lengths must agree (the caller checks).
func (d *Driver) Mul(dst, a, b []float64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return err
	}
	return d.chunks(len(a), func(lo, hi int) error {
		copy(d.buf(BufA, hi-lo), a[lo:hi])
		copy(d.buf(BufB, hi-lo), b[lo:hi])
		if _, err := d.call(Mul, 0, false, hi-lo, false); err != nil {
			return err
		}
		copy(dst[lo:hi], d.buf(BufResult, hi-lo))
		return nil
	})
}

// Scale sets dst[i] = s·a[i] through the guest's `scale`, chunked; dst may alias a.
// len(dst) must be len(a) (the caller checks).
func (d *Driver) Scale(dst, a []float64, s float64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return err
	}
	return d.chunks(len(a), func(lo, hi int) error {
		copy(d.buf(BufA, hi-lo), a[lo:hi])
		if _, err := d.call(Scale, s, true, hi-lo, false); err != nil {
			return err
		}
		copy(dst[lo:hi], d.buf(BufResult, hi-lo))
		return nil
	})
}

// SumUnchecked calls the guest's `sum` with n exactly as given, over whatever buffer a
// holds, without a range check: a negative n or one over the capacity makes the guest
// trap, and the runtime's trap error comes back.
func (d *Driver) SumUnchecked(n int32) (float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return 0, err
	}
	return d.call(Sum, 0, false, int(n), true)
}

// CopyIn copies x into buffer b (len(x) ≤ capacity, else an ErrOverCapacity error)
// without calling the guest.
func (d *Driver) CopyIn(b Buffer, x []float64) error {
	if len(x) > d.capacity {
		return fmt.Errorf("%w: %d elements, capacity %d", ErrOverCapacity, len(x), d.capacity)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return err
	}
	copy(d.buf(b, len(x)), x)
	return nil
}

// ReadResult copies the first len(dst) elements of the result buffer into dst
// (len(dst) ≤ capacity, else an ErrOverCapacity error).
func (d *Driver) ReadResult(dst []float64) error {
	if len(dst) > d.capacity {
		return fmt.Errorf("%w: %d elements, capacity %d", ErrOverCapacity, len(dst), d.capacity)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return err
	}
	copy(dst, d.buf(BufResult, len(dst)))
	return nil
}

// residentExport is the slot of an export name CallResident takes (a switch, not a
// map: resident benchmarks time this call).
func residentExport(export string) (Export, bool) {
	switch export {
	case "sum":
		return Sum, true
	case "dot":
		return Dot, true
	case "sum_simd":
		return SumSIMD, true
	case "dot_simd":
		return DotSIMD, true
	case "mul":
		return Mul, true
	case "scale":
		return Scale, true
	}
	return 0, false
}

// CallResident calls one export ("sum", "dot", "sum_simd", "dot_simd", "mul",
// "scale") on the first n elements already in the guest's buffers, copying nothing.
// n must be in [0, capacity] (an ErrOverCapacity error otherwise: no trap); an unknown
// export, or "dot_simd" on ABI v1, is an error wrapping ErrNoExport. scalar is scale's
// factor; the result is the reduction's value (0 for mul and scale, whose output is
// in the result buffer).
func (d *Driver) CallResident(export string, n int, scalar float64) (float64, error) {
	if n < 0 || n > d.capacity {
		return 0, fmt.Errorf("%w: n = %d, capacity %d", ErrOverCapacity, n, d.capacity)
	}
	e, ok := residentExport(export)
	if !ok || (e == DotSIMD && d.abi < 2) {
		return 0, fmt.Errorf("%w: guest %s (ABI v%d) has no export %q", ErrNoExport, d.name, d.abi, export)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return 0, err
	}
	switch e {
	case Mul:
		return d.call(e, 0, false, n, false)
	case Scale:
		return d.call(e, scalar, true, n, false)
	}
	return d.call(e, 0, false, n, true)
}

// EmptyCall calls the guest's `abi_version` (no work, no memory traffic) and returns
// its value: the call overhead of the runtime's call path.
func (d *Driver) EmptyCall() (int32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(); err != nil {
		return 0, err
	}
	v, err := d.rt.CallI32(AbiVersion)
	if err != nil {
		return 0, d.fail(err)
	}
	return v, nil
}
