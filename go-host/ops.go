// Package offload runs offload's vector kernels from Go along every path the project
// compares: pure Go ([GoOps]), Rust through cgo ([RustOps], over liboffload_capi.so),
// WebAssembly guests in wasmtime ([WasmVectorOps], with a fast call path and the
// plain wasmtime-go Func.Call path) and the same guests in wazero ([WazeroVectorOps]).
//
// Every path implements [VectorOps] with the same semantics: lengths are in
// elements, NaN and ±Inf propagate (IEEE-754), mismatched lengths are errors
// ([ErrLengthMismatch]), and nothing panics on bad input. Sums may differ from the
// strictly left-to-right reference in the last bits (SIMD paths and chunked guest
// calls add in another order): compare with a relative tolerance.
package offload

import (
	"errors"
	"fmt"
)

// VectorOps is one way of running the vector kernels. Implementations document
// whether they are safe for concurrent use.
type VectorOps interface {
	// Name is the benchmark path name, e.g. "go", "rust-cgo", "wasm-rust".
	Name() string
	// Sum returns Σ x[i] (0 for an empty slice).
	Sum(x []float64) (float64, error)
	// SumSIMD returns Σ x[i] computed with SIMD partial sums where the path has SIMD.
	SumSIMD(x []float64) (float64, error)
	// Dot returns Σ a[i]·b[i]; len(b) must equal len(a).
	Dot(a, b []float64) (float64, error)
	// Mul sets dst[i] = a[i]·b[i]; len(b) and len(dst) must equal len(a).
	Mul(dst, a, b []float64) error
	// Scale sets dst[i] = s·a[i]; len(dst) must equal len(a).
	Scale(dst, a []float64, s float64) error
}

// ErrLengthMismatch is wrapped by every error about slices whose lengths must agree.
var ErrLengthMismatch = errors.New("length mismatch")

func checkLen(what string, got, want int) error {
	if got != want {
		return fmt.Errorf("%w: %s has %d elements, expected %d (len(a))", ErrLengthMismatch, what, got, want)
	}
	return nil
}

// GoOps is the pure-Go reference. With Unrolled set, the loops are unrolled 4 ways
// with 4 independent accumulators (path "go-unrolled"); otherwise they add strictly
// left to right (path "go"). Go has no portable SIMD, so SumSIMD is the 4-accumulator
// sum on both. GoOps is stateless and safe for concurrent use.
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

// Sum returns Σ x[i].
func (g GoOps) Sum(x []float64) (float64, error) {
	if g.Unrolled {
		return sum4(x), nil
	}
	return SumGo(x), nil
}

// SumSIMD returns Σ x[i] with 4 independent accumulators.
func (g GoOps) SumSIMD(x []float64) (float64, error) { return sum4(x), nil }

// Dot returns Σ a[i]·b[i].
func (g GoOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	if g.Unrolled {
		return dot4(a, b), nil
	}
	return DotGo(a, b), nil
}

// Mul sets dst[i] = a[i]·b[i]; dst may be a or b itself.
func (g GoOps) Mul(dst, a, b []float64) error {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return err
	}
	if err := checkLen("dst", len(dst), len(a)); err != nil {
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

// SumGo is Σ x[i] added strictly left to right: the reference for every other path.
func SumGo(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}

// DotGo is Σ a[i]·b[i] added strictly left to right over min(len(a), len(b)).
func DotGo(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func sum4(x []float64) float64 {
	var s0, s1, s2, s3 float64
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

func dot4(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
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

func mul4(dst, a, b []float64) {
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

func scale4(dst, a []float64, s float64) {
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
