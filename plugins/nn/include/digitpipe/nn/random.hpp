// Counter-based random numbers for the digitpipe engine: Philox4x32-10 (Salmon et al., SC'11,
// the generator behind cuRAND and PyTorch's GPU dropout). A value depends only on (key,
// counter), so dropout masks and initial weights are reproducible from a seed, independent of
// thread count, and any slice of a stream can be generated without the slices before it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace digitpipe::nn {

// Philox4x32-10: four 32-bit outputs per (counter, key).
// Thread-safety: pure function.
std::array<std::uint32_t, 4> philox4x32(std::array<std::uint32_t, 4> counter,
                                        std::array<std::uint32_t, 2> key) noexcept;

// Mixes two 64-bit values into one (splitmix64 finaliser); used to derive per-layer and
// per-parameter keys from the run's seed.
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t salt) noexcept;

// Fills keep[i] with 1 with probability 1 - rate and 0 otherwise, where the decision for
// element i is a pure function of (key, stream, i): writing i = 64 b + 16 j + l (l < 16,
// j < 4), element i keeps when word j of philox4x32({16 b + l, stream_lo, stream_hi, 0}, key)
// is >= rate * 2^32. Vectorised with AVX-512 where the CPU has it (same bits either way), so
// the mask costs little next to the convolutions.
// requires: 0 <= rate < 1.
// Thread-safety: pure function of its arguments; writes only `keep`.
void generate_dropout_mask(std::uint64_t key, std::uint64_t stream, float rate,
                           std::span<std::uint8_t> keep) noexcept;

// Fills out with uniform floats in [0, 1) (24-bit resolution) from Philox stream (key, stream).
void generate_uniform(std::uint64_t key, std::uint64_t stream, std::span<float> out) noexcept;

// Fills out with standard normal floats (Box-Muller on generate_uniform's stream).
void generate_normal(std::uint64_t key, std::uint64_t stream, std::span<float> out) noexcept;

}  // namespace digitpipe::nn
