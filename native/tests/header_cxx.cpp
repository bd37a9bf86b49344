// header_cxx.cpp -- rrconv.h from C++: compiled by check_header_cxx.cmake with
// -std=c++11 -Wall -Wextra -pedantic -Werror and linked against the shared library. Linking proves
// the declarations have C linkage (extern "C"); running checks a call and the version/ISA queries.
#include <rrconv.h>

#include <cstdio>
#include <cstring>
#include <vector>

static_assert(RRCONV_OK == 0, "zero is success");
static_assert(sizeof(rrconv_conv_desc) == 16 * sizeof(int64_t) + 4 * sizeof(int32_t),
              "descriptor layout as in C");

int main()
{
    char expect_version[32];
    std::snprintf(expect_version, sizeof expect_version, "%d.%d.%d", RRCONV_VERSION_MAJOR,
                  RRCONV_VERSION_MINOR, RRCONV_VERSION_PATCH);
    if (std::strcmp(rrconv_version(), expect_version) != 0) {
        std::fprintf(stderr, "rrconv_version() = %s, header says %s\n", rrconv_version(), expect_version);
        return 1;
    }
    const char *isa = rrconv_active_isa();
    if (std::strcmp(isa, "avx512") != 0 && std::strcmp(isa, "avx2") != 0 && std::strcmp(isa, "portable") != 0 &&
        std::strcmp(isa, "scalar") != 0) {
        std::fprintf(stderr, "rrconv_active_isa() = %s\n", isa);
        return 1;
    }

    // worked example (c): grouped backward data
    rrconv_conv_desc d = rrconv_conv_desc();
    d.n = 1; d.groups = 2; d.icpg = 1; d.ocpg = 1;
    d.ih = 2; d.iw = 2; d.oh = 1; d.ow = 1; d.fh = 2; d.fw = 2;
    d.stride_h = d.stride_w = 1; d.dil_h = d.dil_w = 1;
    d.mode = RRCONV_CROSS_CORRELATION; d.mask_type = RRCONV_MASK_UINT8; d.algorithm = RRCONV_ALGO_AUTO;
    std::vector<float> filter = {1, 2, 3, 4, 5, 6, 7, 8}, diff = {1, 2}, grad(8, -1.0f);
    std::vector<uint8_t> rin(4, 1), rout(1, 1);
    rrconv_status st = rrconv_backward_data_f32(&d, filter.data(), nullptr, diff.data(), nullptr,
                                                rin.data(), nullptr, rout.data(), nullptr,
                                                grad.data(), nullptr);
    if (st != RRCONV_OK) {
        std::fprintf(stderr, "%s: %s\n", rrconv_status_name(st), rrconv_last_error());
        return 1;
    }
    const float want[8] = {1, 2, 3, 4, 10, 12, 14, 16};
    for (int i = 0; i < 8; i++) {
        if (grad[i] != want[i]) {
            std::fprintf(stderr, "grad[%d] = %g, expected %g\n", i, double(grad[i]), double(want[i]));
            return 1;
        }
    }
    // an error is reported, not thrown or crashed
    d.reserved = 7;
    if (rrconv_backward_data_f32(&d, filter.data(), nullptr, diff.data(), nullptr, rin.data(), nullptr,
                                 rout.data(), nullptr, grad.data(), nullptr) != RRCONV_INVALID_ARGUMENT
        || std::strlen(rrconv_last_error()) == 0) {
        std::fprintf(stderr, "reserved != 0 was not rejected with a message\n");
        return 1;
    }
    std::printf("rrconv %s (%s) from C++: ok\n", rrconv_version(), isa);
    return 0;
}
