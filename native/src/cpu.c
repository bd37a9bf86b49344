/*
 * cpu.c -- which instruction set the fast kernels may use, decided once per process.
 *
 *   avx512  AVX-512 F, DQ, BW and VL (Skylake-X and later, Zen 4 and later), with the OS saving the
 *           opmask/ZMM state (XCR0 bits 1,2,5,6,7)
 *   avx2    AVX2 + FMA + BMI2 + F16C, with the OS saving the YMM state (XCR0 bits 1,2) (every CPU with
 *           AVX2 has F16C; the float16 rows of this level convert with it)
 *   portable anything else, every non-x86 CPU, and builds without the x86 kernel files
 *           (RRCONV_X86_KERNELS 0, internal.h): the portable kernels (the kernels/<direction>/<name>__portable.c files)
 *   scalar  only when capped to it: the reference loops
 * Beside the level, one capability bit: AVX512_BF16 (vdpbf16ps, rr_cpu_has_bf16_dot), which the
 * bfloat16 dot-product rows check in their applies() (their ISA is avx512, so the cap covers them too).
 *
 * The environment variable RRCONV_MAX_ISA (avx512 | avx2 | portable | scalar, case-insensitive), read
 * once, at the first call that asks, caps the choice. An unknown value is an error: rr_isa_env_error
 * returns a message naming the valid values, and every convolution call fails with it
 * (RRCONV_INVALID_ARGUMENT); the level then stays the CPU's for the queries.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if (defined(__x86_64__) || defined(__i386__)) && RRCONV_X86_KERNELS
#include <cpuid.h>
#define RR_X86 1
#else
#define RR_X86 0
#endif

static rr_isa rr_isa_value = RR_ISA_PORTABLE;
static int rr_avx512_bf16_value; /* the CPU has AVX512_BF16 (vdpbf16ps) beside AVX-512 */
static char rr_isa_error[160]; /* empty, or the message for an unknown RRCONV_MAX_ISA */
static pthread_once_t rr_isa_once = PTHREAD_ONCE_INIT;

#if RR_X86
static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    __asm__ __volatile__("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

static rr_isa detect_hardware(void)
{
    rr_isa isa = RR_ISA_PORTABLE;
#if RR_X86
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return isa;
    const int fma = (ecx >> 12) & 1;
    const int f16c = (ecx >> 29) & 1;
    const int osxsave = (ecx >> 27) & 1;
    const int avx = (ecx >> 28) & 1;
    if (!osxsave || !avx) return isa;
    const uint64_t xcr0 = read_xcr0();
    const int ymm_state = (xcr0 & 0x6) == 0x6;
    const int zmm_state = (xcr0 & 0xe6) == 0xe6;
    if (__get_cpuid_max(0, NULL) < 7) return isa;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    const int avx2 = (ebx >> 5) & 1;
    const int bmi2 = (ebx >> 8) & 1;
    const int avx512 = ((ebx >> 16) & 1) && ((ebx >> 17) & 1) && ((ebx >> 30) & 1) && ((ebx >> 31) & 1);
    if (ymm_state && avx && avx2 && fma && bmi2 && f16c) isa = RR_ISA_AVX2;
    if (isa == RR_ISA_AVX2 && zmm_state && avx512) isa = RR_ISA_AVX512;
    /* AVX512_BF16: leaf 7, sub-leaf 1, EAX bit 5 (sub-leaf 1 exists when leaf 7 sub-leaf 0 EAX >= 1) */
    if (isa == RR_ISA_AVX512 && eax >= 1) {
        unsigned int a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        rr_avx512_bf16_value = (a1 >> 5) & 1;
    }
#endif
    return isa;
}

static int name_is(const char *s, const char *name)
{
    for (; *s && *name; s++, name++) {
        if (tolower((unsigned char)*s) != *name) return 0;
    }
    return *s == '\0' && *name == '\0';
}

static void detect(void)
{
    rr_isa isa = detect_hardware();
    const char *cap = getenv("RRCONV_MAX_ISA");
    if (cap != NULL) {
        rr_isa limit = isa;
        if (name_is(cap, "scalar")) limit = RR_ISA_SCALAR;
        else if (name_is(cap, "portable")) limit = RR_ISA_PORTABLE;
        else if (name_is(cap, "avx2")) limit = RR_ISA_AVX2;
        else if (name_is(cap, "avx512")) limit = RR_ISA_AVX512;
        else {
            snprintf(rr_isa_error, sizeof rr_isa_error,
                     "RRCONV_MAX_ISA is '%.40s' but must be one of avx512, avx2, portable, scalar", cap);
        }
        if (limit < isa) isa = limit;
    }
    rr_isa_value = isa;
}

rr_isa rr_active_isa(void)
{
    pthread_once(&rr_isa_once, detect);
    return rr_isa_value;
}

int rr_cpu_has_bf16_dot(void)
{
    pthread_once(&rr_isa_once, detect);
    return rr_avx512_bf16_value;
}

const char *rr_isa_env_error(void)
{
    pthread_once(&rr_isa_once, detect);
    return rr_isa_error[0] != '\0' ? rr_isa_error : NULL;
}

const char *rr_isa_name(rr_isa isa)
{
    switch (isa) {
    case RR_ISA_AVX512: return "avx512";
    case RR_ISA_AVX2: return "avx2";
    case RR_ISA_PORTABLE: return "portable";
    case RR_ISA_SCALAR: break;
    }
    return "scalar";
}
