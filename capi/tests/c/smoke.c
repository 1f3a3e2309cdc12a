/* Calls every function of offload.h and checks results and error codes; runs one GPU
 * kernel of each kind on "cpu", and on "wgpu" when it starts (else prints why).
 * Built and run by tests/c_program.rs; prints "N checks passed" on success. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "offload.h"

static int checks = 0, failures = 0;

#define CHECK(cond)                                                        \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", \
                    __FILE__, __LINE__, #cond, offload_last_error());      \
        }                                                                  \
    } while (0)

static int near(double got, double want) { return fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want)); }

/* One kernel of each kind, transfers and bad input on one device. */
static void gpu_device(OffloadGpuDevice d) {
    OffloadGpuDeviceInfo info;
    CHECK(offload_gpu_info(d, &info) == OFFLOAD_OK && strlen(info.name) > 0);
    printf("gpu %s: %s (%s), f64 %d\n", info.backend == OFFLOAD_GPU_BACKEND_CPU ? "cpu" : info.backend == OFFLOAD_GPU_BACKEND_WGPU ? "wgpu" : "cuda",
           info.name, info.driver, (int)info.supports_f64);

    float a[6] = {1, -2, 3, 4, 0.5f, -1}, b[6] = {2, 1, 0.5f, -1, 4, 3}, c[6];
    OffloadGpuBuffer ba = 0, bb = 0, bc = 0;
    uint64_t size = 0;
    double v = 0;
    CHECK(offload_gpu_buffer_create(d, sizeof a, &ba) == OFFLOAD_OK && ba != 0);
    CHECK(offload_gpu_buffer_create(d, sizeof b, &bb) == OFFLOAD_OK);
    CHECK(offload_gpu_buffer_create(d, sizeof c, &bc) == OFFLOAD_OK);
    CHECK(offload_gpu_buffer_size(d, ba, &size) == OFFLOAD_OK && size == sizeof a);
    CHECK(offload_gpu_buffer_write(d, ba, 0, a, sizeof a) == OFFLOAD_OK);
    CHECK(offload_gpu_buffer_write(d, bb, 0, b, sizeof b) == OFFLOAD_OK);

    CHECK(offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_SUM, OFFLOAD_GPU_F32, ba, 6, &v) == OFFLOAD_OK && v == 5.5);
    CHECK(offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_MAX, OFFLOAD_GPU_F32, ba, 6, &v) == OFFLOAD_OK && v == 4.0);
    CHECK(offload_gpu_dot(d, OFFLOAD_GPU_F32, ba, bb, 6, &v) == OFFLOAD_OK && v == 2 - 2 + 1.5 - 4 + 2 - 3);
    CHECK(offload_gpu_elementwise(d, OFFLOAD_GPU_EW_MUL, OFFLOAD_GPU_F32, ba, bb, 0, bc, 6) == OFFLOAD_OK);
    CHECK(offload_gpu_buffer_read(d, bc, 0, c, sizeof c) == OFFLOAD_OK && c[0] == 2 && c[5] == -3);
    CHECK(offload_gpu_elementwise(d, OFFLOAD_GPU_EW_SCALE, OFFLOAD_GPU_F32, ba, 0, 2.0, bc, 6) == OFFLOAD_OK);
    CHECK(offload_gpu_sync(d) == OFFLOAD_OK);
    CHECK(offload_gpu_buffer_read(d, bc, 0, c, sizeof c) == OFFLOAD_OK && c[1] == -4 && c[4] == 1);
    /* A (2x3) . B (3x2) = C (2x2). */
    CHECK(offload_gpu_matmul(d, OFFLOAD_GPU_MATMUL_FP32, ba, bb, bc, 2, 3, 2) == OFFLOAD_OK);
    CHECK(offload_gpu_buffer_read(d, bc, 0, c, 4 * sizeof(float)) == OFFLOAD_OK);
    CHECK(c[0] == 1 * 2 - 2 * 0.5f + 3 * 4 && c[3] == 4 * 1 + 0.5f * -1 - 1 * 3);
    CHECK(offload_gpu_buffer_copy(d, ba, 0, bc, 8, 8) == OFFLOAD_OK);
    CHECK(offload_gpu_buffer_read(d, bc, 8, c, 8) == OFFLOAD_OK && c[0] == 1 && c[1] == -2);

    /* Bad input: errors, and the device stays usable. */
    CHECK(offload_gpu_buffer_write(d, ba, 20, a, 8) == OFFLOAD_GPU_ERR_OUT_OF_BOUNDS);
    CHECK(strstr(offload_last_error(), "out of bounds") != NULL);
    CHECK(offload_gpu_buffer_read(d, 999, 0, c, 4) == OFFLOAD_GPU_ERR_INVALID_HANDLE);
    CHECK(offload_gpu_buffer_create(d, 0, &bc) == OFFLOAD_GPU_ERR_ZERO_SIZE);
    CHECK(offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_SUM, OFFLOAD_GPU_F32, ba, 7, &v) == OFFLOAD_GPU_ERR_SHAPE_MISMATCH);
    CHECK(offload_gpu_matmul(d, OFFLOAD_GPU_MATMUL_FP32, ba, bb, ba, 1, 1, 1) == OFFLOAD_GPU_ERR_SHAPE_MISMATCH);
    CHECK(offload_gpu_buffer_destroy(d, bb) == OFFLOAD_OK);
    CHECK(offload_gpu_dot(d, OFFLOAD_GPU_F32, ba, bb, 6, &v) == OFFLOAD_GPU_ERR_INVALID_HANDLE);
    CHECK(offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_MIN, OFFLOAD_GPU_F32, ba, 6, &v) == OFFLOAD_OK && v == -2.0);
}

