// Counter-based randomness: Philox4x32-10 known answers, the vectorised dropout-mask kernel
// against the scalar definition, mask statistics and reproducibility, and the dropout layer's
// training and inference behaviour.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include <oneapi/dnnl/dnnl.hpp>

#include "digitpipe/nn/network.hpp"
#include "digitpipe/nn/random.hpp"
#include "nn_test_util.hpp"

namespace digitpipe::nn {
namespace {

// Elements for the mask statistics: the kept fraction's standard deviation is
// sqrt(p (1 - p) / n) ~ 7e-4 at n = 4e5, so a tolerance of 5e-3 is 7 sigma.
constexpr std::size_t kStatisticsElements = 400'000;
constexpr double kKeptFractionTol = 5e-3;

TEST(PhiloxTest, MatchesRandom123KnownAnswers) {
    // Random123's kat_vectors for philox4x32 with 10 rounds.
    EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
              (std::array<std::uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
    EXPECT_EQ(philox4x32({~0U, ~0U, ~0U, ~0U}, {~0U, ~0U}),
              (std::array<std::uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
    EXPECT_EQ(
        philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
        (std::array<std::uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(DropoutMaskTest, VectorisedKernelMatchesScalarDefinition) {
    const std::uint64_t key = 0x0123456789ABCDEFULL;
    const std::uint64_t stream = 0x00000007'00000042ULL;
    const float rate = 0.3F;
    const auto threshold = static_cast<std::uint32_t>(std::ceil(0.3F * 4294967296.0));
    for (std::size_t n : {1UL, 63UL, 64UL, 1000UL, 70'001UL}) {  // partial blocks and chunks
        std::vector<std::uint8_t> keep(n, 7);
        generate_dropout_mask(key, stream, rate, keep);
        for (std::size_t i = 0; i < n; ++i) {
            // i = 64 b + 16 j + l takes word j of counter 16 b + l (random.hpp).
            const std::size_t b = i / 64;
            const std::size_t j = (i % 64) / 16;
            const std::size_t l = i % 16;
            const auto words = philox4x32(
                {static_cast<std::uint32_t>(16 * b + l), static_cast<std::uint32_t>(stream),
                 static_cast<std::uint32_t>(stream >> 32), 0},
                {static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32)});
            ASSERT_EQ(keep[i], words[j] >= threshold ? 1 : 0) << "n " << n << " i " << i;
        }
    }
}

TEST(DropoutMaskTest, KeepsOneMinusRateOnAverage) {
    std::vector<std::uint8_t> keep(kStatisticsElements);
    for (float rate : {0.0F, 0.25F, 0.5F, 0.9F}) {
        generate_dropout_mask(/*key=*/3, /*stream=*/1, rate, keep);
        double kept = 0;
        for (std::uint8_t k : keep) {
            kept += k;
        }
        EXPECT_NEAR(kept / static_cast<double>(keep.size()), 1.0 - rate, kKeptFractionTol)
            << "rate " << rate;
    }
}

TEST(DropoutMaskTest, DependsOnlyOnKeyAndStream) {
    std::vector<std::uint8_t> a(4096);
    std::vector<std::uint8_t> b(4096);
    std::vector<std::uint8_t> c(4096);
    generate_dropout_mask(5, 9, 0.5F, a);
    generate_dropout_mask(5, 9, 0.5F, b);
    generate_dropout_mask(5, 10, 0.5F, c);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

TEST(DropoutLayerTest, ZeroesOrScalesAndIsIdentityInInference) {
    const DropoutSpec spec{.rate = 0.25F};
    Network net(testing::single_layer({16, 8, 8}, spec), {.seed = 17});
    const std::vector<float> src = testing::values_away_from_zero(4 * 1024, 301, 0.1F);
    const std::span<const float> train = net.forward(src, Mode::kTrain);
    std::size_t dropped = 0;
    for (std::size_t i = 0; i < src.size(); ++i) {
        if (train[i] == 0.0F) {
            ++dropped;
        } else {
            EXPECT_FLOAT_EQ(train[i], src[i] / 0.75F);
        }
    }
    EXPECT_GT(dropped, src.size() / 8);
    EXPECT_LT(dropped, src.size() * 3 / 8);
    const std::span<const float> infer = net.forward(src, Mode::kInfer);
    testing::expect_all_near(infer, src, 0.0, 0.0, "inference dropout");
}

TEST(DropoutLayerTest, Bf16MaskScalesSurvivorsAndBackpropagatesThroughThem) {
    // bf16 keeps 8 significant bits: src / 0.75 rounds to within 2^-8 relative.
    constexpr double kBf16RelTol = 1.0 / 256.0;
    const DropoutSpec spec{.rate = 0.25F};
    NetworkOptions options{.precision = Precision::kBf16, .seed = 17, .compute_diff_src = true};
    std::optional<Network> net;
    try {
        net.emplace(testing::single_layer({16, 4, 4}, spec), options);
        const std::vector<float> src = testing::values_away_from_zero(2 * 256, 303, 0.1F);
        const std::span<const float> dst = net->forward(src, Mode::kTrain);
        const std::vector<float> kept(dst.begin(), dst.end());
        std::vector<float> diff_dst(src.size(), 1.0F);
        net->backward(diff_dst);
        const std::span<const float> diff_src = net->diff_src();
        for (std::size_t i = 0; i < src.size(); ++i) {
            if (kept[i] == 0.0F) {
                EXPECT_EQ(diff_src[i], 0.0F) << i;
            } else {
                // src itself was rounded to bf16 on the way in, hence twice the tolerance.
                EXPECT_NEAR(kept[i], src[i] / 0.75F, 2 * kBf16RelTol * std::abs(src[i] / 0.75F));
                EXPECT_NEAR(diff_src[i], 1.0F / 0.75F, kBf16RelTol) << i;
            }
        }
    } catch (const dnnl::error&) {
        GTEST_SKIP() << "oneDNN has no bf16 kernels on this CPU";
    }
}

TEST(DropoutLayerTest, ReproducibleFromSeedAndStep) {
    const DropoutSpec spec{.rate = 0.5F};
    const std::vector<float> src = testing::values_away_from_zero(2 * 64, 302, 0.1F);
    Network a(testing::single_layer({4, 4, 4}, spec), {.seed = 1});
    Network b(testing::single_layer({4, 4, 4}, spec), {.seed = 1});
    Network c(testing::single_layer({4, 4, 4}, spec), {.seed = 2});
    const std::span<const float> a1 = a.forward(src, Mode::kTrain);
    const std::vector<float> first(a1.begin(), a1.end());
    const std::span<const float> b1 = b.forward(src, Mode::kTrain);
    EXPECT_EQ(first, std::vector<float>(b1.begin(), b1.end()));
    const std::span<const float> c1 = c.forward(src, Mode::kTrain);
    EXPECT_NE(first, std::vector<float>(c1.begin(), c1.end()));
    const std::span<const float> a2 = a.forward(src, Mode::kTrain);  // next step, new mask
    EXPECT_NE(first, std::vector<float>(a2.begin(), a2.end()));
    a.set_step_count(0);  // resuming at step 0 replays the first mask
    const std::span<const float> again = a.forward(src, Mode::kTrain);
    EXPECT_EQ(first, std::vector<float>(again.begin(), again.end()));
}

TEST(InitialisationTest, ReproducibleAndScaledByFanIn) {
    NetworkSpec spec;
    spec.name = "init";
    spec.input = {64, 3, 3};
    spec.layers = {{"c", Conv2dSpec{.filters = 64, .init = Init::kHeNormal}}};
    const Network a(spec, {.seed = 4});
    const Network b(spec, {.seed = 4});
    const Network c(spec, {.seed = 5});
    EXPECT_EQ(a.parameters()[0].value, b.parameters()[0].value);
    EXPECT_NE(a.parameters()[0].value, c.parameters()[0].value);
    // He normal: variance 2 / fan_in with fan_in = 64 * 9; 36864 samples give the sample
    // variance a relative standard error of sqrt(2 / 36864) ~ 0.7%; allow 5%.
    double sum_sq = 0.0;
    for (float v : a.parameters()[0].value) {
        sum_sq += static_cast<double>(v) * v;
    }
    const double variance = sum_sq / static_cast<double>(a.parameters()[0].value.size());
    EXPECT_NEAR(variance, 2.0 / (64 * 9), 0.05 * 2.0 / (64 * 9));
    for (float v : a.parameters()[1].value) {
        EXPECT_EQ(v, 0.0F);  // biases start at zero
    }
}

}  // namespace
}  // namespace digitpipe::nn
