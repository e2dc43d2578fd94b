// mandelbrot: counts the points of a size x size grid over
// [-1.5, 0.5] x [-1, 1] that stay bounded for MAX_ITER iterations.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_ITER 50

static int64_t mandelbrot(int64_t size) {
    int64_t count = 0;
    for (int64_t y = 0; y < size; y++) {
        double ci = 2.0 * (double)y / (double)size - 1.0;
        for (int64_t x = 0; x < size; x++) {
            double cr = 2.0 * (double)x / (double)size - 1.5;
            double zr = 0.0;
            double zi = 0.0;
            int64_t inside = 1;
            for (int64_t i = 0; i < MAX_ITER; i++) {
                double tr = zr * zr - zi * zi + cr;
                double ti = 2.0 * zr * zi + ci;
                zr = tr;
                zi = ti;
                if (zr * zr + zi * zi > 4.0) {
                    inside = 0;
                    break;
                }
            }
            count = count + inside;
        }
    }
    return count;
}

int main(int argc, char **argv) {
    int64_t size = 1000;
    if (argc > 1) {
        size = strtoll(argv[1], NULL, 10);
    }
    printf("%" PRId64 "\n", mandelbrot(size));
    return 0;
}
