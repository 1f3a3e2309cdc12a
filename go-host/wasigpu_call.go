package offload

// One call of a wasi:gpu import (the declarations and handlers are in
// wasigpu_imports.go): offWasiGpuImport, the cgo entry point every import's C trampoline
// (wasigpu_shim.c) calls, and importCall, through which a handler reads its flattened
// arguments in order, checks handles, enums and memory ranges (a violation traps the
// guest, as the canonical ABI says) and lowers its result into the guest's return area.

/*
#include <stdlib.h>
#include "wasigpu_shim.h"
*/
import "C"

import (
	"fmt"
	"math"
	"runtime/cgo"
	"unsafe"

	"github.com/offload-project/offload/go-host/internal/cabi"
)

// ---------------------------------------------------------------------------------------
// One import call: reading arguments, lowering results, traps.

// trapError is an ABI violation: the import traps the guest with this message.
type trapError struct{ msg string }

func (t *trapError) Error() string { return t.msg }

func trapf(format string, args ...any) *trapError {
	return &trapError{msg: "wasi:gpu: " + fmt.Sprintf(format, args...)}
}

// cTrap is a trap raised by a nested guest call (cabi_realloc), passed on as it is.
type cTrap struct{ t *C.wasm_trap_t }

func (cTrap) Error() string { return "trap in cabi_realloc" }

// importCall is the state of one import call: the instance, its declaration, the raw
// argument slots (read in order from next), the caller's memory, and the first trap
// and gpu-error the argument readers met.
type importCall struct {
	w      *WasiGPUInstance
	decl   *importDecl
	ctx    *C.wasmtime_context_t
	args   []C.off_gw_val_raw_t
	mem    []byte
	next   int        // the next argument slot
	trap   *trapError // the first ABI violation among the arguments read
	gerr   *wasiErr   // the first bad size among the arguments read
	stored bool       // the handler stored ok(payload) itself
}

// failed is the first trap among the arguments read, else their first gpu-error, else
// nil.
func (c *importCall) failed() error {
	if c.trap != nil {
		return c.trap
	}
	if c.gerr != nil {
		return c.gerr
	}
	return nil
}

func (c *importCall) slot() unsafe.Pointer {
	p := unsafe.Pointer(&c.args[c.next])
	c.next++
	return p
}

func (c *importCall) u32() uint32  { return uint32(*(*int32)(c.slot())) }
func (c *importCall) u64() uint64  { return uint64(*(*int64)(c.slot())) }
func (c *importCall) f64() float64 { return *(*float64)(c.slot()) }

// size converts a u64 offset or size to int for the GPU wrapper; a value past
// math.MaxInt64 cannot address any buffer (an out-of-bounds gpu-error, recorded).
func (c *importCall) size(what string, v uint64) int {
	if v > math.MaxInt64 {
		if c.gerr == nil {
			c.gerr = errOf(caseOutOfBounds, "%s %d is past the end of any buffer", what, v)
		}
		return 0
	}
	return int(v)
}

// lookup finds a handle the instance owns (a trap otherwise: canonical ABI).
func (c *importCall) lookup(h uint32) (gpuEntry, error) {
	e, ok := c.w.table[h]
	if !ok {
		return gpuEntry{}, trapf("unknown handle %d: this instance owns no buffer with that handle (never created, destroyed, or another instance's)", h)
	}
	return e, nil
}

// buffer reads a buffer handle argument and looks it up (an unknown handle is a trap,
// recorded; the zero entry comes back).
func (c *importCall) buffer() gpuEntry {
	h := c.u32()
	if c.trap != nil {
		return gpuEntry{}
	}
	e, err := c.lookup(h)
	if err != nil {
		c.trap = err.(*trapError)
	}
	return e
}

// enum reads an enum or option discriminant of type t (out of range is a trap,
// recorded).
func (c *importCall) enum(t *cabi.Type) int32 {
	v := c.u32()
	if v >= uint32(t.Cases()) {
		if c.trap == nil {
			c.trap = trapf("%s discriminant %d out of range (%d cases)", t.String(), v, t.Cases())
		}
		return 0
	}
	return int32(v)
}

// list reads a list<u8> argument (ptr, len), checked against linear memory (outside it
// is a trap, recorded).
func (c *importCall) list(what string) []byte {
	p, n := c.u32(), c.u32()
	b, err := cabi.Span(c.mem, what, p, n)
	if err != nil && c.trap == nil {
		c.trap = &trapError{msg: "wasi:gpu: " + err.Error()}
	}
	return b
}

