// C side of the wasi:gpu host: the unchecked import trampoline that hands each import
// call to Go (offWasiGpuImport in wasigpu.go) with the caller's linear memory, and the
// cabi_realloc call the host makes to return lists and strings. See wasigpu_shim.h.

#include <stdlib.h>
#include <string.h>
#include "offload.h"
#include "wasigpu_shim.h"
#include "_cgo_export.h"

typedef struct wasm_valtype_t wasm_valtype_t;
typedef struct wasm_functype_t wasm_functype_t;
typedef struct wasmtime_error wasmtime_error_t;
typedef struct { size_t size; wasm_valtype_t **data; } off_gw_valtype_vec_t; /* wasm_valtype_vec_t */
typedef struct { size_t size; char *data; } off_gw_byte_vec_t;               /* wasm_byte_vec_t */
typedef wasm_trap_t *(*off_gw_unchecked_cb)(void *env, wasmtime_caller_t *caller,
                                            off_gw_val_raw_t *args_and_results, size_t n);

extern wasm_valtype_t *wasm_valtype_new(uint8_t kind);
extern void wasm_valtype_vec_new(off_gw_valtype_vec_t *out, size_t n, wasm_valtype_t *const data[]);
extern wasm_functype_t *wasm_functype_new(off_gw_valtype_vec_t *params, off_gw_valtype_vec_t *results);
extern void wasm_functype_delete(wasm_functype_t *);
extern void wasmtime_func_new_unchecked(wasmtime_context_t *store, const wasm_functype_t *type,
                                        off_gw_unchecked_cb callback, void *env,
                                        void (*finalizer)(void *), off_gw_func_t *ret);
extern wasmtime_context_t *wasmtime_caller_context(wasmtime_caller_t *caller);
extern uint8_t *wasmtime_memory_data(const wasmtime_context_t *store, const off_gw_memory_t *memory);
extern size_t wasmtime_memory_data_size(const wasmtime_context_t *store, const off_gw_memory_t *memory);
extern wasmtime_error_t *wasmtime_func_call_unchecked(wasmtime_context_t *store, const off_gw_func_t *func,
                                                      off_gw_val_raw_t *args_and_results, size_t n,
                                                      wasm_trap_t **trap);
extern void wasmtime_error_message(const wasmtime_error_t *error, off_gw_byte_vec_t *out);
extern void wasmtime_error_delete(wasmtime_error_t *error);
extern void wasm_byte_vec_delete(off_gw_byte_vec_t *vec);
extern wasm_trap_t *wasmtime_trap_new(const char *msg, size_t msg_len);

off_gpu_inst_t *off_gpu_inst_new(uintptr_t handle) {
	off_gpu_inst_t *in = (off_gpu_inst_t *)calloc(1, sizeof(off_gpu_inst_t));
	if (in == NULL) return NULL;
	in->handle = handle;
	in->write_fn = -1;
	for (int i = 0; i < OFF_GPU_MAX_IMPORTS; i++) {
		in->envs[i].inst = in;
		in->envs[i].fn = i;
	}
	return in;
}

void off_gpu_inst_free(off_gpu_inst_t *in) { free(in); }

wasm_trap_t *off_gpu_trap(const char *msg, size_t len) { return wasmtime_trap_new(msg, len); }

// off_gpu_fast_write runs buffer-write(handle, offset, list<u8>) -> result<_, gpu-error>
// without entering Go, when the call is certain to succeed: the handle is in the
// instance's cache (so the instance owns it), the data is non-empty and lies inside
// both linear memory and the buffer, the return area is aligned and inside memory, and
// the device accepts the write; it then stores ok and returns 1. Anything else returns
// 0 having changed nothing but, when the device refused, the buffer bytes it was asked
// to write: the caller then runs the Go import (wasigpu_imports.go, hostBufferWrite),
// which makes every check again in its own order, writes the same bytes and reports the
// trap or the gpu-error.
static int off_gpu_fast_write(off_gpu_inst_t *in, uint8_t *base, size_t size,
                              const off_gw_val_raw_t *a, size_t n) {
	if (n != 5 || base == NULL) return 0;
	uint32_t h = (uint32_t)a[0].i32;
	const off_gpu_slot_t *s = &in->cache[h & (OFF_GPU_CACHE_SLOTS - 1)];
	if (h == 0 || s->handle != h) return 0;
	uint64_t off = (uint64_t)a[1].i64;
	uint64_t p = (uint32_t)a[2].i32, len = (uint32_t)a[3].i32, ret = (uint32_t)a[4].i32;
	if (len == 0 || off > s->bytes || len > s->bytes - off) return 0;
	if (p + len > size) return 0;
	if (ret % in->write_area_align != 0 || ret + in->write_area_size > size) return 0;
	if (offload_gpu_buffer_write(in->device, s->id, off, base + p, (size_t)len) != OFFLOAD_OK) return 0;
	memset(base + ret, 0, in->write_disc); // the ok case; unit payload
	return 1;
}

