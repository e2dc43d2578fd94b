"""fib: naive doubly recursive Fibonacci; call overhead dominates."""
import sys


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def main():
    n = 35
    if len(sys.argv) > 1:
        n = int(sys.argv[1])
    print(fib(n))


main()
