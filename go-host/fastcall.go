package offload

// The fast call path into wasmtime: wasmtime_func_call_unchecked from the wasmtime C
// API, linked from the libwasmtime.a that wasmtime-go ships (its package's cgo
// LDFLAGS put it on the link line). Arguments and results travel in a
// wasmtime_val_raw_t array allocated once per instance in C memory, so a call
// allocates nothing and passes no Go pointer to C.
//
// wasmtime-go's headers live in its module directory, which cgo cannot name, so the
// few declarations needed are repeated here; their layout is that of wasmtime 39
// (wasmtime/extern.h, val.h, func.h, memory.h, trap.h, error.h, config.h), and
// checkLayout compares their sizes with wasmtime-go's own types before any use, so a
// wasmtime-go upgrade that changes them fails with an error instead of misbehaving.

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint64_t store_id; void *private_; } off_wt_func_t;       // wasmtime_func_t
typedef struct { struct { uint64_t store_id; uint32_t p1; } s; uint32_t p2; } off_wt_memory_t; // wasmtime_memory_t (24 bytes)
typedef union { int32_t i32; int64_t i64; float f32; double f64; uint8_t v128[16]; void *funcref; } off_wt_val_raw_t; // wasmtime_val_raw_t
typedef struct { size_t size; char *data; } off_wasm_byte_vec_t;              // wasm_byte_vec_t

typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct wasm_trap_t wasm_trap_t;

extern wasmtime_error_t *wasmtime_func_call_unchecked(wasmtime_context_t *store, const off_wt_func_t *func,
	off_wt_val_raw_t *args_and_results, size_t args_and_results_len, wasm_trap_t **trap);
extern void wasm_trap_message(const wasm_trap_t *trap, off_wasm_byte_vec_t *out);
extern void wasm_trap_delete(wasm_trap_t *trap);
extern void wasmtime_error_message(const wasmtime_error_t *error, off_wasm_byte_vec_t *out);
extern void wasmtime_error_delete(wasmtime_error_t *error);
extern void wasm_byte_vec_delete(off_wasm_byte_vec_t *vec);
extern uint8_t *wasmtime_memory_data(const wasmtime_context_t *store, const off_wt_memory_t *memory);
extern size_t wasmtime_memory_data_size(const wasmtime_context_t *store, const off_wt_memory_t *memory);
typedef struct wasm_config_t wasm_config_t;
extern void wasmtime_config_memory_may_move_set(wasm_config_t *config, _Bool may_move);
extern void wasmtime_context_set_epoch_deadline(wasmtime_context_t *context, uint64_t ticks_beyond_current);
extern _Bool wasmtime_trap_code(const wasm_trap_t *trap, uint8_t *code);
#define OFF_TRAP_CODE_INTERRUPT 10 // WASMTIME_TRAP_CODE_INTERRUPT (wasmtime/trap.h)

#define OFF_MAX_FUNCS 16

// One instance's call state, in C memory.
typedef struct {
	wasmtime_context_t *ctx;
	off_wt_memory_t mem;
	off_wt_val_raw_t args[4];
	off_wt_func_t funcs[OFF_MAX_FUNCS]; // copies of the exported funcs' handles
	uint8_t *data;  // linear memory base (fixed: memory never moves)
	size_t size;    // linear memory size in bytes at creation (memory never shrinks)
	char *msg;      // malloc'd trap or error message after a failed call
	size_t msg_len;
	uint64_t ticks; // the deadline of each call, in epoch ticks (see deadline.go)
	int32_t rc;     // the outcome of the last off_call
} off_call_t;

static off_call_t *off_call_new(void) { return (off_call_t *)calloc(1, sizeof(off_call_t)); }

static void off_take_msg(off_call_t *c, off_wasm_byte_vec_t *v) {
	c->msg = (char *)malloc(v->size + 1);
	if (c->msg != NULL) {
		memcpy(c->msg, v->data, v->size);
		c->msg[v->size] = 0;
		c->msg_len = v->size;
	}
	wasm_byte_vec_delete(v);
}

// Calls f with c->args (nargs in, results written back from args[0]) under the
// deadline c->ticks. Returns 0 on success, 1 on a trap, 2 on another wasmtime error, 3
// on the epoch interrupt of the deadline. The memory view is not refreshed: engines made
// by this package never move linear memory.
static int off_call_rc(off_call_t *c, int fi, size_t nslots) {
	wasm_trap_t *trap = NULL;
	wasmtime_context_set_epoch_deadline(c->ctx, c->ticks);
	wasmtime_error_t *err = wasmtime_func_call_unchecked(c->ctx, &c->funcs[fi], c->args, nslots, &trap);
	if (err != NULL) {
		off_wasm_byte_vec_t v = {0, NULL};
		wasmtime_error_message(err, &v);
		off_take_msg(c, &v);
		wasmtime_error_delete(err);
		return 2;
	}
	if (trap != NULL) {
		uint8_t code = 0;
		int rc = wasmtime_trap_code(trap, &code) && code == OFF_TRAP_CODE_INTERRUPT ? 3 : 1;
		off_wasm_byte_vec_t v = {0, NULL};
		wasm_trap_message(trap, &v);
		off_take_msg(c, &v);
		wasm_trap_delete(trap);
		return rc;
	}
	return 0;
}

