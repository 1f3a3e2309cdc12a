package offload

// Rust through cgo: liboffload_capi.so, built by scripts/build-capi.sh
// (cargo build --release -p offload-capi). The rpath lets `go test` find the shared
// library without LD_LIBRARY_PATH; its second entry, $ORIGIN, lets a binary built by
// `go test -c` find a copy of the library next to itself on another machine. Only the shared library is linked here: capi's
// staticlib and wasmtime-go's libwasmtime.a both carry Rust's std and cannot share
// one binary.

// #cgo CFLAGS: -I${SRCDIR}/../capi/include
// #cgo LDFLAGS: -L${SRCDIR}/../target/release -loffload_capi -Wl,-rpath,${SRCDIR}/../target/release -Wl,-rpath,$ORIGIN
/*
#include <stdlib.h>
#include <string.h>
#include "offload.h"

// One capi call and, on failure, a copy of the thread-local message, in a single cgo
// call: a goroutine may move to another OS thread between two cgo calls. Returned by
// value so that no Go pointer escapes for the out-parameter.
typedef struct { int32_t rc; double out; char *msg; } off_res;

static off_res off_done(int32_t rc, double out) {
	off_res r = { rc, out, NULL };
	if (rc != OFFLOAD_OK) r.msg = strdup(offload_last_error());
	return r;
}
static off_res off_sum(const double *a, size_t n) {
	double out = 0; int32_t rc = offload_sum(a, n, &out); return off_done(rc, out);
}
static off_res off_sum_simd(const double *a, size_t n) {
	double out = 0; int32_t rc = offload_sum_simd(a, n, &out); return off_done(rc, out);
}
static off_res off_dot(const double *a, size_t na, const double *b, size_t nb) {
	double out = 0; int32_t rc = offload_dot(a, na, b, nb, &out); return off_done(rc, out);
}
static off_res off_dot_simd(const double *a, size_t na, const double *b, size_t nb) {
	double out = 0; int32_t rc = offload_dot_simd(a, na, b, nb, &out); return off_done(rc, out);
}
static off_res off_sum_par(const double *a, size_t n) {
	double out = 0; int32_t rc = offload_sum_par(a, n, &out); return off_done(rc, out);
}
static off_res off_dot_par(const double *a, size_t na, const double *b, size_t nb) {
	double out = 0; int32_t rc = offload_dot_par(a, na, b, nb, &out); return off_done(rc, out);
}
static off_res off_mul_par(const double *a, size_t na, const double *b, size_t nb, double *o, size_t no) {
	return off_done(offload_mul_par(a, na, b, nb, o, no), 0);
}
static off_res off_scale_par(double s, const double *a, size_t na, double *o, size_t no) {
	return off_done(offload_scale_par(s, a, na, o, no), 0);
}
static off_res off_mul(const double *a, size_t na, const double *b, size_t nb, double *o, size_t no) {
	return off_done(offload_mul(a, na, b, nb, o, no), 0);
}
static off_res off_scale(double s, const double *a, size_t na, double *o, size_t no) {
	return off_done(offload_scale(s, a, na, o, no), 0);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// RustOps calls offload-core's kernels in liboffload_capi.so through cgo (path
// "rust-cgo", both families): Sum and Dot are strict (offload_sum, offload_dot: left to
// right, the same bits as [SumGo] and [DotGo]); SumFast and DotFast are fast
// (offload_sum_simd, offload_dot_simd: AVX2/SSE2 partial sums, see [RustSIMDLevel]).
// Safe for concurrent use (the library is stateless; its per-thread error message is
// copied inside the same cgo call).
type RustOps struct{}

// Name is "rust-cgo".
func (RustOps) Name() string { return "rust-cgo" }

// CapiError is a failed capi call: its status code (OFFLOAD_ERR_* in offload.h) and
// the library's message.
type CapiError struct {
	Func string
	Code int32
	Msg  string
}

func (e *CapiError) Error() string {
	return fmt.Sprintf("offload capi %s: status %d: %s", e.Func, e.Code, e.Msg)
}

// Unwrap makes a length-mismatch status match [ErrLengthMismatch].
func (e *CapiError) Unwrap() error {
	if e.Code == C.OFFLOAD_ERR_LENGTH_MISMATCH {
		return ErrLengthMismatch
	}
	return nil
}

// ptr returns the address of x[0] as a C pointer, nil for an empty slice.
func ptr(x []float64) *C.double {
	if len(x) == 0 {
		return nil
	}
	return (*C.double)(unsafe.Pointer(&x[0]))
}

func capiErr(fn string, r C.off_res) error {
	if r.rc == C.OFFLOAD_OK {
		return nil
	}
	msg := "(no message)"
	if r.msg != nil {
		msg = C.GoString(r.msg)
		C.free(unsafe.Pointer(r.msg))
	}
	return &CapiError{Func: fn, Code: int32(r.rc), Msg: msg}
}

// Sum returns Σ x[i] (left to right).
func (RustOps) Sum(x []float64) (float64, error) {
	r := C.off_sum(ptr(x), C.size_t(len(x)))
	return float64(r.out), capiErr("offload_sum", r)
}

// SumFast returns Σ x[i] with SIMD partial sums.
func (RustOps) SumFast(x []float64) (float64, error) {
	r := C.off_sum_simd(ptr(x), C.size_t(len(x)))
	return float64(r.out), capiErr("offload_sum_simd", r)
}

// Dot returns Σ a[i]·b[i].
func (RustOps) Dot(a, b []float64) (float64, error) {
	r := C.off_dot(ptr(a), C.size_t(len(a)), ptr(b), C.size_t(len(b)))
	return float64(r.out), capiErr("offload_dot", r)
}

// DotFast returns Σ a[i]·b[i] with SIMD partial sums.
func (RustOps) DotFast(a, b []float64) (float64, error) {
	r := C.off_dot_simd(ptr(a), C.size_t(len(a)), ptr(b), C.size_t(len(b)))
	return float64(r.out), capiErr("offload_dot_simd", r)
}

// Mul sets dst[i] = a[i]·b[i]; dst may be a or b itself, a partial overlap is an
// error.
func (RustOps) Mul(dst, a, b []float64) error {
	r := C.off_mul(ptr(a), C.size_t(len(a)), ptr(b), C.size_t(len(b)), ptr(dst), C.size_t(len(dst)))
	return capiErr("offload_mul", r)
}

// Scale sets dst[i] = s·a[i]; dst may be a itself, a partial overlap is an error.
func (RustOps) Scale(dst, a []float64, s float64) error {
	r := C.off_scale(C.double(s), ptr(a), C.size_t(len(a)), ptr(dst), C.size_t(len(dst)))
	return capiErr("offload_scale", r)
}

// RustParOps calls offload-core's all-cores kernels (offload_core::par, rayon) in
// liboffload_capi.so through cgo (path "rust-cgo-par", fast family only): SumFast and
// DotFast (offload_sum_par, offload_dot_par: SIMD inside each chunk), Mul and Scale
// (offload_mul_par, offload_scale_par: the same bits as [RustOps]; in place runs on
// one thread). Sum and Dot return an error wrapping [ErrFamilyUnsupported]. The
// library's rayon pool has [RustParThreads] threads. Safe for concurrent use.
type RustParOps struct{}

// Name is "rust-cgo-par".
func (RustParOps) Name() string { return "rust-cgo-par" }

// Sum is not implemented (family strict): an error wrapping ErrFamilyUnsupported.
func (RustParOps) Sum(x []float64) (float64, error) {
	return 0, familyErr("rust-cgo-par", "sum", Strict, "chunks over threads: use rust-cgo")
}

// Dot is not implemented (family strict): an error wrapping ErrFamilyUnsupported.
func (RustParOps) Dot(a, b []float64) (float64, error) {
	if err := checkLen("b", len(b), len(a)); err != nil {
		return 0, err
	}
	return 0, familyErr("rust-cgo-par", "dot", Strict, "chunks over threads: use rust-cgo")
}

// SumFast returns Σ x[i] over all cores.
func (RustParOps) SumFast(x []float64) (float64, error) {
	r := C.off_sum_par(ptr(x), C.size_t(len(x)))
	return float64(r.out), capiErr("offload_sum_par", r)
}

// DotFast returns Σ a[i]·b[i] over all cores.
func (RustParOps) DotFast(a, b []float64) (float64, error) {
	r := C.off_dot_par(ptr(a), C.size_t(len(a)), ptr(b), C.size_t(len(b)))
	return float64(r.out), capiErr("offload_dot_par", r)
}

// Mul sets dst[i] = a[i]·b[i] over all cores; dst may be a or b itself, a partial
// overlap is an error.
func (RustParOps) Mul(dst, a, b []float64) error {
	r := C.off_mul_par(ptr(a), C.size_t(len(a)), ptr(b), C.size_t(len(b)), ptr(dst), C.size_t(len(dst)))
	return capiErr("offload_mul_par", r)
}

// Scale sets dst[i] = s·a[i] over all cores; dst may be a itself, a partial overlap
// is an error.
func (RustParOps) Scale(dst, a []float64, s float64) error {
	r := C.off_scale_par(C.double(s), ptr(a), C.size_t(len(a)), ptr(dst), C.size_t(len(dst)))
	return capiErr("offload_scale_par", r)
}

// RustParThreads is the number of threads of capi's all-cores kernels (rayon's global
// pool: RAYON_NUM_THREADS, else one per logical CPU).
func RustParThreads() int { return int(C.offload_par_threads()) }

// RustSIMDLevel is the instruction set capi's SIMD kernels use here ("avx2", "sse2",
// "portable").
func RustSIMDLevel() string { return C.GoString(C.offload_simd_level()) }

// RustVersion is liboffload_capi's version string.
func RustVersion() string { return C.GoString(C.offload_version()) }

// rustEmptyCall makes one cgo call into Rust that does no work and allocates nothing
// (offload_version returns a static string): the "empty call" of path rust-cgo.
func rustEmptyCall() bool { return C.offload_version() != nil }
