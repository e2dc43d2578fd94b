// bf: a plain switch-loop Brainfuck interpreter, the peer of
// `cargo run --release --example bf` (benches/bf.sh).
//
// Deliberately plain, as the peer of issue 12 is: one switch per source
// character, no run-length collapse, no recognised idioms; the only
// precomputation is the table of matching brackets. Same semantics as the
// example: 30,000 8-bit wrapping cells, `,` at end of input stores 0,
// unbalanced brackets are an error naming the position, and a pointer
// that leaves the tape is an error (here as soon as it moves; the example
// finds it at the next access through it). Output is buffered by stdio
// and flushed before each `,`, so that prompts show.
//
// usage: bf FILE.b    (exit status 1 for any error)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAPE_CELLS 30000

// Reads the whole file `path`; sets *len.
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "bf: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bf FILE.b\n");
        return 1;
    }
    size_t len;
    char *code = read_file(argv[1], &len);

    // jump[i]: for a bracket at i, the position of its partner.
    size_t *jump = malloc((len + 1) * sizeof *jump);
    size_t *open = malloc((len + 1) * sizeof *open);
    size_t depth = 0;
    for (size_t i = 0; i < len; i++) {
        if (code[i] == '[') {
            open[depth++] = i;
        } else if (code[i] == ']') {
            if (depth == 0) {
                fprintf(stderr, "bf: %s: unmatched ']' at byte %zu\n", argv[1], i + 1);
                return 1;
            }
            size_t o = open[--depth];
            jump[o] = i;
            jump[i] = o;
        }
    }
    if (depth != 0) {
        fprintf(stderr, "bf: %s: unmatched '[' at byte %zu\n", argv[1], open[depth - 1] + 1);
        return 1;
    }

    static unsigned char tape[TAPE_CELLS];
    size_t p = 0, pc;
    for (pc = 0; pc < len; pc++) {
        switch (code[pc]) {
        case '+': tape[p]++; break;
        case '-': tape[p]--; break;
        case '>':
            if (++p == TAPE_CELLS) goto off_tape;
            break;
        case '<':
            if (p-- == 0) goto off_tape;
            break;
        case '.': putchar(tape[p]); break;
        case ',': {
            fflush(stdout);
            int c = getchar();
            tape[p] = c == EOF ? 0 : (unsigned char)c;
            break;
        }
        case '[':
            if (tape[p] == 0) pc = jump[pc];
            break;
        case ']':
            if (tape[p] != 0) pc = jump[pc];
            break;
        default: break;
        }
    }
    fflush(stdout);
    return 0;

off_tape:
    fflush(stdout);
    fprintf(stderr, "bf: %s: the pointer left the tape at byte %zu\n", argv[1], pc + 1);
    return 1;
}
