// Package offload runs offload's vector kernels from Go along every path the project
// compares: pure Go ([GoOps], [GoParOps]), Rust through cgo ([RustOps], [RustParOps],
// over liboffload_capi.so), WebAssembly guests in wasmtime ([WasmVectorOps], with a fast
// call path and the plain wasmtime-go Func.Call path) and the same guests in wazero
// ([WazeroVectorOps]).
//
// Every path implements [VectorOps] with the same semantics: lengths are in
// elements, NaN and ±Inf propagate (IEEE-754), mismatched lengths are errors
// ([ErrLengthMismatch]), and nothing panics on bad input. Reductions come in two
// algorithm families (docs/benchmarks.md): [Strict] (Sum, Dot: added left to right,
// the same bits on every path that has it) and [Fast] (SumFast, DotFast: any
// association, compared with a relative tolerance). A path without one family returns
// an error wrapping [ErrFamilyUnsupported] for it.
package offload

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Family is the algorithm family of a reduction (docs/benchmarks.md).
type Family int

const (
	// Strict reductions add strictly left to right: every path that has them returns
	// the same bits as [SumGo] and [DotGo].
	Strict Family = iota
	// Fast reductions add in any order (unrolled accumulators, SIMD partial sums,
	// threads): compare them with a relative tolerance.
	Fast
)

// String is "strict" or "fast", the family's name in benchmark ids.
func (f Family) String() string {
	if f == Fast {
		return "fast"
	}
	return "strict"
}

// VectorOps is one way of running the vector kernels. A path that lacks a family
// (see the table in go-host/README.md) returns an error wrapping [ErrFamilyUnsupported]
// from that family's reductions. Implementations document whether they are safe for
// concurrent use.
type VectorOps interface {
	// Name is the benchmark path name, e.g. "go", "rust-cgo", "wasm-rust".
	Name() string
	// Sum returns Σ x[i] added strictly left to right (family strict; 0 when empty).
	Sum(x []float64) (float64, error)
	// Dot returns Σ a[i]·b[i] added strictly left to right, every product rounded
	// before it is added (no FMA; family strict); len(b) must equal len(a).
	Dot(a, b []float64) (float64, error)
	// SumFast returns Σ x[i] added in the path's fastest order (family fast).
	SumFast(x []float64) (float64, error)
	// DotFast returns Σ a[i]·b[i] added in the path's fastest order (family fast).
	DotFast(a, b []float64) (float64, error)
	// Mul sets dst[i] = a[i]·b[i]; len(b) and len(dst) must equal len(a).
	Mul(dst, a, b []float64) error
	// Scale sets dst[i] = s·a[i]; len(dst) must equal len(a).
	Scale(dst, a []float64, s float64) error
}

// SumOf is o.Sum (strict) or o.SumFast (fast).
func SumOf(o VectorOps, f Family, x []float64) (float64, error) {
	if f == Fast {
		return o.SumFast(x)
	}
	return o.Sum(x)
}

// DotOf is o.Dot (strict) or o.DotFast (fast).
func DotOf(o VectorOps, f Family, a, b []float64) (float64, error) {
	if f == Fast {
		return o.DotFast(a, b)
	}
	return o.Dot(a, b)
}

// ErrLengthMismatch is wrapped by every error about slices whose lengths must agree.
var ErrLengthMismatch = errors.New("length mismatch")

// ErrFamilyUnsupported is wrapped by the error of a reduction whose family the path
// does not implement (e.g. strict on go-unrolled, fast on go, strict dot on an ABI v1
// guest).
var ErrFamilyUnsupported = errors.New("algorithm family not implemented by this path")

func familyErr(path, op string, f Family, why string) error {
	return fmt.Errorf("%w: %s has no %s %s (%s)", ErrFamilyUnsupported, path, f, op, why)
}

func checkLen(what string, got, want int) error {
	if got != want {
		return fmt.Errorf("%w: %s has %d elements, expected %d (len(a))", ErrLengthMismatch, what, got, want)
	}
	return nil
}

func checkMul(dst, a, b []float64) error {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return err
	}
	return checkLen("dst", len(dst), len(a))
}

// GoOps is pure Go on one goroutine. Without Unrolled it is path "go": the strict
// family only, added strictly left to right ([SumGo], [DotGo]), the reference of every
// other path. With Unrolled it is path "go-unrolled": the fast family only, loops
// unrolled 4 ways with 4 independent accumulators. The other family's reductions
// return an error wrapping [ErrFamilyUnsupported]. GoOps is stateless and safe for
// concurrent use.
type GoOps struct {
	Unrolled bool
}

// Name is "go" or "go-unrolled".
func (g GoOps) Name() string {
	if g.Unrolled {
		return "go-unrolled"
	}
	return "go"
}

