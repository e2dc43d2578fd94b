// fannkuch: the Benchmarks Game fannkuch-redux (sequential version).
// Prints the checksum and the maximum number of flips.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void fannkuch(int64_t n) {
    int64_t *perm = calloc((size_t)n, sizeof(int64_t));
    int64_t *perm1 = calloc((size_t)n, sizeof(int64_t));
    int64_t *count = calloc((size_t)n, sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        perm1[i] = i;
    }
    int64_t max_flips = 0;
    int64_t checksum = 0;
    int64_t perm_count = 0;
    int64_t r = n;
    while (1) {
        while (r != 1) {
            count[r - 1] = r;
            r = r - 1;
        }
        for (int64_t i = 0; i < n; i++) {
            perm[i] = perm1[i];
        }
        int64_t flips = 0;
        int64_t k = perm[0];
        while (k != 0) {
            int64_t i = 0;
            int64_t j = k;
            while (i < j) {
                int64_t t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
                i = i + 1;
                j = j - 1;
            }
            flips = flips + 1;
            k = perm[0];
        }
        if (flips > max_flips) {
            max_flips = flips;
        }
        if (perm_count % 2 == 0) {
            checksum = checksum + flips;
        } else {
            checksum = checksum - flips;
        }
        // Next permutation in the counting order.
        while (1) {
            if (r == n) {
                printf("%" PRId64 "\n", checksum);
                printf("%" PRId64 "\n", max_flips);
                free(perm);
                free(perm1);
                free(count);
                return;
            }
            int64_t perm0 = perm1[0];
            for (int64_t i = 0; i < r; i++) {
                perm1[i] = perm1[i + 1];
            }
            perm1[r] = perm0;
            count[r] = count[r] - 1;
            if (count[r] > 0) {
                break;
            }
            r = r + 1;
        }
        perm_count = perm_count + 1;
    }
}

int main(int argc, char **argv) {
    int64_t n = 10;
    if (argc > 1) {
        n = strtoll(argv[1], NULL, 10);
    }
    fannkuch(n);
    return 0;
}
