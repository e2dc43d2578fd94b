"""sieve: the sieve of Eratosthenes over 0..=n, repeated REPS times on one
list of integer flags."""
import sys

REPS = 20


def sieve(flags):
    n = len(flags) - 1
    for i in range(len(flags)):
        flags[i] = 1
    flags[0] = 0
    flags[1] = 0
    count = 0
    for i in range(2, len(flags)):
        if flags[i] == 1:
            count = count + 1
            j = i * i
            while j <= n:
                flags[j] = 0
                j = j + i
    return count


def main():
    n = 1000000
    if len(sys.argv) > 1:
        n = int(sys.argv[1])
    flags = [0] * (n + 1)
    count = 0
    total = 0
    for _ in range(REPS):
        count = sieve(flags)
        total = total + count
    print(count)
    print(total)


main()
