"""matmul: n x n float matrices in flat row-major lists, c = a * b with the
i-k-j loop order. Prints int(c[n/2][n/2] * 1e9) and int(sum(c) * 1e6)."""
import sys


def to_int(x):
    """tj's int(x): truncate toward zero, saturate, NaN -> 0."""
    if x != x:
        return 0
    if x >= 9223372036854775808.0:
        return 9223372036854775807
    if x <= -9223372036854775808.0:
        return -9223372036854775808
    return int(x)


def fill(a, b, n):
    tmp = 1.0 / float(n) / float(n)
    for i in range(n):
        for j in range(n):
            a[i * n + j] = tmp * float(i - j) * float(i + j)
            b[i * n + j] = tmp * float(i * 2 - j) * float(i + j + 1)


def matmul(a, b, c, n):
    for i in range(n):
        for k in range(n):
            aik = a[i * n + k]
            for j in range(n):
                c[i * n + j] = c[i * n + j] + aik * b[k * n + j]


def main():
    n = 500
    if len(sys.argv) > 1:
        n = int(sys.argv[1])
    a = [0.0] * (n * n)
    b = [0.0] * (n * n)
    c = [0.0] * (n * n)
    fill(a, b, n)
    matmul(a, b, c, n)
    total = 0.0
    for i in range(n * n):
        total = total + c[i]
    print(to_int(c[(n // 2) * n + n // 2] * 1e9))
    print(to_int(total * 1e6))


main()
