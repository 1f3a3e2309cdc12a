// Command tinygo-guest is offload's Go vector guest: the vector-guest ABI v2 (see
// README.md, "The vector guest ABI") written in Go, independently of the Rust and C
// guests and of offload-core.
//
// It is a WebAssembly reactor: built with -buildmode=c-shared, main is never run and the
// host calls the exported _initialize once (Go's port) before any ABI function. Three
// package-level [Capacity]float64 arrays (a, b, result) live in linear memory at fixed
// byte offsets (package-level data is never moved by Go's garbage collector); the host
// writes inputs into a and b, calls an op with a length in elements, and reads the return
// value or the result buffer. A length that is negative or over Capacity executes a wasm
// `unreachable` through trap (trap_gc.go + trap_wasm.s for Go's port, trap_tinygo.go for
// TinyGo; trap_other.go lets the package build and its tests run natively).
//
// Built by scripts/build-go-guest.sh: with TinyGo when tinygo is on PATH, otherwise with
// Go's own port (GOOS=wasip1 GOARCH=wasm). Go's wasm port emits no SIMD, so SumSIMD and
// DotSIMD are unrolled four-accumulator scalar loops there; the build's JSON records
// whether the built sum_simd and dot_simd really contain 128-bit SIMD instructions.
//
// Families (docs/benchmarks.md): Sum and Dot are strict, added strictly left to right
// (the same bits as offload-core's vector::sum / dot); Dot writes every product as
// float64(a*b), an explicit conversion, which the Go spec says rounds, so no compiler may
// fuse the multiply into the add. SumSIMD and DotSIMD are fast (any association) and
// agree with them only to a relative tolerance.
package main

import "unsafe"

// ABIVersion is the vector-guest ABI version this module implements.
const ABIVersion = 2

// Capacity is the number of float64 elements in each buffer.
const Capacity = 100000

// errBadLen is the panic value of trap where trap is a panic (TinyGo's -panic=trap turns
// it into `unreachable`; native test builds recover it).
const errBadLen = "offload: len out of range"

var (
	bufA      [Capacity]float64
	bufB      [Capacity]float64
	bufResult [Capacity]float64
)

// main is not run in a reactor (-buildmode=c-shared); it exists because package main
// needs it.
func main() {}

// checked returns n as an element count, trapping (wasm unreachable) when n < 0 or
// n > Capacity. top is the exported function's frame top (see frameTop), which trap needs
// to leave Go's stack pointer as it found it.
func checked(n int32, top uintptr) int {
	if n < 0 || n > Capacity {
		trap(top)
	}
	return int(n)
}

// frameTop returns the address just past the argument or result slot at p, size bytes
// long, rounded up to 8: for the last slot (highest address) of an exported function, the
// top of the argument/result area that the //go:wasmexport wrapper carves from Go's stack,
// i.e. Go's stack pointer before the host's call. This is the stack ABI0 layout that Go's
// wasm port uses (arguments, then results, each naturally aligned; the area rounded up to
// the 8-byte register size). In TinyGo builds the value is computed but unused.
func frameTop(p unsafe.Pointer, size uintptr) uintptr {
	return (uintptr(p) + size + 7) &^ 7
}

// offset returns the byte offset in linear memory of the array at p (wasm32: pointers
// are 32-bit linear-memory addresses).
func offset(p *[Capacity]float64) int32 {
	return int32(uintptr(unsafe.Pointer(p)))
}

// AbiVersion returns the ABI version, 2.
//
//go:wasmexport abi_version
func AbiVersion() int32 { return ABIVersion }

// GetCapacity returns the number of elements in each buffer.
//
//go:wasmexport get_capacity
func GetCapacity() int32 { return Capacity }

// GetBufferAOffset returns the byte offset of buffer a in linear memory.
//
//go:wasmexport get_buffer_a_offset
func GetBufferAOffset() int32 { return offset(&bufA) }

// GetBufferBOffset returns the byte offset of buffer b in linear memory.
//
//go:wasmexport get_buffer_b_offset
func GetBufferBOffset() int32 { return offset(&bufB) }

// GetResultOffset returns the byte offset of the result buffer in linear memory.
//
//go:wasmexport get_result_offset
func GetResultOffset() int32 { return offset(&bufResult) }

