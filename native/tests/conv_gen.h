/*
 * conv_gen.h -- random valid convolution descriptors for the tests (sizes kept small).
 */
#ifndef RRCONV_CONV_GEN_H
#define RRCONV_CONV_GEN_H

#include "test_util.h"

/* kind: 0 dense, 1 grouped, 2 depthwise, 3 depthwise with multiplier; max_work bounds the taps. */
static inline rrconv_conv_desc gen_desc(uint64_t *rng, int kind, double max_work)
{
    for (;;) {
        int64_t g, icpg, ocpg;
        switch (kind & 3) {
        case 0: g = 1; icpg = t_int(rng, 1, 4); ocpg = t_int(rng, 1, 4); break;
        case 1: g = t_int(rng, 2, 3); icpg = t_int(rng, 1, 3); ocpg = t_int(rng, 1, 3); break;
        case 2: g = t_int(rng, 1, 5); icpg = 1; ocpg = 1; break;
        default: g = t_int(rng, 1, 4); icpg = 1; ocpg = t_int(rng, 2, 3); break;
        }
        const int64_t fh = t_int(rng, 1, 5), fw = t_int(rng, 1, 5);
        const int64_t sh = t_int(rng, 1, 3), sw = t_int(rng, 1, 3);
        const int64_t dh = t_int(rng, 1, 2), dw = t_int(rng, 1, 2);
        const int64_t ph = t_int(rng, 0, fh), pw = t_int(rng, 0, fw);
        int64_t ih = dh * (fh - 1) + 1 - 2 * ph, iw = dw * (fw - 1) + 1 - 2 * pw;
        if (ih < 1) ih = 1;
        if (iw < 1) iw = 1;
        ih += t_int(rng, 0, 6);
        iw += t_int(rng, 0, 6);
        rrconv_conv_desc d = t_desc(t_int(rng, 1, 2), g, icpg, ocpg, ih, iw, fh, fw, sh, sw, ph, pw, dh, dw,
                                    (int)t_int(rng, 0, 1), (int)t_int(rng, 0, 1));
        const double work = (double)d.n * g * ocpg * icpg * d.oh * d.ow * fh * fw;
        if (work <= max_work) return d;
    }
}

#endif /* RRCONV_CONV_GEN_H */
