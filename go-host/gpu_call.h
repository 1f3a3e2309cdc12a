/* The one cgo helper of the GPU wrapper files (gpu.go, gpu_buffer.go, gpu_kernels.go,
 * gpu_ml.go): each file's preamble is compiled on its own, so they share it here.
 *
 * off_g packs one capi call's status and, on failure, a copy of the thread-local
 * message into a single result, so that a call and its message are read in one cgo call
 * (a goroutine may change OS threads between two cgo calls). u and f carry the call's
 * scalar result; msg is malloc'ed (the Go side frees it). */
#ifndef OFFLOAD_GPU_CALL_H
#define OFFLOAD_GPU_CALL_H
#include <stdlib.h>
#include <string.h>
#include "offload.h"

typedef struct { int32_t rc; uint64_t u; double f; char *msg; } off_gres;

static inline off_gres off_g(int32_t rc, uint64_t u, double f) {
	off_gres r = { rc, u, f, NULL };
	if (rc != OFFLOAD_OK) r.msg = strdup(offload_last_error());
	return r;
}
#endif
