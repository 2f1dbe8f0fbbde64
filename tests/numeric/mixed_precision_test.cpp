// Mixed precision (bf16 compute, fp32 master weights): forward logits and weight gradients of
// a small CNN in bf16 against the same network in fp32, and a short training run in both
// precisions that must learn a synthetic task.
#include <gtest/gtest.h>

#include <cmath>

#include <oneapi/dnnl/dnnl.hpp>

#include "digitpipe/nn/loss.hpp"
#include "digitpipe/nn/network.hpp"
#include "digitpipe/nn/optimizer.hpp"
#include "nn_test_util.hpp"

namespace digitpipe::nn {
namespace {

// bf16 keeps 8 significant bits (relative rounding 2^-9 ~ 2e-3 per value); through three
// weighted layers with batch norm the logits drift by a few of those. Measured here: 4e-3 to
// 7e-3 of the largest logit. 4e-2 leaves margin while still catching a wrong layout or a
// missing conversion (which give errors of order 1).
constexpr double kBf16LogitTol = 4e-2;
// Gradients are sums over the batch of bf16 products: judge them by direction (cosine
// similarity with the fp32 gradient); measured 0.996 to 1.0.
constexpr double kBf16GradCosineMin = 0.98;
// Training smoke test: 4 classes, so chance accuracy is 0.25.
constexpr int kSmokeClasses = 4;
constexpr std::int64_t kSmokeBatch = 32;
constexpr int kSmokeSteps = 40;
constexpr double kSmokeMinAccuracy = 0.8;

NetworkSpec small_cnn() {
    NetworkSpec spec;
    spec.name = "small";
    spec.input = {1, 12, 12};
    // Momentum 0.9 rather than Keras' 0.99: the smoke test's 40 steps must bring the running
    // statistics close to the batch ones for inference.
    spec.layers = {{"conv1", Conv2dSpec{.filters = 16}},
                   {"bn1", BatchNormSpec{.momentum = 0.9F}},
                   {"relu1", ReluSpec{}},
                   {"pool1", MaxPoolSpec{}},
                   {"conv2", Conv2dSpec{.filters = 32}},
                   {"bn2", BatchNormSpec{.momentum = 0.9F}},
                   {"relu2", ReluSpec{}},
                   {"gap", GlobalAvgPoolSpec{}},
                   {"fc", DenseSpec{.units = kSmokeClasses}}};
    return spec;
}

// Builds a network, or skips the test on a CPU whose oneDNN has no bf16 kernels.
std::optional<Network> try_build(const NetworkSpec& spec, Precision precision) {
    try {
        Network net(spec, {.precision = precision, .seed = 3});
        const std::vector<float> probe(static_cast<std::size_t>(net.input_size()));
        net.forward(probe, Mode::kInfer);
        return net;
    } catch (const dnnl::error&) {
        return std::nullopt;
    }
}

double max_abs(std::span<const float> values) {
    double m = 0.0;
    for (float v : values) {
        m = std::max(m, std::abs(static_cast<double>(v)));
    }
    return m;
}

// Synthetic images: a bright 4x4 square in the quadrant named by the label, on noise.
void make_batch(std::uint64_t seed, std::vector<float>& src, std::vector<std::int32_t>& labels) {
    src = testing::random_values(static_cast<std::size_t>(kSmokeBatch * 144), seed, 0.0F, 0.3F);
    labels.resize(static_cast<std::size_t>(kSmokeBatch));
    for (std::int64_t n = 0; n < kSmokeBatch; ++n) {
        const auto label =
            static_cast<std::int32_t>((n * 7 + static_cast<std::int64_t>(seed)) % kSmokeClasses);
        labels[static_cast<std::size_t>(n)] = label;
        const std::int64_t top = (label / 2) * 6 + 1;
        const std::int64_t left = (label % 2) * 6 + 1;
        for (std::int64_t y = top; y < top + 4; ++y) {
            for (std::int64_t x = left; x < left + 4; ++x) {
                src[static_cast<std::size_t>(n * 144 + y * 12 + x)] += 1.0F;
            }
        }
    }
}

TEST(MixedPrecisionTest, Bf16ForwardIsCloseToFp32) {
    std::optional<Network> bf16 = try_build(small_cnn(), Precision::kBf16);
    if (!bf16) {
        GTEST_SKIP() << "oneDNN has no bf16 kernels on this CPU";
    }
    Network fp32(small_cnn(), {.precision = Precision::kFp32, .seed = 3});
    Network bf16_channels_last(
        small_cnn(),
        {.precision = Precision::kBf16, .seed = 3, .layout = ActivationLayout::kChannelsLast});
    const std::vector<float> src = testing::random_values(8 * 144, 401);
    for (Mode mode : {Mode::kInfer, Mode::kTrain}) {
        const std::span<const float> reference = fp32.forward(src, mode);
        const std::vector<float> expected(reference.begin(), reference.end());
        const double scale = max_abs(expected);
        const std::string what = mode == Mode::kTrain ? "train logits" : "infer logits";
        testing::expect_all_near(bf16->forward(src, mode), expected, kBf16LogitTol * scale, 0.0,
                                 what);
        testing::expect_all_near(bf16_channels_last.forward(src, mode), expected,
                                 kBf16LogitTol * scale, 0.0, what + " (channels-last)");
    }
}

TEST(MixedPrecisionTest, Bf16WeightGradientsPointLikeFp32) {
    std::optional<Network> bf16 = try_build(small_cnn(), Precision::kBf16);
    if (!bf16) {
        GTEST_SKIP() << "oneDNN has no bf16 kernels on this CPU";
    }
    Network fp32(small_cnn(), {.precision = Precision::kFp32, .seed = 3});
    std::vector<float> src;
    std::vector<std::int32_t> labels;
    make_batch(402, src, labels);
    fp32.train_step(src, labels);
    bf16->train_step(src, labels);
    for (std::size_t k = 0; k < fp32.parameters().size(); ++k) {
        const Parameter& a = fp32.parameters()[k];
        const Parameter& b = bf16->parameters()[k];
        // A bias followed by batch norm has a zero true gradient (the batch mean cancels it):
        // both precisions return rounding noise (|g|^2 ~ 1e-14), whose direction means nothing.
        if (!a.trainable || a.name == "conv1.bias" || a.name == "conv2.bias") {
            continue;
        }
        double dot = 0.0;
        double na = 0.0;
        double nb = 0.0;
        for (std::size_t i = 0; i < a.grad.size(); ++i) {
            dot += static_cast<double>(a.grad[i]) * b.grad[i];
            na += static_cast<double>(a.grad[i]) * a.grad[i];
            nb += static_cast<double>(b.grad[i]) * b.grad[i];
        }
        EXPECT_GT(dot / std::sqrt(na * nb + 1e-30), kBf16GradCosineMin) << a.name;
    }
}

class TrainingSmokeTest : public ::testing::TestWithParam<Precision> {};

TEST_P(TrainingSmokeTest, LossFallsAndAccuracyBeatsChance) {
    std::optional<Network> net = try_build(small_cnn(), GetParam());
    if (!net) {
        GTEST_SKIP() << "oneDNN has no bf16 kernels on this CPU";
    }
    Adam adam(net->trainable_parameters(), {});
    std::vector<float> src;
    std::vector<std::int32_t> labels;
    float first_loss = 0.0F;
    for (int step = 0; step < kSmokeSteps; ++step) {
        make_batch(static_cast<std::uint64_t>(step), src, labels);
        const StepResult r = net->train_step(src, labels);
        if (step == 0) {
            first_loss = r.loss;
        }
        adam.step(1e-2F);
    }
    make_batch(1000, src, labels);  // held-out batch, inference mode (running statistics)
    const std::span<const float> logits = net->predict(src);
    const StepResult eval = softmax_cross_entropy(logits, labels, kSmokeClasses, {});
    EXPECT_LT(eval.loss, 0.5F * first_loss);
    EXPECT_GE(static_cast<double>(eval.correct) / kSmokeBatch, kSmokeMinAccuracy);
}

INSTANTIATE_TEST_SUITE_P(Precisions, TrainingSmokeTest,
                         ::testing::Values(Precision::kFp32, Precision::kBf16),
                         [](const ::testing::TestParamInfo<Precision>& info) {
                             return info.param == Precision::kFp32 ? std::string("Fp32")
                                                                   : std::string("Bf16");
                         });

}  // namespace
}  // namespace digitpipe::nn
