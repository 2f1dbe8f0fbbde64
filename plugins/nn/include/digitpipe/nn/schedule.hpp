// Learning-rate schedules of the digitpipe engine, as pure functions of the step or epoch (and,
// for reduce-on-plateau, of an explicit state value), so the train stage can checkpoint and
// resume them exactly and tests can check them without running a network. Early stopping is
// here too: it is the same kind of "watch a metric per epoch" state machine.
#pragma once

#include <cstdint>
#include <limits>

namespace digitpipe::nn {

// base_lr for every step.
float constant_lr(float base_lr) noexcept;

// base_lr * gamma^floor(epoch / step_epochs): Keras/PyTorch StepLR.
// requires: step_epochs > 0, epoch >= 0.
float step_lr(float base_lr, std::int64_t epoch, std::int64_t step_epochs, float gamma) noexcept;

// Linear warm-up from 0 to base_lr over warmup_steps, then cosine decay to min_lr at
// total_steps (and min_lr after it). step counts from 0; the first step gets
// base_lr / warmup_steps rather than 0, so no update is wasted.
// requires: 0 <= warmup_steps <= total_steps, total_steps > 0.
float cosine_lr(float base_lr, std::int64_t step, std::int64_t total_steps,
                std::int64_t warmup_steps, float min_lr = 0.0F) noexcept;

struct OneCycleOptions {
    float pct_start = 0.3F;         // fraction of the steps spent rising
    float div_factor = 25.0F;       // initial lr = max_lr / div_factor
    float final_div_factor = 1e4F;  // final lr = initial lr / final_div_factor
};

// One-cycle policy (Smith & Topin; PyTorch's OneCycleLR with cosine annealing): cosine rise
// from max_lr / div_factor to max_lr over pct_start * total_steps, then cosine fall to
// max_lr / (div_factor * final_div_factor) at the last step (total_steps - 1).
// requires: total_steps > 1, 0 < pct_start < 1.
float one_cycle_lr(float max_lr, std::int64_t step, std::int64_t total_steps,
                   OneCycleOptions options = {}) noexcept;

// Reduce-on-plateau (Keras' ReduceLROnPlateau / PyTorch's, mode "min"): after `patience`
// epochs without an improvement of more than min_delta, multiply the rate by factor (not below
// min_lr); the `cooldown` epochs after a reduction do not count (PyTorch's semantics).
struct PlateauOptions {
    float factor = 0.5F;
    std::int64_t patience = 3;
    double min_delta = 1e-4;
    std::int64_t cooldown = 0;
    float min_lr = 0.0F;
};

struct PlateauState {
    float lr = 0.0F;
    double best = std::numeric_limits<double>::infinity();
    std::int64_t bad_epochs = 0;
    std::int64_t cooldown_left = 0;
};

// Next state after an epoch whose monitored metric (lower is better, e.g. validation loss)
// was `metric`. Start from PlateauState{.lr = base_lr}. Pure function.
PlateauState reduce_on_plateau(PlateauState state, double metric,
                               const PlateauOptions& options) noexcept;

// Early stopping (mode "min"): stop after `patience` epochs without an improvement of more
// than min_delta; `best_epoch` tells which checkpoint to keep.
struct EarlyStoppingState {
    double best = std::numeric_limits<double>::infinity();
    std::int64_t best_epoch = -1;
    std::int64_t bad_epochs = 0;
    bool stop = false;
};

// Next state after epoch `epoch` scored `metric`. Pure function.
EarlyStoppingState update_early_stopping(EarlyStoppingState state, std::int64_t epoch,
                                         double metric, std::int64_t patience,
                                         double min_delta = 0.0) noexcept;

}  // namespace digitpipe::nn
