// The epoch plan: a seeded split and shuffle that trainer and augment workers compute alike.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "digitpipe/nn/safetensors.hpp"
#include "digitpipe/training/dataset.hpp"

namespace digitpipe::training {
namespace {

TEST(EpochPlan, ValidationAndTrainingAreDisjointAndCoverTheDataset) {
    const EpochPlan plan({"mnist", 3, 10, 50, 0}, 1000);
    std::set<std::int64_t> seen(plan.validation_indices().begin(), plan.validation_indices().end());
    EXPECT_EQ(seen.size(), 50u);
    EXPECT_EQ(plan.train_count(), 950);
    EXPECT_EQ(plan.batches_per_epoch(), 95);
    for (std::int64_t b = 0; b < plan.batches_per_epoch(); ++b) {
        for (const auto i : plan.batch_indices(0, b)) {
            EXPECT_TRUE(seen.insert(i).second) << "index " << i << " twice";
        }
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(EpochPlan, SameSeedSameOrderOtherEpochOtherOrder) {
    const EpochPlan a({"mnist", 3, 16, 0, 0}, 512);
    const EpochPlan b({"mnist", 3, 16, 0, 0}, 512);
    const EpochPlan c({"mnist", 4, 16, 0, 0}, 512);
    EXPECT_EQ(a.batch_indices(2, 5), b.batch_indices(2, 5));
    EXPECT_NE(a.batch_indices(2, 5), a.batch_indices(3, 5));
    EXPECT_NE(a.batch_indices(2, 5), c.batch_indices(2, 5));
}

TEST(EpochPlan, DropsTheLastPartialBatchAndHonoursLimit) {
    const EpochPlan plan({"mnist", 1, 100, 0, 250}, 1000);
    EXPECT_EQ(plan.train_count(), 250);
    EXPECT_EQ(plan.batches_per_epoch(), 2);
}

TEST(EpochPlan, RefusesPlansWithNothingToTrainOn) {
    EXPECT_THROW(EpochPlan({"mnist", 1, 10, 100, 0}, 100), std::invalid_argument);
    EXPECT_THROW(EpochPlan({"mnist", 1, 200, 0, 0}, 100), std::invalid_argument);
    EXPECT_THROW(EpochPlan({"mnist", 1, 0, 0, 0}, 100), std::invalid_argument);
}

TEST(EpochPlanSpec, JsonRoundTripAndErrorsNameTheField) {
    const EpochPlanSpec spec{"fashion", 42, 64, 10, 500};
    EXPECT_EQ(epoch_plan_spec_from_json(to_json(spec)), spec);
    auto broken = to_json(spec);
    broken["batch_size"] = "64";
    try {
        epoch_plan_spec_from_json(broken);
        FAIL() << "accepted a string batch_size";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("plan.batch_size"), std::string::npos) << e.what();
    }
}

TEST(SeededPermutation, IsAPermutation) {
    auto p = seeded_permutation(1000, 9, 1);
    std::sort(p.begin(), p.end());
    for (std::int64_t i = 0; i < 1000; ++i) EXPECT_EQ(p[static_cast<std::size_t>(i)], i);
}

TEST(LoadDataset, UnknownNameListsTheKnownOnes) {
    try {
        load_dataset("/nonexistent", "cifar", Split::kTrain);
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("mnist, fashion"), std::string::npos) << e.what();
    }
}

TEST(LoadDataset, MissingFilesNameThePath) {
    try {
        load_dataset("/nonexistent", "mnist", Split::kTest);
        FAIL();
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/mnist/t10k-images-idx3-ubyte"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Sha256, KnownVector) {
    const std::string abc = "abc";
    EXPECT_EQ(nn::sha256_hex(std::as_bytes(std::span(abc))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace digitpipe::training
