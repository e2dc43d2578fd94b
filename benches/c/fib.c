// fib: naive doubly recursive Fibonacci; call overhead dominates.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int64_t fib(int64_t n) {
    if (n < 2) {
        return n;
    }
    return (int64_t)((uint64_t)fib(n - 1) + (uint64_t)fib(n - 2));
}

int main(int argc, char **argv) {
    int64_t n = 35;
    if (argc > 1) {
        n = strtoll(argv[1], NULL, 10);
    }
    printf("%" PRId64 "\n", fib(n));
    return 0;
}