// Sum returns Σ x[i] left to right (path go only).
func (g GoOps) Sum(x []float64) (float64, error) {
	if g.Unrolled {
		return 0, familyErr(g.Name(), "sum", Strict, "4 accumulators: use path go")
	}
	return SumGo(x), nil
}

// SumFast returns Σ x[i] with 4 accumulators (path go-unrolled only).
func (g GoOps) SumFast(x []float64) (float64, error) {
	if !g.Unrolled {
		return 0, familyErr(g.Name(), "sum", Fast, "left to right only: use go-unrolled or go-par")
	}
	return sum4(x), nil
}

// Dot returns Σ a[i]·b[i] left to right (path go only).
func (g GoOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	if g.Unrolled {
		return 0, familyErr(g.Name(), "dot", Strict, "4 accumulators: use path go")
	}
	return DotGo(a, b), nil
}

// DotFast returns Σ a[i]·b[i] with 4 accumulators (path go-unrolled only).
func (g GoOps) DotFast(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	if !g.Unrolled {
		return 0, familyErr(g.Name(), "dot", Fast, "left to right only: use go-unrolled or go-par")
	}
	return dot4(a, b), nil
}

// Mul sets dst[i] = a[i]·b[i]; dst may be a or b itself.
func (g GoOps) Mul(dst, a, b []float64) error {
	if err := checkMul(dst, a, b); err != nil {
		return err
	}
	if g.Unrolled {
		mul4(dst, a, b)
	} else {
		for i := range a {
			dst[i] = a[i] * b[i]
		}
	}
	return nil
}

// Scale sets dst[i] = s·a[i]; dst may be a itself.
func (g GoOps) Scale(dst, a []float64, s float64) error {
	if err := checkLen("dst", len(dst), len(a)); err != nil {
		return err
	}
	if g.Unrolled {
		scale4(dst, a, s)
	} else {
		for i := range a {
			dst[i] = s * a[i]
		}
	}
	return nil
}

// ParMinChunk is the fewest elements one goroutine of [GoParOps] works on: 32 Ki
// float64s (256 KiB, about one core's share of L2), the chunk floor of
// rust-native-par. Inputs shorter than two chunks run inline on the calling goroutine.
const ParMinChunk = 32 * 1024

// GoParOps is pure Go over all cores (path "go-par", fast family only): the input is
// split into k = min(Workers, n/[ParMinChunk]) contiguous chunks of about n/k elements,
// one goroutine each (the first on the caller's), each running go-unrolled's loops; the
// reductions add the chunks' partial results in chunk order. Below 2·ParMinChunk
// elements it runs inline, as go-unrolled. Mul and Scale give the
// same bits as [GoOps]. Strict reductions return an error wrapping
// [ErrFamilyUnsupported]. Stateless and safe for concurrent use.
type GoParOps struct {
	// Threads caps the goroutines per call; 0 means runtime.GOMAXPROCS(0) at the call.
	Threads int
}

// Name is "go-par".
func (GoParOps) Name() string { return "go-par" }

// Workers is the most goroutines one call uses.
func (p GoParOps) Workers() int {
	if p.Threads > 0 {
		return p.Threads
	}
	return runtime.GOMAXPROCS(0)
}

// parSplit returns the chunk length and count for n elements over at most workers
// goroutines: k ≤ n/ParMinChunk chunks of equal length, a multiple of 4 (so only the
// last, shorter one has an unrolled loop's tail). One chunk means: run inline.
func parSplit(n, workers int) (chunk, k int) {
	k = min(workers, n/ParMinChunk)
	if k <= 1 {
		return n, 1
	}
	chunk = ((n+k-1)/k + 3) &^ 3
	return chunk, (n + chunk - 1) / chunk
}

// parFor runs fn(i, lo, hi) for the k chunks of [0, n), chunk 0 on the calling
// goroutine, and waits for all of them.
func parFor(n, chunk, k int, fn func(i, lo, hi int)) {
	var wg sync.WaitGroup
	wg.Add(k - 1)
	for i := 1; i < k; i++ {
		go func(i int) {
			defer wg.Done()
			fn(i, i*chunk, min((i+1)*chunk, n))
		}(i)
	}
	fn(0, 0, min(chunk, n))
	wg.Wait()
}

// parSum is Σ x[i] over at most workers goroutines (go-par's kernel, any float type).
func parSum[T float](x []T, workers int) T {
	chunk, k := parSplit(len(x), workers)
	if k == 1 {
		return sum4(x)
	}
	parts := make([]T, k)
	parFor(len(x), chunk, k, func(i, lo, hi int) { parts[i] = sum4(x[lo:hi]) })
	var s T
	for _, v := range parts {
		s += v
	}
	return s
}

