"""mandelbrot: counts the points of a size x size grid over
[-1.5, 0.5] x [-1, 1] that stay bounded for MAX_ITER iterations."""
import sys

MAX_ITER = 50


def mandelbrot(size):
    count = 0
    for y in range(size):
        ci = 2.0 * float(y) / float(size) - 1.0
        for x in range(size):
            cr = 2.0 * float(x) / float(size) - 1.5
            zr = 0.0
            zi = 0.0
            inside = 1
            for _ in range(MAX_ITER):
                tr = zr * zr - zi * zi + cr
                ti = 2.0 * zr * zi + ci
                zr = tr
                zi = ti
                if zr * zr + zi * zi > 4.0:
                    inside = 0
                    break
            count = count + inside
    return count


def main():
    size = 1000
    if len(sys.argv) > 1:
        size = int(sys.argv[1])
    print(mandelbrot(size))


main()
