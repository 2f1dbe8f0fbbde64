// Forward pass of every engine layer against a naive loop reference (nn_test_util.hpp), in
// fp32 on tiny shapes with fixed seeds, through the public Network API (one-layer networks),
// so the oneDNN primitives, layouts and edge reorders are all exercised.
#include <gtest/gtest.h>

#include <cmath>

#include "digitpipe/nn/network.hpp"
#include "nn_test_util.hpp"

namespace digitpipe::nn {
namespace {

using testing::Dims4;

// fp32 results against double references: a dot product of at most a few hundred terms
// rounds to a few ulps of its magnitude (~1e-6 for values of order 1).
constexpr double kForwardAbsTol = 1e-5;
constexpr double kForwardRelTol = 1e-5;

struct ConvCase {
    std::int64_t channels, size, filters, kernel, stride, padding;
    bool bias;
};

class ConvForwardTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvForwardTest, MatchesNaiveLoops) {
    const ConvCase p = GetParam();
    const Conv2dSpec conv{.filters = p.filters,
                          .kernel_size = p.kernel,
                          .stride = p.stride,
                          .padding = p.padding,
                          .use_bias = p.bias};
    Network net(testing::single_layer({p.channels, p.size, p.size}, conv), {});
    testing::randomise_parameters(net, 11);
    const Dims4 s{2, p.channels, p.size, p.size};
    const std::vector<float> src = testing::random_values(s.size(), 12);

