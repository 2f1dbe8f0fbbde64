// Backward pass of every engine layer against central finite differences of
// L = sum(dst .* r): diff_src and, for layers with parameters, every weight, bias, scale and
// shift gradient, on tiny fp32 shapes with fixed seeds. Also checks short chains of layers
// (blocked layouts flowing between primitives) and that fusing batch norm with ReLU changes
// nothing.
#include <gtest/gtest.h>

#include "digitpipe/nn/network.hpp"
#include "nn_test_util.hpp"

namespace digitpipe::nn {
namespace {

using testing::GradientTolerance;

// Layers linear in the perturbed value (conv, dense, pooling, dropout, flatten, ReLU away
// from its kink): the central difference is exact but for fp32 rounding of L, about
// 1e-7 * |L| / h ~ 1e-4 with |L| ~ 10 and h = 1e-2; 2e-3 leaves margin, and 1e-3 relative
// covers the larger gradients.
constexpr GradientTolerance kLinearTolerance{.step = 1e-2, .abs_tol = 2e-3, .rel_tol = 1e-3};
// Batch norm is smooth but not linear: h = 1e-2 keeps the O(h^2) truncation error near 1e-4
// for inputs of order 1 while rounding stays near 1e-4 too; 1e-2 relative absorbs both.
constexpr GradientTolerance kSmoothTolerance{.step = 1e-2, .abs_tol = 3e-3, .rel_tol = 1e-2};
// Weights feeding max pooling: a step moves every conv output by up to h * |src|, and some
// windows switch their max (seen: errors of 0.04 at h = 1e-2, 0.08 at h = 1e-3 for this seed).
// h = 1e-4 keeps every winner; rounding then costs about 1e-7 * |L| / h ~ 5e-3 for |L| ~ 5.
constexpr GradientTolerance kPoolChainTolerance{.step = 1e-4, .abs_tol = 2e-2, .rel_tol = 1e-2};
// Fused against unfused batch norm + ReLU: the same arithmetic in a different kernel.
constexpr double kFusionAbsTol = 1e-5;
constexpr double kFusionRelTol = 1e-5;

NetworkOptions with_diff_src(ActivationLayout layout = ActivationLayout::kBlocked) {
    NetworkOptions options;
    options.compute_diff_src = true;
    options.layout = layout;
    return options;
}

// Both activation layouts, so the blocked and the channels-last paths are each checked.
constexpr ActivationLayout kLayouts[] = {ActivationLayout::kBlocked,
                                         ActivationLayout::kChannelsLast};

struct ConvCase {
    std::int64_t channels, size, filters, kernel, stride, padding;
    bool bias;
};

class ConvGradientTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvGradientTest, MatchesFiniteDifferences) {
    const ConvCase p = GetParam();
    const Conv2dSpec conv{.filters = p.filters,
                          .kernel_size = p.kernel,
                          .stride = p.stride,
                          .padding = p.padding,
                          .use_bias = p.bias};
    for (ActivationLayout layout : kLayouts) {
        SCOPED_TRACE(layout == ActivationLayout::kBlocked ? "blocked" : "channels-last");
        Network net(testing::single_layer({p.channels, p.size, p.size}, conv),
                    with_diff_src(layout));
        testing::randomise_parameters(net, 101);
        const std::vector<float> src =
            testing::random_values(static_cast<std::size_t>(2 * p.channels * p.size * p.size), 102);
        testing::expect_gradients_match_finite_differences(net, src, kLinearTolerance);
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvGradientTest,
                         ::testing::Values(ConvCase{1, 5, 4, 3, 1, kPaddingSame, true},
                                           ConvCase{3, 6, 5, 3, 2, 0, true},
                                           ConvCase{2, 5, 3, 2, 1, 1, false},
                                           ConvCase{3, 6, 17, 3, 2, kPaddingSame, true}));

TEST(DenseGradientTest, MatchesFiniteDifferences) {
    NetworkSpec spec;
    spec.name = "dense";
    spec.input = {2, 2, 2};
    spec.layers = {{"flat", FlattenSpec{}}, {"fc", DenseSpec{.units = 4}}};
    Network net(spec, with_diff_src());
    testing::randomise_parameters(net, 111);
    testing::expect_gradients_match_finite_differences(net, testing::random_values(3 * 8, 112),
                                                       kLinearTolerance);
}

TEST(DenseGradientTest, MatchesFiniteDifferencesWithoutBiasOnOneByOneSrc) {
    Network net(testing::single_layer({6, 1, 1}, DenseSpec{.units = 3, .use_bias = false}),
                with_diff_src());
    testing::randomise_parameters(net, 113);
    testing::expect_gradients_match_finite_differences(net, testing::random_values(2 * 6, 114),
                                                       kLinearTolerance);
}

TEST(BatchNormGradientTest, MatchesFiniteDifferences) {
    Network net(testing::single_layer({3, 3, 4}, BatchNormSpec{}), with_diff_src());
    testing::randomise_parameters(net, 121, 0.5F, 1.5F);
    testing::expect_gradients_match_finite_differences(
        net, testing::random_values(2 * 36, 122, -2.0F, 2.0F), kSmoothTolerance);
}

TEST(BatchNormGradientTest, MatchesFiniteDifferencesOnTwoDimensionalSrc) {
    NetworkSpec spec;
    spec.name = "bn_2d";
    spec.input = {5, 1, 1};
    spec.layers = {{"flat", FlattenSpec{}}, {"bn", BatchNormSpec{}}};
    Network net(spec, with_diff_src());
    testing::randomise_parameters(net, 126, 0.5F, 1.5F);
    testing::expect_gradients_match_finite_differences(
        net, testing::random_values(6 * 5, 127, -2.0F, 2.0F), kSmoothTolerance);
}

TEST(BatchNormGradientTest, FusedReluEqualsSeparateLayers) {
    NetworkSpec spec;
    spec.name = "bn_relu";
    spec.input = {20, 3, 3};
    spec.layers = {{"bn", BatchNormSpec{}}, {"relu", ReluSpec{}}};
    NetworkOptions fused = with_diff_src();
    NetworkOptions separate = with_diff_src();
    separate.fuse_batch_norm_relu = false;
    Network a(spec, fused);
    Network b(spec, separate);
    testing::randomise_parameters(a, 123, 0.5F, 1.5F);
    testing::randomise_parameters(b, 123, 0.5F, 1.5F);
    const std::vector<float> src = testing::random_values(2 * 180, 124, -2.0F, 2.0F);
    const std::vector<float> r = testing::random_values(2 * 180, 125);
    const std::span<const float> dst_a = a.forward(src, Mode::kTrain);
    const std::span<const float> dst_b = b.forward(src, Mode::kTrain);
    testing::expect_all_near(dst_a, std::vector<float>(dst_b.begin(), dst_b.end()), kFusionAbsTol,
                             kFusionRelTol, "dst");
    a.backward(r);
    b.backward(r);
    const std::span<const float> diff_a = a.diff_src();
    const std::span<const float> diff_b = b.diff_src();
    testing::expect_all_near(diff_a, std::vector<float>(diff_b.begin(), diff_b.end()),
                             kFusionAbsTol, kFusionRelTol, "diff_src");
    for (const char* name : {"bn.scale", "bn.shift"}) {
        testing::expect_all_near(testing::find_parameter(a, name).grad,
                                 testing::find_parameter(b, name).grad, kFusionAbsTol,
                                 kFusionRelTol, name);
    }
    // Inference: running statistics (updated identically by both) and the fused ReLU.
    const std::span<const float> infer_a = a.forward(src, Mode::kInfer);
    const std::vector<float> expected(infer_a.begin(), infer_a.end());
    testing::expect_all_near(b.forward(src, Mode::kInfer), expected, kFusionAbsTol, kFusionRelTol,
                             "inference dst");
}

TEST(ReluGradientTest, MatchesFiniteDifferencesAwayFromTheKink) {
    Network net(testing::single_layer({3, 3, 3}, ReluSpec{}), with_diff_src());
    // 5 h from zero: no input crosses the kink during the difference.
    testing::expect_gradients_match_finite_differences(
        net, testing::values_away_from_zero(2 * 27, 131, 0.05F), kLinearTolerance);
}

TEST(MaxPoolGradientTest, MatchesFiniteDifferencesWithoutTies) {
    for (const auto& [size, pool, stride] : {std::tuple{4, 2, 0}, std::tuple{5, 3, 2}}) {
        Network net(testing::single_layer({2, size, size},
                                          MaxPoolSpec{.pool_size = pool, .stride = stride}),
                    with_diff_src());
        // Values 0.05 apart: a step of 1e-2 never changes which element is a window's max.
        testing::expect_gradients_match_finite_differences(
            net,
            testing::distinct_values(static_cast<std::size_t>(2 * 2 * size * size), 141, 0.05F),
            kLinearTolerance);
    }
}

TEST(GlobalAvgPoolGradientTest, MatchesFiniteDifferences) {
    Network net(testing::single_layer({17, 3, 2}, GlobalAvgPoolSpec{}), with_diff_src());
    testing::expect_gradients_match_finite_differences(net, testing::random_values(2 * 102, 151),
                                                       kLinearTolerance);
}

TEST(DropoutGradientTest, MatchesFiniteDifferencesForAFixedMask) {
    Network net(testing::single_layer({3, 4, 4}, DropoutSpec{.rate = 0.3F}), with_diff_src());
    testing::expect_gradients_match_finite_differences(net, testing::random_values(2 * 48, 161),
                                                       kLinearTolerance);
}

TEST(FlattenGradientTest, MatchesFiniteDifferences) {
    Network net(testing::single_layer({3, 2, 3}, FlattenSpec{}), with_diff_src());
    testing::expect_gradients_match_finite_differences(net, testing::random_values(2 * 18, 171),
                                                       kLinearTolerance);
}

// Layers whose dst layouts differ (blocked convolution output into batch norm, dropout on a
// padded nChw16c buffer, pooling, a 4-D src into inner product) backpropagate end to end.
TEST(ChainGradientTest, ConvBatchNormDropoutPoolDenseMatchesFiniteDifferences) {
    NetworkSpec spec;
    spec.name = "chain";
    spec.input = {2, 6, 6};
    spec.layers = {{"conv", Conv2dSpec{.filters = 20}},
                   {"bn", BatchNormSpec{}},
                   {"drop", DropoutSpec{.rate = 0.25F}},
                   {"gap", GlobalAvgPoolSpec{}},
                   {"fc", DenseSpec{.units = 3}}};
    for (ActivationLayout layout : kLayouts) {
        SCOPED_TRACE(layout == ActivationLayout::kBlocked ? "blocked" : "channels-last");
        Network net(spec, with_diff_src(layout));
        testing::randomise_parameters(net, 181, 0.2F, 1.0F);
        testing::expect_gradients_match_finite_differences(net, testing::random_values(2 * 72, 182),
                                                           kSmoothTolerance);
    }
}

TEST(ChainGradientTest, ConvPoolFlattenDenseMatchesFiniteDifferences) {
    NetworkSpec spec;
    spec.name = "chain2";
    spec.input = {1, 4, 4};
    spec.layers = {{"conv", Conv2dSpec{.filters = 16, .kernel_size = 3}},
                   {"pool", MaxPoolSpec{}},
                   {"flat", FlattenSpec{}},
                   {"fc", DenseSpec{.units = 2}}};
    Network net(spec, with_diff_src(ActivationLayout::kChannelsLast));
    testing::randomise_parameters(net, 183);
    // Parameters only: a diff_src step moves several conv outputs at once.
    testing::expect_gradients_match_finite_differences(net, testing::random_values(2 * 16, 184),
                                                       kPoolChainTolerance, /*check_src=*/false);
}

}  // namespace
}  // namespace digitpipe::nn
