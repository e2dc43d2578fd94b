// matmul: n x n float matrices in flat row-major arrays, c = a * b with the
// i-k-j loop order. Prints int(c[n/2][n/2] * 1e9) and int(sum(c) * 1e6).
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

// tj's int(x): truncate toward zero, saturate, NaN -> 0.
#include "tj_int.h"

static void fill(double *a, double *b, int64_t n) {
    double tmp = 1.0 / (double)n / (double)n;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < n; j++) {
            a[i * n + j] = tmp * (double)(i - j) * (double)(i + j);
            b[i * n + j] = tmp * (double)(i * 2 - j) * (double)(i + j + 1);
        }
    }
}

static void matmul(const double *a, const double *b, double *c, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        for (int64_t k = 0; k < n; k++) {
            double aik = a[i * n + k];
            for (int64_t j = 0; j < n; j++) {
                c[i * n + j] = c[i * n + j] + aik * b[k * n + j];
            }
        }
    }
}

int main(int argc, char **argv) {
    int64_t n = 500;
    if (argc > 1) {
        n = strtoll(argv[1], NULL, 10);
    }
    double *a = calloc((size_t)(n * n), sizeof(double));
    double *b = calloc((size_t)(n * n), sizeof(double));
    double *c = calloc((size_t)(n * n), sizeof(double));
    for (int64_t i = 0; i < n * n; i++) {
        a[i] = 0.0;
        b[i] = 0.0;
        c[i] = 0.0;
    }
    fill(a, b, n);
    matmul(a, b, c, n);
    double sum = 0.0;
    for (int64_t i = 0; i < n * n; i++) {
        sum = sum + c[i];
    }
    printf("%" PRId64 "\n", to_int(c[(n / 2) * n + n / 2] * 1e9));
    printf("%" PRId64 "\n", to_int(sum * 1e6));
    free(a);
    free(b);
    free(c);
    return 0;
}