    const auto shapes = infer_shapes(net.spec(), 2);
    const Dims4 d{2, p.filters, shapes[1][2], shapes[1][3]};
    std::int64_t pad_l = p.padding;
    if (p.padding == kPaddingSame) {
        const std::int64_t total =
            std::max<std::int64_t>((d.h - 1) * p.stride + p.kernel - p.size, 0);
        pad_l = total / 2;  // TensorFlow puts the odd pixel on the right
    }
    const std::vector<float> bias =
        p.bias ? testing::find_parameter(net, ".bias").value : std::vector<float>{};
    const std::vector<float> expected =
        testing::reference_conv(src, s, testing::find_parameter(net, ".weights").value, bias,
                                p.filters, p.kernel, p.stride, pad_l, d);
    for (Mode mode : {Mode::kInfer, Mode::kTrain}) {
        testing::expect_all_near(net.forward(src, mode), expected, kForwardAbsTol, kForwardRelTol,
                                 "conv dst");
    }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvForwardTest,
    ::testing::Values(ConvCase{1, 6, 4, 3, 1, kPaddingSame, true}, ConvCase{3, 7, 5, 3, 2, 0, true},
                      ConvCase{2, 5, 3, 2, 1, 1, false},
                      ConvCase{3, 6, 20, 3, 2, kPaddingSame, true},  // odd "same" padding
                      ConvCase{17, 4, 16, 1, 1, 0, true}));

TEST(DenseForwardTest, MatchesNaiveLoopsAfterFlatten) {
    NetworkSpec spec;
    spec.name = "dense";
    spec.input = {2, 3, 3};
    spec.layers = {{"flat", FlattenSpec{}}, {"fc", DenseSpec{.units = 5}}};
    Network net(spec, {});
    testing::randomise_parameters(net, 21);
    const std::vector<float> src = testing::random_values(3 * 18, 22);
    const std::vector<float> expected =
        testing::reference_dense(src, 3, 18, testing::find_parameter(net, "fc.weights").value,
                                 testing::find_parameter(net, "fc.bias").value, 5);
    testing::expect_all_near(net.forward(src, Mode::kInfer), expected, kForwardAbsTol,
                             kForwardRelTol, "dense dst");
}

TEST(DenseForwardTest, TakesFourDimensionalOneByOneSrc) {
    Network net(testing::single_layer({7, 1, 1}, DenseSpec{.units = 3, .use_bias = false}), {});
    testing::randomise_parameters(net, 23);
    const std::vector<float> src = testing::random_values(4 * 7, 24);
    const std::vector<float> expected =
        testing::reference_dense(src, 4, 7, testing::find_parameter(net, ".weights").value, {}, 3);
    testing::expect_all_near(net.forward(src, Mode::kTrain), expected, kForwardAbsTol,
                             kForwardRelTol, "dense dst");
}

TEST(BatchNormForwardTest, TrainingUsesBatchStatisticsAndUpdatesRunningOnes) {
    const BatchNormSpec bn{.momentum = 0.9F, .epsilon = 1e-3F};
    Network net(testing::single_layer({3, 4, 5}, bn), {});
    testing::randomise_parameters(net, 31, 0.5F, 1.5F);
    const Dims4 s{2, 3, 4, 5};
    const std::vector<float> src = testing::random_values(s.size(), 32, -2.0F, 3.0F);
    std::vector<double> mean;
    std::vector<double> var;
    testing::reference_batch_stats(src, s, mean, var);
    const std::vector<float> expected = testing::reference_batch_norm(
        src, s, mean, var, testing::find_parameter(net, ".scale").value,
        testing::find_parameter(net, ".shift").value, bn.epsilon);
    testing::expect_all_near(net.forward(src, Mode::kTrain), expected, kForwardAbsTol,
                             kForwardRelTol, "batch_norm dst");

    // running = m * running + (1 - m) * batch, from mean 0 and variance 1, with the unbiased
    // batch variance.
    const double count = static_cast<double>(s.n * s.h * s.w);
    const std::vector<float>& running_mean = testing::find_parameter(net, ".running_mean").value;
    const std::vector<float>& running_var = testing::find_parameter(net, ".running_var").value;
    for (std::size_t c = 0; c < 3; ++c) {
        EXPECT_NEAR(running_mean[c], 0.1 * mean[c], kForwardAbsTol);
        EXPECT_NEAR(running_var[c], 0.9 + 0.1 * var[c] * count / (count - 1.0), kForwardAbsTol);
    }
}

TEST(BatchNormForwardTest, InferenceUsesRunningStatistics) {
    const BatchNormSpec bn{};
    Network net(testing::single_layer({4, 3, 3}, bn), {});
    testing::randomise_parameters(net, 33, 0.5F, 1.5F);
    Parameter& running_mean = testing::find_parameter(net, ".running_mean");
    Parameter& running_var = testing::find_parameter(net, ".running_var");
    running_mean.value = {0.5F, -0.25F, 1.0F, 0.0F};
    running_var.value = {1.0F, 0.25F, 4.0F, 2.0F};
    running_mean.mark_updated();
    running_var.mark_updated();
    const Dims4 s{3, 4, 3, 3};
    const std::vector<float> src = testing::random_values(s.size(), 34);
    const std::vector<double> mean(running_mean.value.begin(), running_mean.value.end());
    const std::vector<double> var(running_var.value.begin(), running_var.value.end());
    const std::vector<float> expected = testing::reference_batch_norm(
        src, s, mean, var, testing::find_parameter(net, ".scale").value,
        testing::find_parameter(net, ".shift").value, bn.epsilon);
    testing::expect_all_near(net.forward(src, Mode::kInfer), expected, kForwardAbsTol,
                             kForwardRelTol, "batch_norm dst");
}

TEST(ReluForwardTest, ClipsNegatives) {
    Network net(testing::single_layer({3, 4, 4}, ReluSpec{}), {});
    const std::vector<float> src = testing::random_values(2 * 48, 41);
    std::vector<float> expected(src.size());
    for (std::size_t i = 0; i < src.size(); ++i) {
        expected[i] = std::max(src[i], 0.0F);
    }
    testing::expect_all_near(net.forward(src, Mode::kTrain), expected, 0.0, 0.0, "relu dst");
}

TEST(MaxPoolForwardTest, TakesWindowMaxima) {
    for (const auto& [size, pool, stride] :
         {std::tuple{6, 2, 0}, std::tuple{7, 2, 0}, std::tuple{7, 3, 2}}) {
        const MaxPoolSpec spec{.pool_size = pool, .stride = stride};
        Network net(testing::single_layer({3, size, size}, spec), {});
        const Dims4 s{2, 3, size, size};
        const std::vector<float> src = testing::random_values(s.size(), 51);
        const auto shapes = infer_shapes(net.spec(), 2);
        const Dims4 d{2, 3, shapes[1][2], shapes[1][3]};
        const std::vector<float> expected =
            testing::reference_max_pool(src, s, pool, stride == 0 ? pool : stride, d);
        for (Mode mode : {Mode::kInfer, Mode::kTrain}) {
            testing::expect_all_near(net.forward(src, mode), expected, 0.0, 0.0, "max_pool dst");
        }
    }
}

TEST(GlobalAvgPoolForwardTest, AveragesEachChannel) {
    Network net(testing::single_layer({20, 3, 3}, GlobalAvgPoolSpec{}), {});
    const Dims4 s{2, 20, 3, 3};
    const std::vector<float> src = testing::random_values(s.size(), 61);
    testing::expect_all_near(net.forward(src, Mode::kInfer),
                             testing::reference_global_avg_pool(src, s), kForwardAbsTol,
                             kForwardRelTol, "global_avg_pool dst");
}

TEST(FlattenForwardTest, KeepsChannelRowColumnOrder) {
    Network net(testing::single_layer({3, 2, 2}, FlattenSpec{}), {});
    const std::vector<float> src = testing::random_values(2 * 12, 71);
    testing::expect_all_near(net.forward(src, Mode::kTrain), src, 0.0, 0.0, "flatten dst");
    EXPECT_EQ(net.output_size(), 12);
}

TEST(FlattenForwardTest, UndoesBlockedLayoutOfAConvolution) {
    // 16 filters make oneDNN choose a blocked dst (nChw16c); flatten must return C, H, W order.
    NetworkSpec spec;
    spec.name = "conv_flatten";
    spec.input = {2, 3, 3};
    spec.layers = {{"conv", Conv2dSpec{.filters = 16, .kernel_size = 1, .padding = 0}},
                   {"flat", FlattenSpec{}}};
    Network net(spec, {});
    testing::randomise_parameters(net, 72);
    const Dims4 s{2, 2, 3, 3};
    const std::vector<float> src = testing::random_values(s.size(), 73);
    const std::vector<float> expected = testing::reference_conv(
        src, s, testing::find_parameter(net, "conv.weights").value,
        testing::find_parameter(net, "conv.bias").value, 16, 1, 1, 0, Dims4{2, 16, 3, 3});
    testing::expect_all_near(net.forward(src, Mode::kInfer), expected, kForwardAbsTol,
                             kForwardRelTol, "flatten dst");
}

TEST(NetworkForwardTest, RejectsSrcThatIsNotWholeImages) {
    Network net(testing::single_layer({1, 2, 2}, ReluSpec{}), {});
    const std::vector<float> src(7);
    EXPECT_THROW(net.forward(src, Mode::kInfer), std::invalid_argument);
}

TEST(NetworkForwardTest, BuildsOnePlanPerBatchSizeAndKeepsResults) {
    Network net(testing::single_layer({2, 3, 3}, Conv2dSpec{.filters = 4}), {});
    const std::vector<float> one = testing::random_values(18, 81);
    std::vector<float> three = testing::random_values(54, 82);
    std::copy(one.begin(), one.end(), three.begin() + 18);
    const std::span<const float> single = net.forward(one, Mode::kInfer);
    const std::vector<float> expected(single.begin(), single.end());
    const std::span<const float> batch = net.forward(three, Mode::kInfer);
    const std::vector<float> middle(batch.begin() + 36, batch.begin() + 72);
    testing::expect_all_near(middle, expected, kForwardAbsTol, kForwardRelTol, "image 1 of 3");
}

}  // namespace
}  // namespace digitpipe::nn
