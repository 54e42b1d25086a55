/* Helpers shared by the libFuzzer targets (tests/fuzz/fuzz_<name>.c). */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that must hold: abort (libFuzzer reports the input and the
 * stack) with the expression and a detail. */
#define FZ_CHECK(cond, ...)                                                                      \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/* The input as a C string (cut at the first NUL, like a header or a path the
 * HTTP server hands over). malloc'ed; NULL only when out of memory. */
static inline char *fz_cstr(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t n = nul ? (size_t)(nul - data) : size;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, data, n);
        s[n] = '\0';
    }
    return s;
}

/* 1 when s is NUL-terminated within cap bytes. */
static inline int fz_terminated(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

#endif
