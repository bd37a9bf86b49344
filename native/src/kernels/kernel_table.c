/*
 * kernel_table.c -- the table generated from kernel_list.inc, and running one of its rows.
 */
#define _POSIX_C_SOURCE 200809L

#include "kernels.h"
#include "common/workspace.h"

#include <stddef.h>
#include <string.h>

static const rr_kernel_row rr_rows[] = {
#define RR_KERNEL(name, dir, isa, dtype, layout, applies, entry, text) \
    {#name, dir, isa, dtype, layout, applies, entry, text},
#include "kernel_list.inc"
#undef RR_KERNEL
};

#define RR_ROW_COUNT ((int)(sizeof rr_rows / sizeof rr_rows[0]))

const rr_kernel_row *rr_kernel_rows(int *count)
{
    *count = RR_ROW_COUNT;
    return rr_rows;
}

const rr_kernel_row *rr_kernel_find(const char *name)
{
    for (int i = 0; i < RR_ROW_COUNT; i++) {
        if (strcmp(rr_rows[i].name, name) == 0) return &rr_rows[i];
    }
    return NULL;
}

int rr_kernel_applies_always(const rr_conv *c)
{
    (void)c;
    return 1;
}

int rr_kernel_is_reference(const rr_kernel_row *row)
{
    return row->isa == RR_ISA_SCALAR;
}

const rr_kernel_row *rr_kernel_reference(rr_direction dir)
{
    for (int i = 0; i < RR_ROW_COUNT; i++) {
        if (rr_rows[i].dir == dir && rr_kernel_is_reference(&rr_rows[i])) return &rr_rows[i];
    }
    return NULL;
}

/*
 * Geometry the fast kernels are written for: every spatial size, stride, padding and dilation below
 * 2^24, so their index arithmetic (products of a few of these, padded plane sizes, phase counts) has
 * ample headroom in int64. Larger values are valid (api.c accepts everything whose offsets fit in
 * int64) and rare in practice; the reference loops, written for the full range, take them.
 */
#define RR_FAST_GEOMETRY_MAX ((int64_t)1 << 24)

static int fast_geometry_ok(const rr_conv *c)
{
    const int64_t v[] = {c->ih, c->iw, c->oh, c->ow, c->fh, c->fw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (v[i] >= RR_FAST_GEOMETRY_MAX) return 0;
    }
    return 1;
}

int rr_kernel_applies(const rr_kernel_row *row, const rr_conv *c)
{
    if (rr_kernel_is_reference(row)) return 1;
    /* a half row runs calls of its type only; an f32 row runs every call (half inputs widened) */
    if (row->dtype != RR_DT_F32 && row->dtype != c->dtype) return 0;
    return fast_geometry_ok(c) && row->applies(c);
}

int rr_kernel_available(const rr_kernel_row *row)
{
    return row->isa <= rr_active_isa();
}

const rr_kernel_row *rr_kernel_pick(rr_direction dir, const rr_conv *c)
{
    for (int i = 0; i < RR_ROW_COUNT; i++) {
        const rr_kernel_row *r = &rr_rows[i];
        if (r->dir == dir && rr_kernel_available(r) && rr_kernel_applies(r, c)) return r;
    }
    return NULL;
}

rrconv_status rr_kernel_hand_over(const char *name, const rr_problem *p, const char *why)
{
    const rr_kernel_row *row = rr_kernel_find(name);
    RR_ASSERT(row != NULL && row->dir == p->dir && row->dtype == RR_DT_F32);
    rr_note(p, "ran:%s %s", name, why);
    return rr_kernel_run(row, p);
}

rrconv_status rr_kernel_run(const rr_kernel_row *row, const rr_problem *p)
{
    RR_ASSERT(row->dir == p->dir);
    RR_ASSERT(rr_kernel_applies(row, &p->c));
    RR_ASSERT(rr_kernel_available(row));
    if (rr_kernel_is_reference(row)) return row->run(p);
    rr_problem q;
    rr_workspace ws;
    rr_ws_begin(&ws, p->op);
    rrconv_status st = rr_normalize(p, &q, &ws, row->dtype, row->layout);
    if (st == RRCONV_OK) st = row->run(&q);
    if (st == RRCONV_OK) rr_finish(p, &q);
    rr_ws_end(&ws);
    return st;
}
