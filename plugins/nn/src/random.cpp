// Philox4x32-10 and the generators built on it (dropout masks, initial weights). The dropout
// kernel is the hot one: about 1.4 M elements per step for seed A's CNN at batch 128, so it has
// an AVX-512 path in intrinsics (GCC's autovectorised form ran 5x slower, and slower still at
// -O3) next to a portable one with identical bits, and is split across OpenMP threads by block
// (a block's bits depend only on its counters, so the split does not change the mask).
#include "digitpipe/nn/random.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace digitpipe::nn {
namespace {

// Philox4x32 constants from Salmon et al., "Parallel random numbers: as easy as 1, 2, 3".
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53U;
constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57U;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9U;  // golden ratio
constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85U;  // sqrt(3) - 1
constexpr int kPhiloxRounds = 10;

// Elements per mask block: 16 Philox counters (one AVX-512 register of 32-bit lanes) x 4
// output words. Element 64 b + 16 j + l takes word j of counter 16 b + l, so each word's 16
// decisions are 16 consecutive bytes.
constexpr std::size_t kMaskLanes = 16;
constexpr std::size_t kMaskBlock = kMaskLanes * 4;
// Blocks per OpenMP chunk: large enough that scheduling costs nothing next to the hashing.
constexpr std::size_t kMaskBlocksPerChunk = 256;

// 2^-24: maps the top 24 bits of a word to a float in [0, 1) exactly.
constexpr float kUnitFloat = 1.0F / 16777216.0F;

struct MaskArgs {
    std::uint32_t key0, key1, stream_lo, stream_hi, threshold;
    std::uint8_t* keep;
    std::size_t n;
};

// Portable definition of the mask: blocks [first, last).
void fill_mask_blocks_scalar(const MaskArgs& a, std::size_t first, std::size_t last) {
    for (std::size_t block = first; block < last; ++block) {
        for (std::size_t l = 0; l < kMaskLanes; ++l) {
            const auto words = philox4x32(
                {static_cast<std::uint32_t>(block * kMaskLanes + l), a.stream_lo, a.stream_hi, 0},
                {a.key0, a.key1});
            for (std::size_t j = 0; j < 4; ++j) {
                const std::size_t i = block * kMaskBlock + j * kMaskLanes + l;
                if (i < a.n) {
                    a.keep[i] = words[j] >= a.threshold ? 1 : 0;
                }
            }
        }
    }
}

// GCC 12's avx512fintrin.h builds _mm512_undefined_epi32() by self-initialisation, which
// -Wmaybe-uninitialized reports once the intrinsics inline here; the values are never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// hi and lo 32-bit halves of x * m (m in the even lanes) for 16 lanes.
__attribute__((target("avx512f"), always_inline)) inline void mulhilo(__m512i x, __m512i m,
                                                                      __m512i& hi, __m512i& lo) {
    constexpr __mmask16 kOdd = 0xAAAA;
    const __m512i even = _mm512_mul_epu32(x, m);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), m);
    hi = _mm512_mask_blend_epi32(kOdd, _mm512_srli_epi64(even, 32), odd);
    lo = _mm512_mask_blend_epi32(kOdd, even, _mm512_slli_epi64(odd, 32));
}

// Same bits as fill_mask_blocks_scalar, 16 counters per register. The 32 x 32 -> 64-bit
// products come from vpmuludq on the even lanes and on the odd lanes shifted down; blends
// put the high and low halves back into 32-bit lanes.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void fill_mask_blocks_avx512(
    const MaskArgs& a, std::size_t first, std::size_t last) {
    const __m512i m0 = _mm512_set1_epi64(kPhiloxM0);
    const __m512i m1 = _mm512_set1_epi64(kPhiloxM1);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i threshold = _mm512_set1_epi32(static_cast<int>(a.threshold));
    const __m128i ones = _mm_set1_epi8(1);
    for (std::size_t block = first; block < last; ++block) {
        __m512i x0 =
            _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(block * kMaskLanes)), lane);
        __m512i x1 = _mm512_set1_epi32(static_cast<int>(a.stream_lo));
        __m512i x2 = _mm512_set1_epi32(static_cast<int>(a.stream_hi));
        __m512i x3 = _mm512_setzero_si512();
        std::uint32_t k0 = a.key0;
        std::uint32_t k1 = a.key1;
        for (int r = 0; r < kPhiloxRounds; ++r) {
            __m512i hi0;
            __m512i lo0;
            __m512i hi1;
            __m512i lo1;
            mulhilo(x0, m0, hi0, lo0);
            mulhilo(x2, m1, hi1, lo1);
            x0 = _mm512_xor_si512(_mm512_xor_si512(hi1, x1),
                                  _mm512_set1_epi32(static_cast<int>(k0)));
            x1 = lo1;
            x2 = _mm512_xor_si512(_mm512_xor_si512(hi0, x3),
                                  _mm512_set1_epi32(static_cast<int>(k1)));
            x3 = lo0;
            k0 += kPhiloxW0;
            k1 += kPhiloxW1;
        }
        const std::size_t offset = block * kMaskBlock;
        const __m512i words[4] = {x0, x1, x2, x3};
        for (std::size_t j = 0; j < 4; ++j) {
            const __mmask16 keep = _mm512_cmpge_epu32_mask(words[j], threshold);
            const std::size_t at = offset + j * kMaskLanes;
            const __m128i bytes = _mm_maskz_mov_epi8(keep, ones);
            if (at + kMaskLanes <= a.n) {
                _mm_storeu_si128(reinterpret_cast<__m128i*>(a.keep + at), bytes);
            } else if (at < a.n) {
                const auto tail = static_cast<__mmask16>((1U << (a.n - at)) - 1U);
                _mm_mask_storeu_epi8(a.keep + at, tail, bytes);
            }
        }
    }
}

