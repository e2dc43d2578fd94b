"""spectralnorm: the Benchmarks Game spectral norm of the infinite matrix
A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1), by 10 power iterations.
Prints int(result * 1e9)."""
import sys
from math import sqrt


def to_int(x):
    """tj's int(x): truncate toward zero, saturate, NaN -> 0."""
    if x != x:
        return 0
    if x >= 9223372036854775808.0:
        return 9223372036854775807
    if x <= -9223372036854775808.0:
        return -9223372036854775808
    return int(x)


def eval_a(i, j):
    return 1.0 / float((i + j) * (i + j + 1) // 2 + i + 1)


def mul_av(v, av):
    """av = A v"""
    n = len(v)
    for i in range(n):
        s = 0.0
        for j in range(n):
            s = s + eval_a(i, j) * v[j]
        av[i] = s


def mul_atv(v, atv):
    """atv = A^T v"""
    n = len(v)
    for i in range(n):
        s = 0.0
        for j in range(n):
            s = s + eval_a(j, i) * v[j]
        atv[i] = s


def mul_atav(v, out, tmp):
    """out = A^T A v"""
    mul_av(v, tmp)
    mul_atv(tmp, out)


def main():
    n = 1000
    if len(sys.argv) > 1:
        n = int(sys.argv[1])
    u = [1.0] * n
    v = [0.0] * n
    tmp = [0.0] * n
    for _ in range(10):
        mul_atav(u, v, tmp)
        mul_atav(v, u, tmp)
    vbv = 0.0
    vv = 0.0
    for i in range(n):
        vbv = vbv + u[i] * v[i]
        vv = vv + v[i] * v[i]
    print(to_int(sqrt(vbv / vv) * 1e9))


main()
