// Training-throughput micro-benchmark of the digitpipe network engine: seed A's "enhanced" CNN
// (the Keras model of seeds/seed-a, 175,722 parameters) trained on synthetic 28x28 batches
// with Adam, in fp32 and in bf16 mixed precision. Prints images/s per precision, and with
// --profile the time per layer and pass (the profile's clock reads cost little). Rerun with
// OMP_NUM_THREADS=2 on an idle machine and compare with the bare-oneDNN ceilings in
// shared/FACTS.md.
//
// Usage: nn_throughput [--batch N] [--steps N] [--warmup N] [--precision fp32|bf16|both]
//                      [--layout blocked|channels_last] [--profile]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "digitpipe/nn/network.hpp"
#include "digitpipe/nn/optimizer.hpp"
#include "digitpipe/nn/random.hpp"

namespace {

namespace nn = digitpipe::nn;

constexpr std::int64_t kDefaultBatch = 128;
constexpr int kDefaultSteps = 40;
constexpr int kDefaultWarmup = 5;  // first steps build primitives and warm caches
constexpr std::int64_t kImageSide = 28;
constexpr std::int32_t kClasses = 10;
constexpr std::int64_t kSeedAParameters = 175'722;  // Keras' count, running stats included
constexpr float kLearningRate = 5e-4F;              // seed A's Adam learning rate

// Seed A's enhanced CNN, layer for layer (seeds/seed-a: Conv 32x2, 64x2, 128 with batch norm,
// max pooling and dropout .25 per block, global average pooling, Dense 256 with dropout .5).
nn::NetworkSpec enhanced_spec() {
    nn::NetworkSpec spec;
    spec.name = "enhanced";
    spec.input = {1, kImageSide, kImageSide};
    auto conv_block = [&](std::int64_t filters) {
        spec.layers.push_back({"", nn::Conv2dSpec{.filters = filters}});
        spec.layers.push_back({"", nn::BatchNormSpec{}});
        spec.layers.push_back({"", nn::ReluSpec{}});
    };
    auto pool_drop = [&] {
        spec.layers.push_back({"", nn::MaxPoolSpec{}});
        spec.layers.push_back({"", nn::DropoutSpec{.rate = 0.25F}});
    };
    conv_block(32);
    conv_block(32);
    pool_drop();
    conv_block(64);
    conv_block(64);
    pool_drop();
    conv_block(128);
    pool_drop();
    spec.layers.push_back({"", nn::GlobalAvgPoolSpec{}});
    spec.layers.push_back({"", nn::DenseSpec{.units = 256}});
    spec.layers.push_back({"", nn::ReluSpec{}});
    spec.layers.push_back({"", nn::DropoutSpec{.rate = 0.5F}});
    spec.layers.push_back({"", nn::DenseSpec{.units = kClasses}});
    return spec;
}

struct Options {
    std::int64_t batch = kDefaultBatch;
    int steps = kDefaultSteps;
    int warmup = kDefaultWarmup;
    std::string precision = "both";
    bool profile = false;
    nn::ActivationLayout layout = nn::ActivationLayout::kBlocked;
};

void print_profile(const nn::Network& net, int steps, double step_ms) {
    double layers_ms = 0.0;
    std::printf("  %-38s %9s %9s\n", "layer", "fwd ms", "bwd ms");
    for (const nn::LayerTiming& t : net.timings()) {
        std::printf("  %-38s %9.2f %9.2f\n", t.name.c_str(), t.forward_ms / steps,
                    t.backward_ms / steps);
        layers_ms += (t.forward_ms + t.backward_ms) / steps;
    }
    std::printf("  layers %.1f ms of %.1f ms per step; the rest is edges, loss and Adam\n",
                layers_ms, step_ms);
}

double run(nn::Precision precision, const Options& opt) {
    nn::Network net(
        enhanced_spec(),
        {.precision = precision, .seed = 1, .layout = opt.layout, .profile = opt.profile});
    if (net.parameter_count() != kSeedAParameters) {
        std::fprintf(stderr, "nn_throughput: parameter count %lld, expected %lld\n",
                     static_cast<long long>(net.parameter_count()),
                     static_cast<long long>(kSeedAParameters));
        std::exit(1);
    }
    nn::Adam adam(net.trainable_parameters(), {});
    // Synthetic batch: uniform pixels and labels; throughput does not depend on the values.
    std::vector<float> src(static_cast<std::size_t>(opt.batch * net.input_size()));
    nn::generate_uniform(/*key=*/7, /*stream=*/0, src);
    std::vector<std::int32_t> labels(static_cast<std::size_t>(opt.batch));
    for (std::size_t i = 0; i < labels.size(); ++i) {
        labels[i] = static_cast<std::int32_t>(i % kClasses);
    }
    float loss = 0.0F;
    for (int i = 0; i < opt.warmup; ++i) {
        loss = net.train_step(src, labels).loss;
        adam.step(kLearningRate);
    }
    net.reset_timings();
    std::vector<double> step_s(static_cast<std::size_t>(opt.steps));
    const auto start = std::chrono::steady_clock::now();
    for (double& seconds : step_s) {
        const auto step_start = std::chrono::steady_clock::now();
        loss = net.train_step(src, labels).loss;
        adam.step(kLearningRate);
        seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    const double images_per_s = static_cast<double>(opt.batch * opt.steps) / elapsed.count();
    // On a shared machine the mean mixes in other processes' time slices; the median and the
    // best step show what the engine does when it has the cores.
    std::sort(step_s.begin(), step_s.end());
    const auto batch = static_cast<double>(opt.batch);
    std::printf(
        "%-5s batch %lld: %d steps, %.1f ms/step mean: %.0f images/s mean, %.0f median, "
        "%.0f best (last loss %.4f)\n",
        precision == nn::Precision::kBf16 ? "bf16" : "fp32", static_cast<long long>(opt.batch),
        opt.steps, 1e3 * elapsed.count() / opt.steps, images_per_s,
        batch / step_s[step_s.size() / 2], batch / step_s.front(), static_cast<double>(loss));
    if (opt.profile) {
        print_profile(net, opt.steps, 1e3 * elapsed.count() / opt.steps);
    }
    return images_per_s;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--batch" && has_value) {
            opt.batch = std::atoll(argv[++i]);
        } else if (arg == "--steps" && has_value) {
            opt.steps = std::atoi(argv[++i]);
        } else if (arg == "--warmup" && has_value) {
            opt.warmup = std::atoi(argv[++i]);
        } else if (arg == "--precision" && has_value) {
            opt.precision = argv[++i];
        } else if (arg == "--layout" && has_value) {
            const std::string layout = argv[++i];
            if (layout == "channels_last") {
                opt.layout = nn::ActivationLayout::kChannelsLast;
            } else if (layout != "blocked") {
                std::fprintf(stderr, "nn_throughput: --layout blocked|channels_last\n");
                return 2;
            }
        } else if (arg == "--profile") {
            opt.profile = true;
        } else {
            std::fprintf(stderr,
                         "usage: nn_throughput [--batch N] [--steps N] [--warmup N] "
                         "[--precision fp32|bf16|both] [--layout blocked|channels_last] "
                         "[--profile]\n");
            return 2;
        }
    }
    if (opt.batch < 1 || opt.steps < 1 || opt.warmup < 0 ||
        (opt.precision != "fp32" && opt.precision != "bf16" && opt.precision != "both")) {
        std::fprintf(stderr, "nn_throughput: bad option value\n");
        return 2;
    }
    const char* threads = std::getenv("OMP_NUM_THREADS");
    std::printf("enhanced CNN (seed A, %lld parameters), OMP_NUM_THREADS=%s\n",
                static_cast<long long>(kSeedAParameters), threads != nullptr ? threads : "unset");
    try {
        if (opt.precision != "bf16") {
            run(nn::Precision::kFp32, opt);
        }
        if (opt.precision != "fp32") {
            run(nn::Precision::kBf16, opt);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nn_throughput: %s\n", e.what());
        return 1;
    }
    return 0;
}