#pragma GCC diagnostic pop

bool has_avx512bw() {
    static const bool supported = __builtin_cpu_supports("avx512f") &&
                                  __builtin_cpu_supports("avx512bw") &&
                                  __builtin_cpu_supports("avx512vl");
    return supported;
}

std::array<std::uint32_t, 2> split_key(std::uint64_t key) {
    return {static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32)};
}

}  // namespace

std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> counter,
                                        std::array<std::uint32_t, 2> key) noexcept {
    for (int r = 0; r < kPhiloxRounds; ++r) {
        const std::uint64_t p0 = static_cast<std::uint64_t>(kPhiloxM0) * counter[0];
        const std::uint64_t p1 = static_cast<std::uint64_t>(kPhiloxM1) * counter[2];
        counter = {static_cast<std::uint32_t>(p1 >> 32) ^ counter[1] ^ key[0],
                   static_cast<std::uint32_t>(p1),
                   static_cast<std::uint32_t>(p0 >> 32) ^ counter[3] ^ key[1],
                   static_cast<std::uint32_t>(p0)};
        key[0] += kPhiloxW0;
        key[1] += kPhiloxW1;
    }
    return counter;
}

std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t salt) noexcept {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (salt + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void generate_dropout_mask(std::uint64_t key, std::uint64_t stream, float rate,
                           std::span<std::uint8_t> keep) noexcept {
    // keep when the word is >= rate * 2^32, so P(keep) = 1 - rate to within 2^-32.
    const double scaled = std::ceil(static_cast<double>(rate) * 4294967296.0);
    const auto threshold = static_cast<std::uint32_t>(std::min(scaled, 4294967295.0));
    const auto [k0, k1] = split_key(key);
    const auto s_lo = static_cast<std::uint32_t>(stream);
    const auto s_hi = static_cast<std::uint32_t>(stream >> 32);
    const std::size_t n = keep.size();
    const std::size_t blocks = (n + kMaskBlock - 1) / kMaskBlock;
    const std::size_t chunks = (blocks + kMaskBlocksPerChunk - 1) / kMaskBlocksPerChunk;
    const MaskArgs args{k0, k1, s_lo, s_hi, threshold, keep.data(), n};
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (std::size_t c = 0; c < chunks; ++c) {
        const std::size_t first = c * kMaskBlocksPerChunk;
        const std::size_t last = std::min(blocks, first + kMaskBlocksPerChunk);
        if (has_avx512bw()) {
            fill_mask_blocks_avx512(args, first, last);
        } else {
            fill_mask_blocks_scalar(args, first, last);
        }
    }
}

void generate_uniform(std::uint64_t key, std::uint64_t stream, std::span<float> out) noexcept {
    const auto k = split_key(key);
    for (std::size_t i = 0; i < out.size(); i += 4) {
        const auto words =
            philox4x32({static_cast<std::uint32_t>(i / 4), static_cast<std::uint32_t>(stream),
                        static_cast<std::uint32_t>(stream >> 32), 0},
                       k);
        for (std::size_t j = 0; j < 4 && i + j < out.size(); ++j) {
            out[i + j] = static_cast<float>(words[j] >> 8) * kUnitFloat;
        }
    }
}

void generate_normal(std::uint64_t key, std::uint64_t stream, std::span<float> out) noexcept {
    std::vector<float> uniform(out.size() + 1);
    generate_uniform(key, stream, uniform);
    for (std::size_t i = 0; i < out.size(); i += 2) {
        // 1 - u lies in (0, 1], so the log is finite.
        const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform[i]));
        const double angle = 2.0 * std::numbers::pi * uniform[i + 1];
        out[i] = static_cast<float>(radius * std::cos(angle));
        if (i + 1 < out.size()) {
            out[i + 1] = static_cast<float>(radius * std::sin(angle));
        }
    }
}

}  // namespace digitpipe::nn