// off_call is off_call_rc as the Go side calls it, its outcome left in c->rc. Both
// shapes are for cgo's per-call costs (together about 5 ns of a 60 ns empty call on a
// 2-core VM): cp is the off_call_t passed as an integer, since cgo checks every pointer
// argument for Go pointers and this one is C memory; and a function with no result
// skips the stack-move fix-up cgo makes around one with a result.
static void off_call(uintptr_t cp, int fi, size_t nslots) {
	off_call_t *c = (off_call_t *)cp;
	c->rc = off_call_rc(c, fi, nslots);
}

#define OFF_MAX_BATCH 256 // vecabi.MaxBatch

// One batch of calls (vecabi.BatchCall) in C memory, filled by the Go side.
typedef struct {
	int32_t fi[OFF_MAX_BATCH];    // the registered function of each call
	int32_t nargs[OFF_MAX_BATCH]; // 0: (), 1: (n), 2: (scalar, n)
	double scalar[OFF_MAX_BATCH];
	int32_t n[OFF_MAX_BATCH];
	uint64_t out[OFF_MAX_BATCH];  // each call's result slot, raw
	int32_t count;                // the calls to run
	int32_t done;                 // the calls that returned
} off_batch_t;

static off_batch_t *off_batch_new(void) { return (off_batch_t *)calloc(1, sizeof(off_batch_t)); }

// off_call_batch runs b's calls in order, each as off_call would (its own deadline),
// in one crossing from Go; it stops at the first that fails, leaving its outcome in
// c->rc and the number that returned in b->done. Integers for pointers, no result: as
// off_call.
static void off_call_batch(uintptr_t cp, uintptr_t bp) {
	off_call_t *c = (off_call_t *)cp;
	off_batch_t *b = (off_batch_t *)bp;
	c->rc = 0;
	b->done = 0;
	for (int32_t i = 0; i < b->count; i++) {
		size_t slots = 1;
		if (b->nargs[i] == 1) {
			c->args[0].i32 = b->n[i];
		} else if (b->nargs[i] == 2) {
			c->args[0].f64 = b->scalar[i];
			c->args[1].i32 = b->n[i];
			slots = 2;
		}
		c->rc = off_call_rc(c, b->fi[i], slots);
		if (c->rc != 0) {
			return;
		}
		memcpy(&b->out[i], &c->args[0], sizeof(uint64_t));
		b->done = i + 1;
	}
}

static void off_refresh(off_call_t *c) {
	c->data = wasmtime_memory_data(c->ctx, &c->mem);
	c->size = wasmtime_memory_data_size(c->ctx, &c->mem);
}
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Sizes of the C API values wasmtime-go wraps; checked at init against its types.
const (
	sizeofWtFunc   = C.sizeof_off_wt_func_t
	sizeofWtMemory = C.sizeof_off_wt_memory_t
)

// fastCaller holds one instance's C-side call state.
type fastCaller struct {
	c      *C.off_call_t
	b      *C.off_batch_t // a batch's calls, allocated by the first callBatch
	nfuncs int
}

// register copies the wasmtime_func_t inside a wasmtime-go Func (its only field)
// into C memory and returns its index for call. Only C pointers then cross the
// boundary on a call, so cgo's pointer check has nothing to inspect.
func (f *fastCaller) register(fn *wasmtime.Func) (int, error) {
	if f.nfuncs == C.OFF_MAX_FUNCS {
		return 0, fmt.Errorf("fast path: more than %d functions", C.OFF_MAX_FUNCS)
	}
	i := f.nfuncs
	f.c.funcs[i] = *(*C.off_wt_func_t)(unsafe.Pointer(fn))
	f.nfuncs++
	return i, nil
}

func checkLayout() error {
	if s := unsafe.Sizeof(wasmtime.Func{}); s != sizeofWtFunc {
		return fmt.Errorf("wasmtime-go Func is %d bytes, the fast path expects wasmtime_func_t of %d", s, sizeofWtFunc)
	}
	if s, p := unsafe.Sizeof(wasmtime.Config{}), unsafe.Sizeof(uintptr(0)); s != p {
		return fmt.Errorf("wasmtime-go Config is %d bytes, expected one wasm_config_t pointer (%d)", s, p)
	}
	if s := unsafe.Sizeof(wasmtime.Memory{}); s != sizeofWtMemory {
		return fmt.Errorf("wasmtime-go Memory is %d bytes, the fast path expects wasmtime_memory_t of %d", s, sizeofWtMemory)
	}
	return nil
}