// area is the return area (the last argument), checked for the declared result's size
// and alignment.
func (c *importCall) area() ([]byte, error) {
	p := uint32(*(*int32)(unsafe.Pointer(&c.args[len(c.args)-1])))
	a, err := cabi.Area(c.mem, p, c.decl.result)
	if err != nil {
		return nil, &trapError{msg: "wasi:gpu: " + err.Error()}
	}
	return a, nil
}

// ok stores the ok discriminant in the return area and returns the payload's bytes.
func (c *importCall) ok() ([]byte, error) {
	a, err := c.area()
	if err != nil {
		return nil, err
	}
	c.stored = true
	return c.decl.result.SetCase(a, 0), nil
}

// storeErr stores err(gpu-error) in the return area: the message is lowered through
// cabi_realloc first, then the area is checked (memory may have grown).
func (c *importCall) storeErr(e *wasiErr) error {
	p, n, err := c.lowerString(e.msg)
	if err != nil {
		return err
	}
	a, err := c.area()
	if err != nil {
		return err
	}
	cabi.PutString(gpuErrorT.SetCase(c.decl.result.SetCase(a, 1), uint32(e.kind)), p, n)
	return nil
}

// alloc allocates n bytes of alignment align in the guest through cabi_realloc and
// refreshes the memory view.
func (c *importCall) alloc(align, n uint32) (uint32, error) {
	r := C.off_gpu_realloc(c.ctx, c.w.c, C.int32_t(align), C.int32_t(n))
	if r.trap != nil {
		return 0, cTrap{r.trap}
	}
	c.mem = unsafe.Slice((*byte)(unsafe.Pointer(r.base)), int(r.size))
	p := uint32(r.ptr)
	if p%align != 0 || uint64(p)+uint64(n) > uint64(len(c.mem)) {
		return 0, trapf("cabi_realloc returned %d for %d bytes (align %d), outside linear memory of %d bytes", p, n, align, len(c.mem))
	}
	return p, nil
}

// lowerString allocates s in the guest and returns (ptr, len).
func (c *importCall) lowerString(s string) (uint32, uint32, error) {
	if len(s) == 0 {
		return 1, 0, nil // any aligned pointer for an empty string
	}
	p, err := c.alloc(1, uint32(len(s)))
	if err != nil {
		return 0, 0, err
	}
	copy(c.mem[p:], s)
	return p, uint32(len(s)), nil
}

// run runs the declared handler and lowers its outcome.
func (c *importCall) run() error {
	err := c.decl.fn(c)
	switch e := err.(type) {
	case nil:
		if c.decl.retArea && !c.stored {
			_, err = c.ok()
		}
		return err
	case *wasiErr:
		return c.storeErr(e)
	}
	return err
}

//export offWasiGpuImport
func offWasiGpuImport(handle C.uintptr_t, fn C.int32_t, base *C.uint8_t, size C.size_t,
	ctx *C.wasmtime_context_t, args *C.off_gw_val_raw_t, nargs C.size_t) (trap *C.wasm_trap_t) {
	var w *WasiGPUInstance
	var c *importCall
	defer func() {
		if c != nil {
			w.depth--
		}
		// No Go panic may unwind through wasmtime's frames: it becomes a trap.
		if p := recover(); p != nil {
			msg := fmt.Sprintf("wasi:gpu host panic in import %d: %v", int(fn), p)
			if w != nil {
				w.trap = msg
			}
			trap = newTrap(msg)
		}
	}()
	w, _ = cgo.Handle(handle).Value().(*WasiGPUInstance)
	if w == nil {
		return newTrap("wasi:gpu host: unknown instance")
	}
	w.goImports++
	if int(fn) < 0 || int(fn) >= len(wasiGPUImports) {
		return newTrap(fmt.Sprintf("wasi:gpu: unknown import %d", int(fn)))
	}
	// One importCall per nesting depth, kept in the instance: a call allocates nothing.
	if w.depth < len(w.calls) {
		c = &w.calls[w.depth]
	} else {
		c = new(importCall)
	}
	w.depth++
	*c = importCall{w: w, decl: &wasiGPUImports[int(fn)], ctx: ctx, args: unsafe.Slice(args, int(nargs))}
	if base != nil {
		c.mem = unsafe.Slice((*byte)(unsafe.Pointer(base)), int(size))
	}
	switch e := c.run().(type) {
	case nil:
		return nil
	case cTrap:
		return e.t
	case *trapError:
		w.trap = e.msg
		return newTrap(e.msg)
	default:
		w.trap = "wasi:gpu: " + e.Error()
		return newTrap(w.trap)
	}
}

// newTrap makes a wasmtime trap with message msg (wasmtime copies it).
func newTrap(msg string) *C.wasm_trap_t {
	cs := C.CString(msg)
	defer C.free(unsafe.Pointer(cs))
	return C.off_gpu_trap(cs, C.size_t(len(msg)))
}
