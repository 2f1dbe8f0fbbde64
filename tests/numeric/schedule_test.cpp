// Learning-rate schedules and early stopping as pure functions, checked at hand-computed
// points.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "digitpipe/nn/schedule.hpp"

namespace digitpipe::nn {
namespace {

// Schedules compute in double and round once to float.
constexpr float kLrTol = 1e-7F;

TEST(ScheduleTest, ConstantAndStep) {
    EXPECT_EQ(constant_lr(0.3F), 0.3F);
    EXPECT_NEAR(step_lr(0.1F, 0, 2, 0.5F), 0.1F, kLrTol);
    EXPECT_NEAR(step_lr(0.1F, 1, 2, 0.5F), 0.1F, kLrTol);
    EXPECT_NEAR(step_lr(0.1F, 2, 2, 0.5F), 0.05F, kLrTol);
    EXPECT_NEAR(step_lr(0.1F, 5, 2, 0.5F), 0.025F, kLrTol);
}

TEST(ScheduleTest, CosineWithWarmup) {
    EXPECT_NEAR(cosine_lr(1.0F, 0, 10, 2), 0.5F, kLrTol);  // warm-up: (step + 1) / 2
    EXPECT_NEAR(cosine_lr(1.0F, 1, 10, 2), 1.0F, kLrTol);
    EXPECT_NEAR(cosine_lr(1.0F, 2, 10, 2), 1.0F, kLrTol);  // decay starts at the peak
    EXPECT_NEAR(cosine_lr(1.0F, 6, 10, 2), 0.5F, kLrTol);  // half way through the decay
    EXPECT_NEAR(cosine_lr(1.0F, 9, 10, 2), 0.5 * (1.0 + std::cos(std::numbers::pi * 7.0 / 8.0)),
                kLrTol);
    EXPECT_NEAR(cosine_lr(1.0F, 10, 10, 2, 0.1F), 0.1F, kLrTol);
    EXPECT_NEAR(cosine_lr(1.0F, 50, 10, 2, 0.1F), 0.1F, kLrTol);  // stays at min_lr
    EXPECT_NEAR(cosine_lr(1.0F, 0, 4, 0), 1.0F, kLrTol);          // no warm-up
}

TEST(ScheduleTest, OneCycleRisesThenFalls) {
    const OneCycleOptions options{.pct_start = 0.3F, .div_factor = 25.0F, .final_div_factor = 1e4F};
    EXPECT_NEAR(one_cycle_lr(1.0F, 0, 100, options), 0.04F, kLrTol);
    EXPECT_NEAR(one_cycle_lr(1.0F, 29, 100, options), 1.0F, kLrTol);  // peak at 0.3 * 100 - 1
    EXPECT_NEAR(one_cycle_lr(1.0F, 99, 100, options), 4e-6F, kLrTol);
    const float mid_rise = one_cycle_lr(1.0F, 14, 100, options);
    EXPECT_GT(mid_rise, 0.04F);
    EXPECT_LT(mid_rise, 1.0F);
    EXPECT_GT(one_cycle_lr(1.0F, 40, 100, options), one_cycle_lr(1.0F, 60, 100, options));
}

TEST(ScheduleTest, ReduceOnPlateauAfterPatienceThenCoolsDown) {
    const PlateauOptions options{
        .factor = 0.5F, .patience = 2, .min_delta = 0.0, .cooldown = 1, .min_lr = 0.2F};
    PlateauState s{.lr = 1.0F};
    s = reduce_on_plateau(s, 1.0, options);   // best 1.0
    s = reduce_on_plateau(s, 0.9, options);   // best 0.9
    s = reduce_on_plateau(s, 0.95, options);  // 1 bad epoch
    EXPECT_EQ(s.lr, 1.0F);
    s = reduce_on_plateau(s, 0.92, options);  // 2 bad epochs: halve
    EXPECT_EQ(s.lr, 0.5F);
    s = reduce_on_plateau(s, 0.93, options);  // cooldown: not counted
    s = reduce_on_plateau(s, 0.93, options);  // 1 bad epoch
    EXPECT_EQ(s.lr, 0.5F);
    s = reduce_on_plateau(s, 0.93, options);  // 2 bad epochs: halve, floored at min_lr
    EXPECT_EQ(s.lr, 0.25F);
    s = reduce_on_plateau(s, 0.93, options);
    s = reduce_on_plateau(s, 0.93, options);
    s = reduce_on_plateau(s, 0.93, options);
    EXPECT_EQ(s.lr, 0.2F);
    s = reduce_on_plateau(s, 0.5, options);  // improvement resets the count
    EXPECT_EQ(s.bad_epochs, 0);
    EXPECT_EQ(s.best, 0.5);
}

TEST(ScheduleTest, EarlyStoppingRemembersBestEpoch) {
    EarlyStoppingState s;
    s = update_early_stopping(s, 0, 1.0, /*patience=*/2);
    s = update_early_stopping(s, 1, 0.8, 2);
    s = update_early_stopping(s, 2, 0.85, 2);
    EXPECT_FALSE(s.stop);
    s = update_early_stopping(s, 3, 0.9, 2);
    EXPECT_TRUE(s.stop);
    EXPECT_EQ(s.best_epoch, 1);
    EXPECT_EQ(s.best, 0.8);
}

}  // namespace
}  // namespace digitpipe::nn