// parDot is Σ a[i]·b[i] over at most workers goroutines; len(b) ≥ len(a).
func parDot[T float](a, b []T, workers int) T {
	chunk, k := parSplit(len(a), workers)
	if k == 1 {
		return dot4(a, b)
	}
	parts := make([]T, k)
	parFor(len(a), chunk, k, func(i, lo, hi int) { parts[i] = dot4(a[lo:hi], b[lo:hi]) })
	var s T
	for _, v := range parts {
		s += v
	}
	return s
}

// parMul sets dst[i] = a[i]·b[i] over at most workers goroutines; lengths checked.
func parMul[T float](dst, a, b []T, workers int) {
	chunk, k := parSplit(len(a), workers)
	if k == 1 {
		mul4(dst, a, b)
		return
	}
	parFor(len(a), chunk, k, func(_, lo, hi int) { mul4(dst[lo:hi], a[lo:hi], b[lo:hi]) })
}

// parScale sets dst[i] = s·a[i] over at most workers goroutines; lengths checked.
func parScale[T float](dst, a []T, s T, workers int) {
	chunk, k := parSplit(len(a), workers)
	if k == 1 {
		scale4(dst, a, s)
		return
	}
	parFor(len(a), chunk, k, func(_, lo, hi int) { scale4(dst[lo:hi], a[lo:hi], s) })
}

// Sum is not implemented (family strict): an error wrapping ErrFamilyUnsupported.
func (p GoParOps) Sum(x []float64) (float64, error) {
	return 0, familyErr(p.Name(), "sum", Strict, "chunks over goroutines: use path go")
}

// Dot is not implemented (family strict): an error wrapping ErrFamilyUnsupported.
func (p GoParOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	return 0, familyErr(p.Name(), "dot", Strict, "chunks over goroutines: use path go")
}

// SumFast returns Σ x[i] over all cores.
func (p GoParOps) SumFast(x []float64) (float64, error) { return parSum(x, p.Workers()), nil }

// DotFast returns Σ a[i]·b[i] over all cores.
func (p GoParOps) DotFast(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	return parDot(a, b, p.Workers()), nil
}

// Mul sets dst[i] = a[i]·b[i] over all cores; dst may be a or b itself.
func (p GoParOps) Mul(dst, a, b []float64) error {
	if err := checkMul(dst, a, b); err != nil {
		return err
	}
	parMul(dst, a, b, p.Workers())
	return nil
}

// Scale sets dst[i] = s·a[i] over all cores; dst may be a itself.
func (p GoParOps) Scale(dst, a []float64, s float64) error {
	if err := checkLen("dst", len(dst), len(a)); err != nil {
		return err
	}
	parScale(dst, a, s, p.Workers())
	return nil
}

// SumGo is Σ x[i] added strictly left to right: the reference for every other path.
func SumGo(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}

// DotGo is Σ a[i]·b[i] added strictly left to right over len(a) (b must be at least as
// long), each product rounded to float64 before it is added: the explicit conversion
// forbids the compiler to fuse the multiply and add (Go spec, "Floating-point
// operators"), so the bits are those of offload_core::vector::dot on every GOARCH.
func DotGo(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for i, v := range a {
		s += float64(v * b[i])
	}
	return s
}

// float is the element types of the pure-Go kernels (float32 for the f32 yardsticks
// of the GPU benchmarks).
type float interface{ ~float32 | ~float64 }

// sum4 is Σ x[i] with 4 independent accumulators (fast family).
func sum4[T float](x []T) T {
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
	}
	s := (s0 + s1) + (s2 + s3)
	for ; i < len(x); i++ {
		s += x[i]
	}
	return s
}

// dot4 is Σ a[i]·b[i] with 4 independent accumulators (fast family).
func dot4[T float](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x := a[i : i+4 : i+4]
		y := b[i : i+4 : i+4]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
	}
	s := (s0 + s1) + (s2 + s3)
	for ; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

func mul4[T float](dst, a, b []T) {
	b = b[:len(a)]
	dst = dst[:len(a)]
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x := a[i : i+4 : i+4]
		y := b[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0] = x[0] * y[0]
		d[1] = x[1] * y[1]
		d[2] = x[2] * y[2]
		d[3] = x[3] * y[3]
	}
	for ; i < len(a); i++ {
		dst[i] = a[i] * b[i]
	}
}

func scale4[T float](dst, a []T, s T) {
	dst = dst[:len(a)]
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x := a[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0] = s * x[0]
		d[1] = s * x[1]
		d[2] = s * x[2]
		d[3] = s * x[3]
	}
	for ; i < len(a); i++ {
		dst[i] = s * a[i]
	}
}
