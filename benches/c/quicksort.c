// quicksort: sorts n pseudo-random ints (a 64-bit LCG with wrapping
// arithmetic) with a recursive Hoare-partition quicksort. Prints the
// number of out-of-order neighbours (0) and a wrapping polynomial hash.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void quicksort(int64_t *a, int64_t lo, int64_t hi) {
    if (lo >= hi) {
        return;
    }
    int64_t p = a[(lo + hi) / 2];
    int64_t i = lo;
    int64_t j = hi;
    while (i <= j) {
        while (a[i] < p) {
            i = i + 1;
        }
        while (a[j] > p) {
            j = j - 1;
        }
        if (i <= j) {
            int64_t t = a[i];
            a[i] = a[j];
            a[j] = t;
            i = i + 1;
            j = j - 1;
        }
    }
    quicksort(a, lo, j);
    quicksort(a, i, hi);
}

int main(int argc, char **argv) {
    int64_t n = 1000000;
    if (argc > 1) {
        n = strtoll(argv[1], NULL, 10);
    }
    int64_t *a = calloc((size_t)n, sizeof(int64_t));
    uint64_t seed = 42;
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        a[i] = (int64_t)((seed >> 33) & 0x7FFFFFFF);
    }
    quicksort(a, 0, n - 1);
    int64_t bad = 0;
    uint64_t hash = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i + 1 < n && a[i] > a[i + 1]) {
            bad = bad + 1;
        }
        hash = hash * 31 + (uint64_t)a[i];
    }
    printf("%" PRId64 "\n", bad);
    printf("%" PRId64 "\n", (int64_t)hash);
    free(a);
    return 0;
}
