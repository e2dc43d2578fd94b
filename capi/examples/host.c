/*
 * host.c: a C program that runs tj code on tierjit.
 *
 * It compiles a tj program that calls a function of this host (`add`,
 * which accumulates into a C struct), calls tj functions with typed
 * arguments (by handle, by name, and through a context), shows a runtime
 * error and a host function's error coming back with their backtraces,
 * and frees everything. capi/tests/c_example.rs
 * builds it against libtierjit.a and checks its output:
 *
 *   cc -Iinclude capi/examples/host.c target/debug/libtierjit.a \
 *      -lpthread -ldl -lm -o host && ./host
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tierjit.h"

static const char PROGRAM[] =
    "fn sum_to(n: int) -> int {\n"
    "    for i in 1..n + 1 { add(i); }\n"
    "    return n * (n + 1) / 2;\n"
    "}\n"
    "fn score(x: float, doubled: bool) -> float {\n"
    "    if doubled { return x * 2.0; }\n"
    "    return x;\n"
    "}\n"
    "fn greet(n: int) { print(\"hello from tj\"); print(n); }\n"
    "fn ratio(a: int, b: int) -> int { return a / b; }\n"
    "fn average(total: int, n: int) -> int {\n"
    "    return ratio(total, n);\n"
    "}\n"
    "fn refund(n: int) {\n"
    "    add(0 - n);\n"
    "}\n"
    "fn main() {}\n";

/* What `add` accumulates; tj may call it from any thread, so a real host
 * would guard it (this program calls in from one thread only). */
struct tally {
    int64_t sum;
    int64_t calls;
};

/* The host function `add(n: int)`: refuses negative numbers. */
static tj_status add(void *user_data, const tj_value *args, size_t nargs,
                     tj_value *result, char *err_buf, size_t err_buf_len) {
    struct tally *tally = user_data;
    int64_t n = args[0].of.i;
    (void)nargs;
    (void)result;
    if (n < 0) {
        snprintf(err_buf, err_buf_len, "%" PRId64 " is negative", n);
        return TJ_ERR_RUNTIME;
    }
    tally->sum += n;
    tally->calls += 1;
    return TJ_OK;
}

/* Prints a failed call's status and message, and frees the error. */
static void report(const char *call, tj_error *err) {
    printf("%s failed with status %d:\n%s\n", call, tj_error_status(err),
           tj_error_message(err));
    tj_error_free(err);
}

int main(void) {
    struct tally tally = {0, 0};
    tj_error *err = NULL;

    tj_options *options = tj_options_new();
    const tj_type add_params[] = {TJ_INT};
    if (tj_options_add_host_function(options, "add", add_params, 1, TJ_VOID,
                                     add, &tally, &err) != TJ_OK ||
        tj_options_set_tier(options, TJ_TIER_OPT, &err) != TJ_OK) {
        report("setting the options", err);
        return 1;
    }

    tj_module *module = tj_module_from_source("host.tj", PROGRAM,
                                              strlen(PROGRAM), options, &err);
    if (module == NULL) {
        report("compiling", err);
        return 1;
    }
    tj_vm *vm = tj_vm_new(module, options, &err);
    tj_options_free(options);
    if (vm == NULL) {
        report("starting", err);
        return 1;
    }

    /* Looked up once, its signature checked; then called by handle. */
    const tj_func *sum_to = NULL;
    if (tj_func_lookup(vm, "sum_to", &sum_to, &err) != TJ_OK) {
        report("looking up sum_to", err);
        return 1;
    }
    tj_value n = {.type = TJ_INT, .of.i = 100};
    tj_value result;
    if (tj_func_call(vm, sum_to, &n, 1, &result, &err) != TJ_OK) {
        report("sum_to(100)", err);
        return 1;
    }
    printf("sum_to(100) = %" PRId64 "; add saw %" PRId64 " calls summing to %" PRId64 "\n",
           result.of.i, tally.calls, tally.sum);

    /* By name, with arguments of two types. */
    tj_value score_args[] = {{.type = TJ_FLOAT, .of.f = 21.0},
                             {.type = TJ_BOOL, .of.b = true}};
    if (tj_call(vm, "score", score_args, 2, &result, &err) != TJ_OK) {
        report("score(21.0, true)", err);
        return 1;
    }
    printf("score(21.0, true) = %.1f\n", result.of.f);

    /* A thread that calls again and again keeps a context: each call
     * through it costs a tenth of one without. */
    tj_context *context = tj_context_new(vm, &err);
    const tj_func *score = NULL;
    if (context == NULL || tj_func_lookup(vm, "score", &score, &err) != TJ_OK) {
        report("making a context", err);
        return 1;
    }
    double total = 0.0;
    for (int i = 1; i <= 1000; i++) {
        tj_value args[] = {{.type = TJ_FLOAT, .of.f = i},
                           {.type = TJ_BOOL, .of.b = i % 2 == 0}};
        if (tj_context_call(context, score, args, 2, &result, &err) != TJ_OK) {
            report("score in a context", err);
            return 1;
        }
        total += result.of.f;
    }
    tj_context_free(context);
    printf("score(i, i is even) for i in 1..1000 adds up to %.1f\n", total);

    /* C's stdout and tj's print are buffered apart: flush C's first.
     * tj_vm_flush_output writes what tj threads still hold, and says
     * whether stdout could be written. */
    fflush(stdout);
    tj_value seven = {.type = TJ_INT, .of.i = 7};
    if (tj_call(vm, "greet", &seven, 1, NULL, &err) != TJ_OK ||
        tj_vm_flush_output(vm, &err) != TJ_OK) {
        report("greet(7)", err);
        return 1;
    }

    /* A runtime error comes back as a status, with its backtrace. */
    tj_value average_args[] = {{.type = TJ_INT, .of.i = 10},
                               {.type = TJ_INT, .of.i = 0}};
    if (tj_call(vm, "average", average_args, 2, &result, &err) != TJ_OK) {
        report("average(10, 0)", err);
    }
    /* So does the host function's own error. */
    tj_value five = {.type = TJ_INT, .of.i = 5};
    if (tj_call(vm, "refund", &five, 1, NULL, &err) != TJ_OK) {
        report("refund(5)", err);
    }
    /* And a call that does not fit the function. */
    if (tj_call(vm, "score", &five, 1, &result, &err) != TJ_OK) {
        report("score(5)", err);
    }

    tj_vm_free(vm);
    return 0;
}
