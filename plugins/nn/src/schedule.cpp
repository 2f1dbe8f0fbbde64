// Learning-rate schedules and early stopping (see schedule.hpp), in double internally so the
// curves are smooth to fp32 precision over long runs.
#include "digitpipe/nn/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace digitpipe::nn {
namespace {

// Cosine interpolation from `from` (at fraction 0) to `to` (at fraction 1).
double cosine_between(double from, double to, double fraction) {
    const double f = std::clamp(fraction, 0.0, 1.0);
    return to + (from - to) * 0.5 * (1.0 + std::cos(std::numbers::pi * f));
}

}  // namespace

float constant_lr(float base_lr) noexcept { return base_lr; }

float step_lr(float base_lr, std::int64_t epoch, std::int64_t step_epochs, float gamma) noexcept {
    const std::int64_t drops = epoch / std::max<std::int64_t>(step_epochs, 1);
    return static_cast<float>(static_cast<double>(base_lr) *
                              std::pow(static_cast<double>(gamma), static_cast<double>(drops)));
}

float cosine_lr(float base_lr, std::int64_t step, std::int64_t total_steps,
                std::int64_t warmup_steps, float min_lr) noexcept {
    if (step < warmup_steps) {
        return static_cast<float>(static_cast<double>(base_lr) * static_cast<double>(step + 1) /
                                  static_cast<double>(warmup_steps));
    }
    const std::int64_t decay_steps = std::max<std::int64_t>(total_steps - warmup_steps, 1);
    const double fraction =
        static_cast<double>(step - warmup_steps) / static_cast<double>(decay_steps);
    return static_cast<float>(cosine_between(base_lr, min_lr, fraction));
}

float one_cycle_lr(float max_lr, std::int64_t step, std::int64_t total_steps,
                   OneCycleOptions options) noexcept {
    const double initial = static_cast<double>(max_lr) / options.div_factor;
    const double final_lr = initial / options.final_div_factor;
    // PyTorch's phase ends: the peak at pct_start * total - 1, the end at total - 1.
    const double peak_step =
        static_cast<double>(options.pct_start) * static_cast<double>(total_steps) - 1.0;
    const double last_step = static_cast<double>(total_steps) - 1.0;
    const auto s = static_cast<double>(step);
    if (s <= peak_step) {
        return static_cast<float>(cosine_between(initial, max_lr, s / peak_step));
    }
    return static_cast<float>(
        cosine_between(max_lr, final_lr, (s - peak_step) / (last_step - peak_step)));
}

PlateauState reduce_on_plateau(PlateauState state, double metric,
                               const PlateauOptions& options) noexcept {
    if (metric < state.best - options.min_delta) {
        state.best = metric;
        state.bad_epochs = 0;
    } else {
        ++state.bad_epochs;
    }
    // PyTorch's order: an epoch in cooldown never counts as bad. (Keras counts the last
    // cooldown epoch, so its cooldown=1 does nothing.)
    if (state.cooldown_left > 0) {
        --state.cooldown_left;
        state.bad_epochs = 0;
    }
    if (state.bad_epochs >= options.patience) {
        state.lr = std::max(state.lr * options.factor, options.min_lr);
        state.cooldown_left = options.cooldown;
        state.bad_epochs = 0;
    }
    return state;
}

EarlyStoppingState update_early_stopping(EarlyStoppingState state, std::int64_t epoch,
                                         double metric, std::int64_t patience,
                                         double min_delta) noexcept {
    if (metric < state.best - min_delta) {
        state.best = metric;
        state.best_epoch = epoch;
        state.bad_epochs = 0;
    } else {
        ++state.bad_epochs;
    }
    state.stop = state.bad_epochs >= patience;
    return state;
}

}  // namespace digitpipe::nn
