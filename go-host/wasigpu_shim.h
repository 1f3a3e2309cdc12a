/* C side of the wasi:gpu host (wasigpu.go): wasmtime C API declarations (layouts of
 * wasmtime 39, as in fastcall.go; wasmtime-go's own headers are not reachable from cgo)
 * and the per-instance state the import trampoline reads. */
#ifndef OFFLOAD_WASIGPU_SHIM_H
#define OFFLOAD_WASIGPU_SHIM_H
#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t store_id; void *private_; } off_gw_func_t;       /* wasmtime_func_t */
typedef struct { struct { uint64_t store_id; uint32_t p1; } s; uint32_t p2; } off_gw_memory_t; /* wasmtime_memory_t */
typedef union { int32_t i32; int64_t i64; float f32; double f64; uint8_t v128[16]; void *ref; } off_gw_val_raw_t; /* wasmtime_val_raw_t */

typedef struct wasmtime_context wasmtime_context_t;
typedef struct wasmtime_caller wasmtime_caller_t;
typedef struct wasm_trap_t wasm_trap_t;

/* Most imports of one instance (the two wasi:gpu interfaces have 15). */
#define OFF_GPU_MAX_IMPORTS 32

struct off_gpu_inst;
/* The env pointer of one import function: its instance and its index in the Go table. */
typedef struct { struct off_gpu_inst *inst; int32_t fn; } off_gpu_env_t;

/* Slots of an instance's handle cache (a power of two). */
#define OFF_GPU_CACHE_SLOTS 256

/* One live buffer of the instance's handle table, mirrored for the C fast path:
 * handle 0 marks an empty slot. */
typedef struct { uint32_t handle; uint64_t id; uint64_t bytes; } off_gpu_slot_t;

/* One instance's C state, allocated by off_gpu_inst_new and freed by off_gpu_inst_free
 * after the instance's store is closed. */
typedef struct off_gpu_inst {
	uintptr_t handle;          /* cgo.Handle of the Go *WasiGPUInstance */
	int32_t has_mem;           /* mem is set (after instantiation) */
	int32_t has_realloc;       /* realloc is set */
	off_gw_memory_t mem;       /* the exported linear memory */
	off_gw_func_t realloc;     /* the exported cabi_realloc */
	off_gpu_env_t envs[OFF_GPU_MAX_IMPORTS];
	/* The buffer-write fast path (off_gpu_fast_write in wasigpu_shim.c): the import's
	 * index (-1: none), the device, the return area's size, alignment and
	 * discriminant bytes, and a direct-mapped cache of the Go handle table
	 * (slot handle & (OFF_GPU_CACHE_SLOTS-1)) holding only live handles: the Go side
	 * fills a slot when it creates a buffer and clears it when it drops one. */
	int32_t write_fn;
	uint64_t device;
	uint32_t write_area_size, write_area_align, write_disc;
	off_gpu_slot_t cache[OFF_GPU_CACHE_SLOTS];
} off_gpu_inst_t;

/* Result of a cabi_realloc call made from inside an import: the trap (owned by the
 * caller, to be returned from the import) or the new pointer and the memory view. */
typedef struct { wasm_trap_t *trap; int32_t ptr; uint8_t *base; size_t size; } off_gpu_alloc_t;

off_gpu_inst_t *off_gpu_inst_new(uintptr_t handle);
void off_gpu_inst_free(off_gpu_inst_t *in);
/* Creates host function `fn` of instance `in` in the store of `ctx` with core type
 * (params, results) (bytes: 0 = i32, 1 = i64, 2 = f32, 3 = f64); 0 on success. */
int off_gpu_func_new(wasmtime_context_t *ctx, off_gpu_inst_t *in, int32_t fn,
                     const uint8_t *params, size_t nparams, const uint8_t *results,
                     size_t nresults, off_gw_func_t *out);
off_gpu_alloc_t off_gpu_realloc(wasmtime_context_t *ctx, off_gpu_inst_t *in, int32_t align, int32_t size);
wasm_trap_t *off_gpu_trap(const char *msg, size_t len);
#endif
