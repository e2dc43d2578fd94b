// sieve: the sieve of Eratosthenes over 0..=n, repeated REPS times on one
// array of 64-bit ints (tj has no byte or bool arrays).
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define REPS 20

static int64_t sieve(int64_t *flags, int64_t len) {
    int64_t n = len - 1;
    for (int64_t i = 0; i < len; i++) {
        flags[i] = 1;
    }
    flags[0] = 0;
    flags[1] = 0;
    int64_t count = 0;
    for (int64_t i = 2; i < len; i++) {
        if (flags[i] == 1) {
            count = count + 1;
            int64_t j = i * i;
            while (j <= n) {
                flags[j] = 0;
                j = j + i;
            }
        }
    }
    return count;
}

int main(int argc, char **argv) {
    int64_t n = 1000000;
    if (argc > 1) {
        n = strtoll(argv[1], NULL, 10);
    }
    int64_t *flags = calloc((size_t)(n + 1), sizeof(int64_t));
    if (!flags) {
        return 1;
    }
    int64_t count = 0;
    int64_t total = 0;
    for (int r = 0; r < REPS; r++) {
        count = sieve(flags, n + 1);
        total = total + count;
    }
    printf("%" PRId64 "\n", count);
    printf("%" PRId64 "\n", total);
    free(flags);
    return 0;
}