static void gpu_checks(void) {
    OffloadGpuProbe probes[3];
    size_t n = 0;
    CHECK(offload_gpu_probe(probes, 3, &n) == OFFLOAD_OK && n == 3 && probes[0].available);

    OffloadGpuDevice d = 0;
    CHECK(offload_gpu_open("cpu", &d) == OFFLOAD_OK && d != 0);
    gpu_device(d);
    CHECK(offload_gpu_close(d) == OFFLOAD_OK);
    CHECK(offload_gpu_sync(d) == OFFLOAD_GPU_ERR_INVALID_DEVICE);
    CHECK(offload_gpu_close(0) == OFFLOAD_GPU_ERR_INVALID_DEVICE);
    /* ML kernels: argument checks made before the backend is reached. */
    OffloadGpuSplitArgs split = {0};
    OffloadGpuForest forest = {0};
    CHECK(offload_gpu_find_split(d, NULL) == OFFLOAD_ERR_NULL_POINTER);
    CHECK(offload_gpu_find_split(d, &split) == OFFLOAD_GPU_ERR_INVALID_DEVICE);
    CHECK(offload_gpu_batch_predict(d, OFFLOAD_GPU_F32, NULL, 1, 1, 1) == OFFLOAD_ERR_NULL_POINTER);
    CHECK(offload_gpu_batch_predict(d, OFFLOAD_GPU_F32, &forest, 1, 1, 1) == OFFLOAD_GPU_ERR_INVALID_DEVICE);
    CHECK(offload_gpu_average(d, 7, 1, 1, 1, 1) == OFFLOAD_GPU_ERR_INVALID_ARGUMENT);
    CHECK(offload_gpu_average(d, OFFLOAD_GPU_F64, 1, 1, 1, 1) == OFFLOAD_GPU_ERR_INVALID_DEVICE);
    CHECK(offload_gpu_bootstrap_sample(d, 1, 0, 1, 1, 1) == OFFLOAD_GPU_ERR_INVALID_DEVICE);
    CHECK(sizeof(OffloadGpuSplitRecord) == 24);
    CHECK(offload_gpu_open("tpu", &d) == OFFLOAD_GPU_ERR_INVALID_ARGUMENT);
    CHECK(offload_gpu_open(NULL, &d) == OFFLOAD_ERR_NULL_POINTER);

    int rc = offload_gpu_open("wgpu", &d);
    if (rc == OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE) {
        printf("gpu wgpu: skipped: %s\n", offload_last_error());
    } else {
        CHECK(rc == OFFLOAD_OK);
        if (rc == OFFLOAD_OK) {
            gpu_device(d);
            CHECK(offload_gpu_close(d) == OFFLOAD_OK);
        }
    }
}

