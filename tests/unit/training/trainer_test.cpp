// The training loop: it learns, its batches are deterministic, its checkpoints resume to the
// same weights as an uninterrupted run, and it can be cancelled.
#include <gtest/gtest.h>

#include <fstream>

#include "digitpipe/nn/safetensors.hpp"
#include "digitpipe/training/trainer.hpp"
#include "support/process.hpp"
#include "training_test_support.hpp"

namespace digitpipe::training {
namespace {

using testing::parse_text;
using testing::synthetic_dataset;
using testing::tiny_experiment_yaml;

struct Fixture {
    Experiment experiment;
    Dataset train_set = synthetic_dataset(640, 1, Split::kTrain);
    Dataset test_set = synthetic_dataset(200, 2, Split::kTest);
    EpochPlan plan;

    explicit Fixture(const std::vector<std::string>& overrides = {})
        : experiment(parse_text(tiny_experiment_yaml(), overrides)),
          plan(experiment.plan, train_set.count) {}

    TrainResult run(const std::filesystem::path& dir, const TrainerCallbacks& callbacks = {}) {
        LocalBatchSource source(
            train_set, plan,
            experiment.augment ? std::optional(experiment.augmentation) : std::nullopt);
        return train(experiment, train_set, test_set, plan, source, dir, callbacks, "test-run");
    }
};

std::vector<std::string> lines(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

TEST(Trainer, LearnsTheSyntheticTaskAndWritesTheRunFolder) {
    test_support::TempDir dir;
    Fixture f;
    std::vector<EpochRecord> epochs;
    std::int64_t steps = 0;
    TrainerCallbacks callbacks;
    callbacks.on_epoch = [&](const EpochRecord& r) { epochs.push_back(r); };
    callbacks.on_step = [&](const StepProgress& p) {
        ++steps;
        EXPECT_GT(p.images_per_second, 0.0);
        EXPECT_GE(p.eta_seconds, 0.0);
    };
    const auto result = f.run(dir.path(), callbacks);
    ASSERT_EQ(epochs.size(), 3u);
    EXPECT_EQ(steps, 3 * f.plan.batches_per_epoch());
    EXPECT_GT(result.test.accuracy, 0.9) << "a 4-class bar task should be easy";
    EXPECT_LT(epochs.back().train_loss, epochs.front().train_loss);
    ASSERT_TRUE(epochs.back().validation_accuracy.has_value());
    EXPECT_EQ(lines(dir.path() / "metrics.jsonl").size(), 3u);
    for (const auto* name :
         {"checkpoint.safetensors", "model.safetensors", "best.safetensors", "evaluation.json"}) {
        EXPECT_TRUE(std::filesystem::exists(dir.path() / name)) << name;
    }
    const auto model = nn::load_safetensors(result.model);
    EXPECT_EQ(model.metadata.at("experiment"), f.experiment.yaml);
    EXPECT_EQ(model.metadata.at("dataset_sha256"), "synthetic");
    EXPECT_NE(model.metadata.at("metrics").find("test_accuracy"), std::string::npos);
    const auto curves = nlohmann::json::parse(model.metadata.at("curves"));
    ASSERT_EQ(curves.size(), 3u);
    EXPECT_EQ(curves[2]["epoch"], 2);
    const auto evaluation = nlohmann::json::parse(model.metadata.at("evaluation"));
    EXPECT_EQ(evaluation["correct"], result.test.correct);
    EXPECT_EQ(evaluation["confusion"].size(), 4u);
    EXPECT_EQ(result.model_sha256.size(), 64u);
}

TEST(Trainer, BatchesAreTheSameBytesEveryTime) {
    Fixture f({"augmentation.enabled=true"});
    const auto a = make_batch(f.train_set, f.plan, 1, 3, &f.experiment.augmentation);
    const auto b = make_batch(f.train_set, f.plan, 1, 3, &f.experiment.augmentation);
    const auto plain = make_batch(f.train_set, f.plan, 1, 3, nullptr);
    EXPECT_EQ(a.images, b.images);
    EXPECT_EQ(a.labels, plain.labels) << "augmentation keeps labels";
    EXPECT_NE(a.images, plain.images);
}

// The resume contract: a run cancelled mid-epoch and resumed from its last checkpoint ends
// with the same weights, bit for bit, as a run never interrupted (same thread count).
TEST(Trainer, ResumeFromACheckpointEqualsAnUninterruptedRun) {
    for (const bool augment : {false, true}) {
        SCOPED_TRACE(augment ? "augmented" : "plain");
        const std::vector<std::string> overrides{"augmentation.enabled=" +
                                                 std::string(augment ? "true" : "false")};
        test_support::TempDir straight_dir;
        Fixture straight(overrides);
        const auto expected = straight.run(straight_dir.path());

        test_support::TempDir dir;
        Fixture interrupted(overrides);
        TrainerCallbacks stop_in_epoch_two;
        std::int64_t steps = 0;
        const auto stop_at = interrupted.plan.batches_per_epoch() + 3;
        stop_in_epoch_two.on_step = [&](const StepProgress&) { ++steps; };
        stop_in_epoch_two.cancelled = [&] { return steps >= stop_at; };
        EXPECT_THROW(interrupted.run(dir.path(), stop_in_epoch_two), TrainingCancelled);
        EXPECT_EQ(lines(dir.path() / "metrics.jsonl").size(), 1u);

        Fixture resumed(overrides);
        std::vector<std::string> notes;
        TrainerCallbacks callbacks;
        callbacks.on_note = [&](const std::string& n) { notes.push_back(n); };
        const auto result = resumed.run(dir.path(), callbacks);
        ASSERT_FALSE(notes.empty());
        EXPECT_NE(notes.front().find("after epoch 1"), std::string::npos) << notes.front();
        EXPECT_EQ(lines(dir.path() / "metrics.jsonl").size(), 3u);

        const auto a = nn::load_safetensors(expected.model);
        const auto b = nn::load_safetensors(result.model);
        ASSERT_EQ(a.tensors.size(), b.tensors.size());
        for (std::size_t i = 0; i < a.tensors.size(); ++i) {
            EXPECT_EQ(a.tensors[i].data, b.tensors[i].data) << a.tensors[i].name;
        }
        EXPECT_EQ(result.test.correct, expected.test.correct);
    }
}

TEST(Trainer, RefusesACheckpointOfAnotherExperiment) {
    test_support::TempDir dir;
    Fixture first;
    first.run(dir.path());
    Fixture other({"optimizer.lr=0.02"});
    EXPECT_THROW(other.run(dir.path()), nn::SafetensorsError);
}

TEST(Trainer, StopsAtTheTargetAccuracy) {
    test_support::TempDir dir;
    Fixture f({"stopping.target_accuracy=0.5", "training.epochs=20"});
    const auto result = f.run(dir.path());
    EXPECT_EQ(result.stopped_because, "target_accuracy");
    EXPECT_LT(result.epochs_run, 20);
}

TEST(Trainer, EarlyStoppingKeepsTheBestValidationEpoch) {
    test_support::TempDir dir;
    // lr so high that validation loss cannot keep improving: stopping must trigger.
    Fixture f({"stopping.patience=1", "training.epochs=30", "optimizer.lr=0.5",
               "schedule.type=constant"});
    const auto result = f.run(dir.path());
    EXPECT_EQ(result.stopped_because, "early_stopping");
    EXPECT_LT(result.epochs_run, 30);
}

}  // namespace
}  // namespace digitpipe::training
