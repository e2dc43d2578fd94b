// spectralnorm: the Benchmarks Game spectral norm of the infinite matrix
// A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1), by 10 power iterations.
// Prints int(result * 1e9).
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

// tj's int(x): truncate toward zero, saturate, NaN -> 0.
#include "tj_int.h"

static double eval_a(int64_t i, int64_t j) {
    return 1.0 / (double)((i + j) * (i + j + 1) / 2 + i + 1);
}

// av = A v
static void mul_av(const double *v, double *av, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++) {
            sum = sum + eval_a(i, j) * v[j];
        }
        av[i] = sum;
    }
}

// atv = A^T v
static void mul_atv(const double *v, double *atv, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++) {
            sum = sum + eval_a(j, i) * v[j];
        }
        atv[i] = sum;
    }
}

// out = A^T A v
static void mul_atav(const double *v, double *out, double *tmp, int64_t n) {
    mul_av(v, tmp, n);
    mul_atv(tmp, out, n);
}

int main(int argc, char **argv) {
    int64_t n = 1000;
    if (argc > 1) {
        n = strtoll(argv[1], NULL, 10);
    }
    double *u = malloc((size_t)n * sizeof(double));
    double *v = malloc((size_t)n * sizeof(double));
    double *tmp = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        u[i] = 1.0;
        v[i] = 0.0;
        tmp[i] = 0.0;
    }
    for (int k = 0; k < 10; k++) {
        mul_atav(u, v, tmp, n);
        mul_atav(v, u, tmp, n);
    }
    double vbv = 0.0;
    double vv = 0.0;
    for (int64_t i = 0; i < n; i++) {
        vbv = vbv + u[i] * v[i];
        vv = vv + v[i] * v[i];
    }
    printf("%" PRId64 "\n", to_int(sqrt(vbv / vv) * 1e9));
    free(u);
    free(v);
    free(tmp);
    return 0;
}
