/* Calls every function of offload.h and checks results and error codes.
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

    if (failures) {
        fprintf(stderr, "%d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("%d checks passed (simd: %s, version %s)\n", checks, offload_simd_level(), offload_version());
    return 0;
}
