/* tj's int(x) for the C peers: truncate toward zero, saturate at the int64
   range, NaN gives 0 (Rust's `as i64`), so checksums match tierjit's. */
#ifndef TJ_INT_H
#define TJ_INT_H
#include <stdint.h>

static int64_t to_int(double x) {
    if (x != x) {
        return 0;
    }
    if (x >= 9223372036854775808.0) {
        return INT64_MAX;
    }
    if (x <= -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (int64_t)x;
}

#endif
