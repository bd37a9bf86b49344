/*
 * error.c -- the calling thread's last-error message (rrconv_last_error): the lowest layer, used by
 * every other file of the library, calling none of them; and the names of the statuses.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- messages -------------------------------------------------------------------------------- */

#define RR_MSG_SIZE 512

const char *rrconv_status_name(rrconv_status status)
{
    switch (status) {
    case RRCONV_OK: return "RRCONV_OK";
    case RRCONV_INVALID_ARGUMENT: return "RRCONV_INVALID_ARGUMENT";
    case RRCONV_UNSUPPORTED: return "RRCONV_UNSUPPORTED";
    case RRCONV_OUT_OF_MEMORY: return "RRCONV_OUT_OF_MEMORY";
    case RRCONV_INTERNAL_ERROR: return "RRCONV_INTERNAL_ERROR";
    }
    return "RRCONV_UNKNOWN_STATUS";
}

static _Thread_local char rr_msg[RR_MSG_SIZE];

rrconv_status rr_fail(rrconv_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(rr_msg, sizeof rr_msg, fmt, ap);
    va_end(ap);
    if (len <= 0) {
        snprintf(rr_msg, sizeof rr_msg, "%s (no message)", rrconv_status_name(status));
    }
    return status;
}

void rr_clear_error(void)
{
    rr_msg[0] = '\0';
}

const char *rrconv_last_error(void)
{
    return rr_msg;
}

#if !defined(NDEBUG) || defined(RRCONV_ENABLE_ASSERTS)
#include <stdlib.h>

void rr_assert_failed(const char *cond, const char *file, int line)
{
    fprintf(stderr, "rrconv: internal precondition failed: %s (%s:%d)\n", cond, file, line);
    abort();
}
#endif
