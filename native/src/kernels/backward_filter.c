/* backward_filter.c -- picks the fast backward_filter kernel (see kernels.h). */
#include "kernels.h"

rr_kernel_fn rr_pick_backward_filter(const rr_conv *c, rr_isa isa)
{
    (void)c;
    (void)isa;
    return NULL; /* no fast kernel yet: the reference loops run */
}
