/*
 * test_util.h -- tiny helpers shared by the C tests: checks, a seeded RNG, descriptors.
 */
#ifndef RRCONV_TEST_UTIL_H
#define RRCONV_TEST_UTIL_H

#include "rrconv.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures = 0;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            t_failures++;                                                                          \
            if (t_failures <= 50) {                                                                \
                fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond);                  \
                fprintf(stderr, __VA_ARGS__);                                                      \
                fprintf(stderr, "\n");                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#define EXPECT_OK(call)                                                                            \
    do {                                                                                           \
        rrconv_status st_ = (call);                                                                \
        EXPECT(st_ == RRCONV_OK, "%s -> %s: %s", #call, rrconv_status_name(st_), rrconv_last_error()); \
    } while (0)

static inline int t_finish(const char *name)
{
    if (t_failures) {
        fprintf(stderr, "%s: %d failure(s)\n", name, t_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* splitmix64 */
static inline uint64_t t_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform integer in [lo, hi] */
static inline int64_t t_int(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(t_next(s) % (uint64_t)(hi - lo + 1));
}

/* uniform double in [-1, 1) */
static inline double t_unit(uint64_t *s)
{
    return (double)(t_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static inline void *t_alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* A descriptor with oh/ow derived from the formula. */
static inline rrconv_conv_desc t_desc(int64_t n, int64_t g, int64_t icpg, int64_t ocpg, int64_t ih, int64_t iw,
                               int64_t fh, int64_t fw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                               int64_t dh, int64_t dw, int mode, int mask_type)
{
    rrconv_conv_desc d;
    memset(&d, 0, sizeof d);
    d.n = n; d.groups = g; d.icpg = icpg; d.ocpg = ocpg; d.ih = ih; d.iw = iw; d.fh = fh; d.fw = fw;
    d.stride_h = sh; d.stride_w = sw; d.pad_h = ph; d.pad_w = pw; d.dil_h = dh; d.dil_w = dw;
    d.oh = (ih + 2 * ph - dh * (fh - 1) - 1) / sh + 1;
    d.ow = (iw + 2 * pw - dw * (fw - 1) - 1) / sw + 1;
    d.mode = mode;
    d.mask_type = mask_type;
    d.algorithm = RRCONV_ALGO_AUTO;
    return d;
}

#endif /* RRCONV_TEST_UTIL_H */