// newFastCaller allocates the C call state for one store and its exported memory; each
// call runs under a deadline of ticks epoch ticks (deadlineTicks). The caller must keep
// store and mem alive and call free when done.
func newFastCaller(store *wasmtime.Store, mem *wasmtime.Memory, ticks uint64) (*fastCaller, error) {
	if err := checkLayout(); err != nil {
		return nil, err
	}
	c := C.off_call_new()
	if c == nil {
		return nil, fmt.Errorf("fast path: out of C memory")
	}
	c.ctx = (*C.wasmtime_context_t)(unsafe.Pointer(store.Context()))
	c.mem = *(*C.off_wt_memory_t)(unsafe.Pointer(mem))
	c.ticks = C.uint64_t(ticks)
	C.off_refresh(c)
	return &fastCaller{c: c}, nil
}

// setTicks sets the deadline of later calls, in epoch ticks.
func (f *fastCaller) setTicks(ticks uint64) { f.c.ticks = C.uint64_t(ticks) }

// setMemoryMayMove is wasmtime_config_memory_may_move_set, which wasmtime-go does not
// wrap (its Config holds only its *wasm_config_t, checked by checkLayout).
func setMemoryMayMove(cfg *wasmtime.Config, may bool) {
	C.wasmtime_config_memory_may_move_set(*(**C.wasm_config_t)(unsafe.Pointer(cfg)), C._Bool(may))
}

func (f *fastCaller) free() {
	if f.c != nil {
		C.free(unsafe.Pointer(f.c))
		f.c = nil
	}
	if f.b != nil {
		C.free(unsafe.Pointer(f.b))
		f.b = nil
	}
}

// memory is the linear memory as it was at creation, as a Go view of C memory. It
// stays valid across calls: the engine is configured with memory_may_move = false
// (see guestEngine), so a grow never moves the base, and memory never shrinks; the
// guest's buffers were checked to lie inside it.
func (f *fastCaller) memory() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(f.c.data)), int(f.c.size))
}

// call runs the registered function fi with nslots raw slots (max(params,
// results)); the arguments must be in place. A trap or error comes back as
// *TrapError; an interrupt at the deadline as one with Deadline set to d.
func (f *fastCaller) call(fi int, export string, nslots int, d time.Duration) error {
	C.off_call(C.uintptr_t(uintptr(unsafe.Pointer(f.c))), C.int(fi), C.size_t(nslots))
	return f.outcome(export, d)
}

// batchCall is one call of callBatch: the registered function fi with nargs arguments,
// () (0), (n) (1) or (scalar, n) (2).
type batchCall struct {
	fi, nargs int
	scalar    float64
	n         int32
}

// callBatch runs calls (at most maxBatch) in order in one cgo call, each under the
// deadline d as call does, writing each call's result slot (raw bits) to out[i]. It
// returns how many calls returned and, when not all did, the failed call's error as
// call's (export names it).
func (f *fastCaller) callBatch(calls []batchCall, out []uint64, export func(i int) string, d time.Duration) (int, error) {
	if len(calls) > maxBatch || len(out) < len(calls) {
		return 0, fmt.Errorf("fast path: a batch of %d calls (%d result slots; at most %d calls)", len(calls), len(out), maxBatch)
	}
	if f.b == nil {
		if f.b = C.off_batch_new(); f.b == nil {
			return 0, fmt.Errorf("fast path: out of C memory")
		}
	}
	for i, c := range calls {
		f.b.fi[i], f.b.nargs[i] = C.int32_t(c.fi), C.int32_t(c.nargs)
		f.b.scalar[i], f.b.n[i] = C.double(c.scalar), C.int32_t(c.n)
	}
	f.b.count = C.int32_t(len(calls))
	C.off_call_batch(C.uintptr_t(uintptr(unsafe.Pointer(f.c))), C.uintptr_t(uintptr(unsafe.Pointer(f.b))))
	done := int(f.b.done)
	for i := range done {
		out[i] = uint64(f.b.out[i])
	}
	if done == len(calls) {
		return done, nil
	}
	return done, f.outcome(export(done), d)
}

// maxBatch is the most calls of one callBatch.
const maxBatch = C.OFF_MAX_BATCH

// outcome is the error of the last off_call or off_call_batch (nil when it succeeded):
// a trap or error as *TrapError of export, an interrupt at the deadline as one with
// Deadline set to d. It frees the C message.
func (f *fastCaller) outcome(export string, d time.Duration) error {
	rc := f.c.rc
	if rc == 0 {
		return nil
	}
	msg := "(no message)"
	if f.c.msg != nil {
		msg = C.GoStringN(f.c.msg, C.int(f.c.msg_len))
		C.free(unsafe.Pointer(f.c.msg))
		f.c.msg = nil
	}
	if rc == 3 {
		return deadlineTrap(export, wasmtimeInterrupt, d)
	}
	return &TrapError{Export: export, Msg: msg}
}

func (f *fastCaller) setI32(slot int, v int32) {
	*(*int32)(unsafe.Pointer(&f.c.args[slot])) = v
}

func (f *fastCaller) setF64(slot int, v float64) {
	*(*float64)(unsafe.Pointer(&f.c.args[slot])) = v
}

func (f *fastCaller) i32(slot int) int32 {
	return *(*int32)(unsafe.Pointer(&f.c.args[slot]))
}

func (f *fastCaller) f64(slot int) float64 {
	return *(*float64)(unsafe.Pointer(&f.c.args[slot]))
}