// Sum returns Σ a[i] for i < n, added strictly sequentially from index 0. The loop body
// handles four elements per iteration in the same order (((acc+a0)+a1)+a2)+a3: Go's wasm
// port dispatches every loop iteration through a br_table, so fewer iterations run
// faster, while the rounding is exactly that of the one-at-a-time loop.
//
//go:wasmexport sum
func Sum(n int32) (sum float64) {
	a := bufA[:checked(n, frameTop(unsafe.Pointer(&sum), 8))]
	acc := 0.0
	for len(a) >= 4 {
		acc += a[0]
		acc += a[1]
		acc += a[2]
		acc += a[3]
		a = a[4:]
	}
	for _, x := range a {
		acc += x
	}
	return acc
}

// SumSIMD returns Σ a[i] for i < n with four independent partial sums over blocks of
// four elements, combined as (s0+s1)+(s2+s3), then the tail. Go's wasm port has no SIMD,
// so this is the scalar analogue of a two-vector f64x2 reduction; its summation order
// differs from Sum.
//
//go:wasmexport sum_simd
func SumSIMD(n int32) (sum float64) {
	a := bufA[:checked(n, frameTop(unsafe.Pointer(&sum), 8))]
	var s0, s1, s2, s3 float64
	for len(a) >= 4 {
		s0 += a[0]
		s1 += a[1]
		s2 += a[2]
		s3 += a[3]
		a = a[4:]
	}
	acc := (s0 + s1) + (s2 + s3)
	for _, x := range a {
		acc += x
	}
	return acc
}

// Dot returns Σ a[i]·b[i] for i < n, added strictly sequentially from index 0 (strict
// family), four elements per loop iteration in the same order as Sum. Each product is
// rounded on its own (float64(...)) before it is added: no fused multiply-add.
//
//go:wasmexport dot
func Dot(n int32) (dot float64) {
	m := checked(n, frameTop(unsafe.Pointer(&dot), 8))
	a, b := bufA[:m], bufB[:m]
	acc := 0.0
	for len(a) >= 4 && len(b) >= 4 {
		acc += float64(a[0] * b[0])
		acc += float64(a[1] * b[1])
		acc += float64(a[2] * b[2])
		acc += float64(a[3] * b[3])
		a, b = a[4:], b[4:]
	}
	for i, x := range a {
		acc += float64(x * b[i])
	}
	return acc
}

// DotSIMD returns Σ a[i]·b[i] for i < n with four partial sums like SumSIMD (fast
// family; Go's wasm port has no SIMD, so this is the scalar analogue of an f64x2
// reduction).
//
//go:wasmexport dot_simd
func DotSIMD(n int32) (dot float64) {
	m := checked(n, frameTop(unsafe.Pointer(&dot), 8))
	a, b := bufA[:m], bufB[:m]
	var s0, s1, s2, s3 float64
	for len(a) >= 4 && len(b) >= 4 {
		s0 += float64(a[0] * b[0])
		s1 += float64(a[1] * b[1])
		s2 += float64(a[2] * b[2])
		s3 += float64(a[3] * b[3])
		a, b = a[4:], b[4:]
	}
	acc := (s0 + s1) + (s2 + s3)
	for i, x := range a {
		acc += float64(x * b[i])
	}
	return acc
}

// Mul writes result[i] = a[i]·b[i] for i < n (four elements per loop iteration, see Sum).
//
//go:wasmexport mul
func Mul(n int32) {
	m := checked(n, frameTop(unsafe.Pointer(&n), 4))
	a, b, r := bufA[:m], bufB[:m], bufResult[:m]
	for len(a) >= 4 && len(b) >= 4 && len(r) >= 4 {
		r[0] = a[0] * b[0]
		r[1] = a[1] * b[1]
		r[2] = a[2] * b[2]
		r[3] = a[3] * b[3]
		a, b, r = a[4:], b[4:], r[4:]
	}
	for i := range r {
		r[i] = a[i] * b[i]
	}
}

// Scale writes result[i] = scalar·a[i] for i < n (four elements per loop iteration, see
// Sum).
//
//go:wasmexport scale
func Scale(scalar float64, n int32) {
	m := checked(n, frameTop(unsafe.Pointer(&n), 4))
	a, r := bufA[:m], bufResult[:m]
	for len(a) >= 4 && len(r) >= 4 {
		r[0] = scalar * a[0]
		r[1] = scalar * a[1]
		r[2] = scalar * a[2]
		r[3] = scalar * a[3]
		a, r = a[4:], r[4:]
	}
	for i := range r {
		r[i] = scalar * a[i]
	}
}
