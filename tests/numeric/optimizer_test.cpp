// Optimizer updates against hand computations: SGD (plain, momentum, Nesterov, L2 decay) and
// Adam (bias correction, AdamW's decoupled decay, coupled L2), two steps each with fixed
// gradients, on a two-element parameter.
#include <gtest/gtest.h>

#include <cmath>

#include "digitpipe/nn/optimizer.hpp"

namespace digitpipe::nn {
namespace {

// Hand values are exact decimals; fp32 arithmetic on numbers of order 1 is good to ~1e-7.
constexpr float kUpdateTol = 1e-6F;

Parameter make_parameter(std::vector<float> value, std::vector<float> grad, bool decays) {
    // Constructed, not assigned: g++ 12 -O2 warns falsely (-Wrestrict) on name = "...".
    const auto size = static_cast<std::int64_t>(value.size());
    return Parameter{.name = std::string("p"),
                     .dims = {size},
                     .value = std::move(value),
                     .grad = std::move(grad),
                     .trainable = true,
                     .decays = decays};
}

void expect_values(const Parameter& p, std::vector<float> expected) {
    ASSERT_EQ(p.value.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_NEAR(p.value[i], expected[i], kUpdateTol) << p.name << "[" << i << "]";
    }
}

TEST(SgdTest, MomentumAccumulatesVelocity) {
    Parameter p = make_parameter({1.0F, -2.0F}, {0.5F, 0.25F}, true);
    Sgd sgd({&p}, {.momentum = 0.9F});
    sgd.step(0.1F);  // v = g = (0.5, 0.25); w -= 0.1 v
    expect_values(p, {0.95F, -2.025F});
    sgd.step(0.1F);  // v = 0.9 v + g = (0.95, 0.475)
    expect_values(p, {0.855F, -2.0725F});
    EXPECT_EQ(p.version, 2U);
    EXPECT_EQ(sgd.steps(), 2);
}

TEST(SgdTest, NesterovLooksAhead) {
    Parameter p = make_parameter({1.0F, -2.0F}, {0.5F, 0.25F}, true);
    Sgd sgd({&p}, {.momentum = 0.9F, .nesterov = true});
    sgd.step(0.1F);  // w -= 0.1 (g + 0.9 v), v = g: 0.1 * 1.9 g
    expect_values(p, {0.905F, -2.0475F});
    sgd.step(0.1F);  // v = (0.95, 0.475); w -= 0.1 (g + 0.9 v) = (0.1355, 0.06775)
    expect_values(p, {0.7695F, -2.11525F});
}

TEST(SgdTest, WeightDecayOnlyOnDecayingParameters) {
    Parameter weights = make_parameter({1.0F, -2.0F}, {0.5F, 0.25F}, true);
    Parameter bias = make_parameter({1.0F, -2.0F}, {0.5F, 0.25F}, false);
    Sgd sgd({&weights, &bias}, {.momentum = 0.0F, .weight_decay = 0.1F});
    sgd.step(0.1F);  // weights: g + 0.1 w = (0.6, 0.05)
    expect_values(weights, {0.94F, -2.005F});
    expect_values(bias, {0.95F, -2.025F});
}

TEST(SgdTest, RefusesBadOptions) {
    Parameter p = make_parameter({1.0F}, {0.0F}, true);
    EXPECT_THROW(Sgd({&p}, {.momentum = 1.0F}), std::invalid_argument);
    EXPECT_THROW(Sgd({&p}, {.weight_decay = -1.0F}), std::invalid_argument);
}

TEST(AdamTest, FirstStepMovesEachWeightByTheLearningRate) {
    // With bias correction, m_hat = g and v_hat = g^2 after one step: the update is
    // lr * g / (|g| + eps), lr times the sign for |g| >> eps.
    Parameter p = make_parameter({1.0F, -2.0F}, {0.5F, 0.25F}, true);
    Adam adam({&p}, {.epsilon = 1e-8F});
    adam.step(0.01F);
    expect_values(p, {0.99F, -2.01F});
}

TEST(AdamTest, SecondStepUsesBiasCorrectedMoments) {
    Parameter p = make_parameter({1.0F, -2.0F}, {0.5F, 0.25F}, true);
    Adam adam({&p}, {.epsilon = 1e-8F});
    adam.step(0.01F);
    p.grad = {-0.5F, 0.5F};
    adam.step(0.01F);
    // By hand, element 0: m = 0.9 * 0.05 + 0.1 * -0.5 = -0.005, v = 0.999 * 0.00025 +
    // 0.001 * 0.25 = 0.00049975; m_hat = m / 0.19, v_hat = v / 0.001999.
    const double m_hat0 = -0.005 / 0.19;
    const double v_hat0 = 0.00049975 / 0.001999;
    // Element 1: m = 0.9 * 0.025 + 0.05 = 0.0725, v = 0.999 * 0.0000625 + 0.00025.
    const double m_hat1 = 0.0725 / 0.19;
    const double v_hat1 = (0.999 * 0.0000625 + 0.00025) / 0.001999;
    expect_values(p, {static_cast<float>(0.99 - 0.01 * m_hat0 / (std::sqrt(v_hat0) + 1e-8)),
                      static_cast<float>(-2.01 - 0.01 * m_hat1 / (std::sqrt(v_hat1) + 1e-8))});
    EXPECT_EQ(adam.slots().size(), 2U);
    EXPECT_NEAR(adam.slots()[0].values[0], -0.005F, kUpdateTol);
}

TEST(AdamTest, DecoupledWeightDecayShrinksWeightsOutsideTheAdaptiveStep) {
    Parameter p = make_parameter({1.0F, -2.0F}, {0.5F, 0.25F}, true);
    Adam adam({&p}, {.epsilon = 1e-8F, .weight_decay = 0.1F, .decoupled_weight_decay = true});
    adam.step(0.01F);  // w (1 - 0.01 * 0.1) - 0.01 sign(g)
    expect_values(p, {0.989F, -2.008F});
}

TEST(AdamTest, CoupledWeightDecayEntersTheGradient) {
    // g + 0.1 w = (0.6, -0.1): the second element's step flips sign.
    Parameter p = make_parameter({1.0F, -2.0F}, {0.5F, 0.1F}, true);
    Adam adam({&p}, {.epsilon = 1e-8F, .weight_decay = 0.1F, .decoupled_weight_decay = false});
    adam.step(0.01F);
    expect_values(p, {0.99F, -1.99F});
}

TEST(AdamTest, RefusesBadOptions) {
    Parameter p = make_parameter({1.0F}, {0.0F}, true);
    EXPECT_THROW(Adam({&p}, {.beta1 = 1.0F}), std::invalid_argument);
    EXPECT_THROW(Adam({&p}, {.epsilon = 0.0F}), std::invalid_argument);
}

}  // namespace
}  // namespace digitpipe::nn
