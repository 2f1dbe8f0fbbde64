// Softmax cross-entropy: loss and accuracy against a direct computation, the fused gradient
// against finite differences of the loss, stability on large logits, and refusal of bad labels.
#include <gtest/gtest.h>

#include <cmath>

#include "digitpipe/nn/loss.hpp"
#include "nn_test_util.hpp"

namespace digitpipe::nn {
namespace {

// The loss sums in double and rounds once to float: 1e-6 relative is a few float ulps.
constexpr double kLossTol = 1e-6;
// Central difference of a smooth double-accumulated function with h = 1e-3 on float logits:
// truncation ~h^2/6 * |f'''| ~ 1e-7, rounding of the float loss ~1e-7 / 1e-3 = 1e-4.
constexpr double kLossStep = 1e-3;
constexpr double kLossGradTol = 3e-4;

TEST(SoftmaxCrossEntropyTest, MatchesDirectComputation) {
    const std::vector<float> logits = {1.0F, 2.0F, 0.5F, -1.0F, 0.0F, 3.0F};
    const std::vector<std::int32_t> labels = {1, 0};
    std::vector<float> diff(6);
    const StepResult r = softmax_cross_entropy(logits, labels, 3, diff);
    const double row0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5)) - 2.0;
    const double row1 = std::log(std::exp(-1.0) + std::exp(0.0) + std::exp(3.0)) + 1.0;
    EXPECT_NEAR(r.loss, (row0 + row1) / 2.0, kLossTol * (row0 + row1));
    EXPECT_EQ(r.correct, 1);  // row 0 predicts 1 (right), row 1 predicts 2 (wrong)
    const double p01 = std::exp(2.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(0.5));
    EXPECT_NEAR(diff[1], (p01 - 1.0) / 2.0, kLossTol);
}

TEST(SoftmaxCrossEntropyTest, GradientMatchesFiniteDifferences) {
    std::vector<float> logits = testing::random_values(4 * 10, 201, -3.0F, 3.0F);
    const std::vector<std::int32_t> labels = {3, 0, 9, 5};
    std::vector<float> diff(logits.size());
    softmax_cross_entropy(logits, labels, 10, diff);
    for (std::size_t i = 0; i < logits.size(); ++i) {
        const float saved = logits[i];
        logits[i] = static_cast<float>(saved + kLossStep);
        const double plus = softmax_cross_entropy(logits, labels, 10, {}).loss;
        logits[i] = static_cast<float>(saved - kLossStep);
        const double minus = softmax_cross_entropy(logits, labels, 10, {}).loss;
        logits[i] = saved;
        EXPECT_NEAR(diff[i], (plus - minus) / (2 * kLossStep), kLossGradTol) << "logit " << i;
    }
}

TEST(SoftmaxCrossEntropyTest, StaysFiniteOnHugeLogits) {
    const std::vector<float> logits = {1000.0F, -1000.0F, 0.0F, 1e30F};
    const std::vector<std::int32_t> labels = {1, 0};
    std::vector<float> diff(4);
    const StepResult r = softmax_cross_entropy(logits, labels, 2, diff);
    EXPECT_NEAR(r.loss, (2000.0 + 1e30) / 2.0, 1e24);
    for (float d : diff) {
        EXPECT_TRUE(std::isfinite(d));
    }
}

TEST(SoftmaxCrossEntropyTest, RefusesLabelOutOfRange) {
    const std::vector<float> logits(6);
    const std::vector<std::int32_t> labels = {0, 3};
    EXPECT_THROW(softmax_cross_entropy(logits, labels, 3, {}), std::invalid_argument);
    const std::vector<std::int32_t> negative = {-1, 0};
    EXPECT_THROW(softmax_cross_entropy(logits, negative, 3, {}), std::invalid_argument);
    EXPECT_THROW(softmax_cross_entropy(logits, std::vector<std::int32_t>{0}, 3, {}),
                 std::invalid_argument);
}

}  // namespace
}  // namespace digitpipe::nn