int main(void) {
    double a[10], b[10], out[10], v = 0;
    double sum = 0, dot = 0;
    for (int i = 0; i < 10; i++) {
        a[i] = 0.5 * i - 1.0;
        b[i] = 2.0 - 0.25 * i;
        sum += a[i];
        dot += a[i] * b[i];
    }

    CHECK(offload_sum(a, 10, &v) == OFFLOAD_OK && v == sum);
    CHECK(strcmp(offload_last_error(), "") == 0);
    CHECK(offload_sum_simd(a, 10, &v) == OFFLOAD_OK && near(v, sum));
    CHECK(offload_dot(a, 10, b, 10, &v) == OFFLOAD_OK && v == dot);
    CHECK(offload_dot_simd(a, 10, b, 10, &v) == OFFLOAD_OK && near(v, dot));
    CHECK(offload_mul(a, 10, b, 10, out, 10) == OFFLOAD_OK && out[3] == a[3] * b[3] && out[9] == a[9] * b[9]);
    CHECK(offload_scale(3.0, a, 10, out, 10) == OFFLOAD_OK && out[7] == 3.0 * a[7]);

    /* All cores: sum/dot fast (tolerance), mul/scale the same bits as one thread. Past
     * one 32 Ki-element chunk so that the work is really split. */
    {
        enum { N = 100003 };
        static double pa[N], pb[N], po[N], po1[N];
        double ps = 0, pd = 0, mag = 0;
        for (int i = 0; i < N; i++) {
            pa[i] = (double)((i * 37) % 101) / 7.0 - 7.0;
            pb[i] = (double)((i * 13) % 53) / 5.0 - 5.0;
            ps += pa[i];
            pd += pa[i] * pb[i];
            mag += fabs(pa[i] * pb[i]) + fabs(pa[i]);
        }
        CHECK(offload_par_threads() >= 1);
        CHECK(offload_sum_par(pa, N, &v) == OFFLOAD_OK && fabs(v - ps) <= 1e-12 * mag);
        CHECK(offload_dot_par(pa, N, pb, N, &v) == OFFLOAD_OK && fabs(v - pd) <= 1e-12 * mag);
        CHECK(offload_sum_par(a, 10, &v) == OFFLOAD_OK && near(v, sum));
        CHECK(offload_dot_par(a, 10, b, 10, &v) == OFFLOAD_OK && near(v, dot));
        CHECK(offload_mul(pa, N, pb, N, po1, N) == OFFLOAD_OK);
        CHECK(offload_mul_par(pa, N, pb, N, po, N) == OFFLOAD_OK && memcmp(po, po1, sizeof po) == 0);
        CHECK(offload_scale(-1.5, pa, N, po1, N) == OFFLOAD_OK);
        CHECK(offload_scale_par(-1.5, pa, N, po, N) == OFFLOAD_OK && memcmp(po, po1, sizeof po) == 0);
        CHECK(offload_scale_par(2.0, po, N, po, N) == OFFLOAD_OK && po[N - 1] == 2.0 * po1[N - 1]);
        CHECK(offload_sum_par(NULL, 0, &v) == OFFLOAD_OK && v == 0.0);
        CHECK(offload_sum_par(NULL, 3, &v) == OFFLOAD_ERR_NULL_POINTER);
        CHECK(offload_dot_par(pa, N, pb, N - 1, &v) == OFFLOAD_ERR_LENGTH_MISMATCH);
        CHECK(offload_mul_par(pa, 10, pb, 10, po, 9) == OFFLOAD_ERR_LENGTH_MISMATCH);
        CHECK(offload_scale_par(2.0, po, 5, po + 1, 5) == OFFLOAD_ERR_OVERLAP);
        CHECK(offload_dot_par(pa, (size_t)-1, pb, (size_t)-1, &v) == OFFLOAD_ERR_TOO_LARGE);
        pa[N / 2] = NAN;
        CHECK(offload_sum_par(pa, N, &v) == OFFLOAD_OK && isnan(v));
        CHECK(offload_dot_par(pa, N, pb, N, &v) == OFFLOAD_OK && isnan(v));
    }

    /* Empty arrays may be NULL. */
    v = 1;
    CHECK(offload_sum(NULL, 0, &v) == OFFLOAD_OK && v == 0.0);
    CHECK(offload_dot(NULL, 0, NULL, 0, &v) == OFFLOAD_OK && v == 0.0);

    /* Errors: codes and messages. */
    CHECK(offload_sum(NULL, 3, &v) == OFFLOAD_ERR_NULL_POINTER);
    CHECK(strstr(offload_last_error(), "null") != NULL);
    CHECK(offload_sum(a, 10, NULL) == OFFLOAD_ERR_NULL_POINTER);
    CHECK(offload_dot(a, 10, b, 9, &v) == OFFLOAD_ERR_LENGTH_MISMATCH);
    CHECK(strstr(offload_last_error(), "9") != NULL);
    CHECK(offload_mul(a, 10, b, 10, out, 9) == OFFLOAD_ERR_LENGTH_MISMATCH);
    CHECK(offload_scale(2.0, a, 5, a + 1, 5) == OFFLOAD_ERR_OVERLAP);
    CHECK(offload_sum_simd(a, (size_t)-1, &v) == OFFLOAD_ERR_TOO_LARGE);
    CHECK(offload_dot_simd(a, 10, NULL, 10, &v) == OFFLOAD_ERR_NULL_POINTER);

    /* In place, and NaN propagation. */
    CHECK(offload_scale(2.0, out, 10, out, 10) == OFFLOAD_OK && out[7] == 6.0 * a[7]);
    a[4] = NAN;
    CHECK(offload_sum(a, 10, &v) == OFFLOAD_OK && isnan(v));

    CHECK(strlen(offload_simd_level()) > 0);
    CHECK(strlen(offload_version()) > 0);

    gpu_checks();

    if (failures) {
        fprintf(stderr, "%d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("%d checks passed (simd: %s, version %s)\n", checks, offload_simd_level(), offload_version());
    return 0;
}
