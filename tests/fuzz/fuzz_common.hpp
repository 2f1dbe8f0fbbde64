// Shared by the fuzz targets: a check that stays on in every build type.
#pragma once

#include <cstdio>
#include <cstdlib>

// Aborts (which libFuzzer reports as a crash, saving the input) when a property that the code
// under test promises does not hold. assert() would vanish under NDEBUG.
#define DIGITPIPE_FUZZ_CHECK(condition)                                                \
    do {                                                                               \
        if (!(condition)) {                                                            \
            std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, \
                         #condition);                                                  \
            std::abort();                                                              \
        }                                                                              \
    } while (false)
