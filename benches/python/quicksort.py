"""quicksort: sorts n pseudo-random ints (a 64-bit LCG, wrapped explicitly
to match tj's two's-complement ints) with a recursive Hoare-partition
quicksort. Prints the number of out-of-order neighbours (0) and a wrapping
polynomial hash of the result."""
import sys

MASK64 = (1 << 64) - 1


def quicksort(a, lo, hi):
    if lo >= hi:
        return
    p = a[(lo + hi) // 2]
    i = lo
    j = hi
    while i <= j:
        while a[i] < p:
            i = i + 1
        while a[j] > p:
            j = j - 1
        if i <= j:
            t = a[i]
            a[i] = a[j]
            a[j] = t
            i = i + 1
            j = j - 1
    quicksort(a, lo, j)
    quicksort(a, i, hi)


def main():
    n = 1000000
    if len(sys.argv) > 1:
        n = int(sys.argv[1])
    a = [0] * n
    seed = 42
    for i in range(n):
        seed = (seed * 6364136223846793005 + 1442695040888963407) & MASK64
        a[i] = (seed >> 33) & 0x7FFFFFFF
    quicksort(a, 0, n - 1)
    bad = 0
    h = 0
    for i in range(n):
        if i + 1 < n and a[i] > a[i + 1]:
            bad = bad + 1
        h = (h * 31 + a[i]) & MASK64
    if h >= 1 << 63:
        h = h - (1 << 64)
    print(bad)
    print(h)


main()