// Every wasi:gpu import lands here: the caller's memory is looked up (the base may
// change when memory grows); buffer-write tries the C fast path, and every other call
// (or a buffer-write it declines) goes to Go.
static wasm_trap_t *off_gpu_trampoline(void *env, wasmtime_caller_t *caller,
                                       off_gw_val_raw_t *args, size_t n) {
	off_gpu_env_t *e = (off_gpu_env_t *)env;
	wasmtime_context_t *ctx = wasmtime_caller_context(caller);
	uint8_t *base = NULL;
	size_t size = 0;
	if (e->inst->has_mem) {
		base = wasmtime_memory_data(ctx, &e->inst->mem);
		size = wasmtime_memory_data_size(ctx, &e->inst->mem);
	}
	if (e->fn == e->inst->write_fn && off_gpu_fast_write(e->inst, base, size, args, n)) return NULL;
	return offWasiGpuImport(e->inst->handle, e->fn, base, size, ctx, args, n);
}

int off_gpu_func_new(wasmtime_context_t *ctx, off_gpu_inst_t *in, int32_t fn,
                     const uint8_t *params, size_t nparams, const uint8_t *results,
                     size_t nresults, off_gw_func_t *out) {
	if (fn < 0 || fn >= OFF_GPU_MAX_IMPORTS || nparams > 32 || nresults > 32) return 1;
	wasm_valtype_t *p[32], *r[32];
	for (size_t i = 0; i < nparams; i++) p[i] = wasm_valtype_new(params[i]);
	for (size_t i = 0; i < nresults; i++) r[i] = wasm_valtype_new(results[i]);
	off_gw_valtype_vec_t pv, rv;
	wasm_valtype_vec_new(&pv, nparams, p);
	wasm_valtype_vec_new(&rv, nresults, r);
	wasm_functype_t *ty = wasm_functype_new(&pv, &rv);
	wasmtime_func_new_unchecked(ctx, ty, off_gpu_trampoline, &in->envs[fn], NULL, out);
	wasm_functype_delete(ty);
	return 0;
}

off_gpu_alloc_t off_gpu_realloc(wasmtime_context_t *ctx, off_gpu_inst_t *in, int32_t align, int32_t size) {
	off_gpu_alloc_t r = {NULL, 0, NULL, 0};
	if (!in->has_realloc || !in->has_mem) {
		static const char msg[] = "wasi:gpu host: the guest exports no cabi_realloc or memory";
		r.trap = wasmtime_trap_new(msg, sizeof msg - 1);
		return r;
	}
	off_gw_val_raw_t a[4];
	memset(a, 0, sizeof a);
	a[0].i32 = 0;     // original pointer
	a[1].i32 = 0;     // original size
	a[2].i32 = align;
	a[3].i32 = size;
	wasm_trap_t *trap = NULL;
	wasmtime_error_t *err = wasmtime_func_call_unchecked(ctx, &in->realloc, a, 4, &trap);
	if (err != NULL) {
		off_gw_byte_vec_t v = {0, NULL};
		wasmtime_error_message(err, &v);
		r.trap = wasmtime_trap_new(v.data, v.size);
		wasm_byte_vec_delete(&v);
		wasmtime_error_delete(err);
		return r;
	}
	if (trap != NULL) {
		r.trap = trap;
		return r;
	}
	r.ptr = a[0].i32;
	r.base = wasmtime_memory_data(ctx, &in->mem);
	r.size = wasmtime_memory_data_size(ctx, &in->mem);
	return r;
}
