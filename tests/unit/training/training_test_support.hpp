// Small synthetic datasets and experiments for the training library's tests: images that a
// tiny CNN separates within a few epochs, so loops, checkpoints and resume run in seconds.
#pragma once

#include <cstdint>
#include <string>

#include "digitpipe/config.hpp"
#include "digitpipe/training/dataset.hpp"
#include "digitpipe/training/experiment.hpp"

namespace digitpipe::training::testing {

// `count` 8x8 images of 4 classes: class c lights a bright bar in quadrant c, with seeded
// noise elsewhere, so labels are learnable but not trivial.
inline Dataset synthetic_dataset(std::int64_t count, std::uint64_t seed, Split split) {
    Dataset d;
    d.name = "synthetic";
    d.split = split;
    d.count = count;
    d.height = 8;
    d.width = 8;
    d.class_names = {"a", "b", "c", "d"};
    d.images.resize(static_cast<std::size_t>(count * 64));
    d.labels.resize(static_cast<std::size_t>(count));
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
    const auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    for (std::int64_t i = 0; i < count; ++i) {
        const auto label = static_cast<std::int32_t>(next() % 4);
        d.labels[static_cast<std::size_t>(i)] = label;
        auto* image = d.images.data() + i * 64;
        for (int p = 0; p < 64; ++p) image[p] = static_cast<std::uint8_t>(next() % 60);
        const int row0 = (label / 2) * 4;
        const int col0 = (label % 2) * 4;
        const int row = row0 + static_cast<int>(next() % 4);
        for (int c = col0; c < col0 + 4; ++c) image[row * 8 + c] = 255;
    }
    d.sha256 = "synthetic";
    return d;
}

// An experiment document for synthetic_dataset: a tiny CNN inline, fp32.
inline std::string tiny_experiment_yaml(int epochs = 3) {
    return "name: tiny\n"
           "seed: 5\n"
           "model:\n"
           "  name: tiny\n"
           "  input: [1, 8, 8]\n"
           "  layers:\n"
           "    - {type: conv2d, filters: 8, kernel_size: 3}\n"
           "    - {type: batch_norm}\n"
           "    - {type: relu}\n"
           "    - {type: max_pool, pool_size: 2}\n"
           "    - {type: dropout, rate: 0.1}\n"
           "    - {type: flatten}\n"
           "    - {type: dense, units: 4}\n"
           "data: {dataset: mnist, validation: 64}\n"
           "training: {epochs: " +
           std::to_string(epochs) +
           ", batch_size: 32, precision: fp32}\n"
           "optimizer: {type: adam, lr: 0.01}\n"
           "schedule: {type: one_cycle}\n";
}

inline Experiment parse_text(const std::string& yaml,
                             const std::vector<std::string>& overrides = {}) {
    return parse_experiment(framework::ConfigNode::parse(yaml, "test.yaml", overrides),
                            std::filesystem::temp_directory_path());
}

}  // namespace digitpipe::training::testing
