// Experiments: everything a training run needs, as one YAML document
// (configs/experiments/*.yaml), parsed into typed structs with every problem reported at once.
//
//   name: quick                         # required: names the run folder
//   seed: 1                             # data order, augmentation, initial weights, dropout
//   model: quick                        # models/<name>.yaml, or the architecture inline (a map)
//   data:
//     dataset: mnist                    # mnist | fashion
//     validation: 0                     # training images held out to pick and stop on
//     limit: 0                          # train on the first N of the rest (0 = all)
//   augmentation:                       # omit or `enabled: false` for none
//     enabled: true
//     rotation_degrees: 10              # the augment plugin's AugmentParams, same names
//     shift_fraction_x: 0.1
//     shift_fraction_y: 0.1
//     zoom_fraction: 0.1
//     shear_degrees: 5.73
//     elastic: {enabled: false, alpha: 34, sigma: 4}
//   training:
//     epochs: 3
//     batch_size: 128
//     precision: bf16                   # fp32 | bf16 (bf16 compute, fp32 master weights)
//   optimizer:
//     type: adam                        # adam | sgd
//     lr: 0.001                         # base (peak, for one_cycle) learning rate
//     weight_decay: 0                   # decoupled for adam (AdamW), L2 for sgd
//     beta1: 0.9, beta2: 0.999, epsilon: 1.0e-7     # adam
//     momentum: 0.9, nesterov: false                # sgd
//   schedule:
//     type: one_cycle                   # constant | step | cosine | one_cycle | plateau
//     warmup_epochs: 0                  # cosine: linear warm-up
//     min_lr: 0                         # cosine, plateau
//     step_epochs: 10, gamma: 0.5       # step
//     pct_start: 0.3, div_factor: 25, final_div_factor: 10000   # one_cycle
//     factor: 0.5, patience: 3, min_delta: 0.0001, cooldown: 0   # plateau (on validation
//                                                                # loss, else training loss)
//   stopping:
//     patience: 0                       # early stopping on validation loss (0 = off);
//                                       # needs data.validation > 0
//     target_accuracy: 0                # stop once test accuracy reaches it (0 = off)
//
// With data.validation > 0 the model kept is the epoch with the lowest validation loss;
// without, the last epoch's. The test set never picks a model (target_accuracy only stops).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "digitpipe/augment/augment.hpp"
#include "digitpipe/config.hpp"
#include "digitpipe/nn/network.hpp"
#include "digitpipe/nn/spec.hpp"
#include "digitpipe/training/dataset.hpp"

namespace digitpipe::training {

struct OptimizerSettings {
    std::string type = "adam";
    float lr = 1e-3F;
    float weight_decay = 0.0F;
    float beta1 = 0.9F;
    float beta2 = 0.999F;
    float epsilon = 1e-7F;
    float momentum = 0.9F;
    bool nesterov = false;
};

struct ScheduleSettings {
    std::string type = "constant";
    double warmup_epochs = 0.0;
    float min_lr = 0.0F;
    std::int64_t step_epochs = 10;
    float gamma = 0.5F;
    float pct_start = 0.3F;
    float div_factor = 25.0F;
    float final_div_factor = 1e4F;
    float factor = 0.5F;
    std::int64_t patience = 3;
    double min_delta = 1e-4;
    std::int64_t cooldown = 0;
};

struct StoppingSettings {
    std::int64_t patience = 0;
    double target_accuracy = 0.0;
};

struct Experiment {
    std::string name;
    std::uint64_t seed = 0;
    std::string model_name;  // "" when the architecture is inline
    nn::NetworkSpec model;
    EpochPlanSpec plan;  // dataset, seed, batch size, validation, limit
    bool augment = false;
    augment::AugmentParams augmentation;
    std::int64_t epochs = 1;
    nn::Precision precision = nn::Precision::kFp32;
    OptimizerSettings optimizer;
    ScheduleSettings schedule;
    StoppingSettings stopping;
    std::string yaml;  // the effective document, the model resolved inline

    std::int64_t batch_size() const noexcept { return plan.batch_size; }
};

// Parses and validates an experiment document. A `model` name is read from
// models_dir/<name>.yaml.
// throws: framework::ConfigError listing every problem with file:line:col and key path
//         (unknown keys, bad values, a model that does not exist or fails shape inference).
Experiment parse_experiment(const framework::ConfigNode& root,
                            const std::filesystem::path& models_dir);

// The augmentation block as JSON (AugmentParams field names), for augment orders, and back.
nlohmann::json to_json(const augment::AugmentParams& params);
// throws: std::invalid_argument naming the field and the problem (find_problems included).
augment::AugmentParams augment_params_from_json(const nlohmann::json& json);

}  // namespace digitpipe::training
