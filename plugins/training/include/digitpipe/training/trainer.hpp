// The training loop of the train stage, queue-free so it runs and tests without a broker:
// batches come from a BatchSource (made in this thread, or streamed in by augment workers),
// the network steps with the experiment's optimizer and schedule, and after every epoch the
// run folder gets a metrics line and a checkpoint it can resume from.
//
// Run folder (created by the caller, filled here):
//   config.yaml            the effective experiment (written by the caller)
//   metrics.jsonl          one JSON object per finished epoch
//   checkpoint.safetensors weights, optimizer state and loop state after the last epoch;
//                          written to a temporary file, then renamed (never torn)
//   best.safetensors       the lowest-validation-loss weights (only with data.validation)
//   model.safetensors      the final model, with metadata: architecture, experiment, data
//                          checksums, class names, metrics, evaluation (as evaluation.json),
//                          curves (the metrics.jsonl records as one JSON array)
//   evaluation.json        the final model on the test set: accuracy, loss, per-class
//                          metrics, confusion matrix, most confidently wrong examples
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "digitpipe/training/dataset.hpp"
#include "digitpipe/training/evaluation.hpp"
#include "digitpipe/training/experiment.hpp"

namespace digitpipe::training {

// One batch of training images (u8, count x height x width) and their labels.
struct TrainingBatch {
    std::int64_t epoch = 0;
    std::int64_t index = 0;
    std::vector<std::uint8_t> images;
    std::vector<std::int32_t> labels;
};

// Batch `batch` of `epoch`: the plan's images, augmented when `augmentation` is given (each
// image's transform a function of (seed, epoch, batch, position)). The same bytes wherever
// and by whichever thread it is made.
TrainingBatch make_batch(const Dataset& dataset, const EpochPlan& plan, std::int64_t epoch,
                         std::int64_t batch, const augment::AugmentParams* augmentation);

// Where the trainer gets its batches, in order, epoch by epoch.
class BatchSource {
 public:
    virtual ~BatchSource() = default;
    // Called before the first next() of `epoch`.
    virtual void begin_epoch(std::int64_t epoch) = 0;
    // Batch `index` of the current epoch; indices come 0, 1, 2, ...
    // throws: whatever stops the run (no augment worker, cancellation); the trainer passes it on.
    virtual TrainingBatch next(std::int64_t index) = 0;
};

// Makes batches in the calling thread with make_batch().
class LocalBatchSource final : public BatchSource {
 public:
    // Keeps references: dataset and plan must outlive the source.
    LocalBatchSource(const Dataset& dataset, const EpochPlan& plan,
                     std::optional<augment::AugmentParams> augmentation);
    void begin_epoch(std::int64_t epoch) override { epoch_ = epoch; }
    TrainingBatch next(std::int64_t index) override;

 private:
    const Dataset& dataset_;
    const EpochPlan& plan_;
    std::optional<augment::AugmentParams> augmentation_;
    std::int64_t epoch_ = 0;
};

// Progress after a training step.
struct StepProgress {
    std::int64_t epoch = 0;  // 0-based
    std::int64_t epochs = 0;
    std::int64_t step = 0;  // 1-based within the epoch
    std::int64_t steps_per_epoch = 0;
    double loss = 0.0;      // running mean over the epoch so far
    double accuracy = 0.0;  // running, on the (augmented) training batches
    double lr = 0.0;
    double images_per_second = 0.0;  // training steps only, this epoch
    double eta_seconds = 0.0;        // to the last epoch's end, evaluations included
};

// One finished epoch, as written to metrics.jsonl (to_json below).
struct EpochRecord {
    std::int64_t epoch = 0;  // 0-based
    std::int64_t epochs = 0;
    double train_loss = 0.0;
    double train_accuracy = 0.0;
    double test_loss = 0.0;
    double test_accuracy = 0.0;
    std::optional<double> validation_loss;
    std::optional<double> validation_accuracy;
    double lr = 0.0;  // at the epoch's last step
    double images_per_second = 0.0;
    double train_seconds = 0.0;    // this epoch's steps
    double eval_seconds = 0.0;     // this epoch's evaluations
    double elapsed_seconds = 0.0;  // since the run started, across resumes
};
nlohmann::json to_json(const EpochRecord& record);

struct TrainerCallbacks {
    std::function<void(const StepProgress&)> on_step;  // every step; keep it cheap
    std::function<void(const EpochRecord&)> on_epoch;
    std::function<bool()> cancelled;                  // polled every step
    std::function<void(const std::string&)> on_note;  // "resumed from epoch 3", ...
};

// Thrown by train() when callbacks.cancelled() said so. The last checkpoint stays.
class TrainingCancelled : public std::runtime_error {
 public:
    using std::runtime_error::runtime_error;
};

struct TrainResult {
    std::filesystem::path model;  // run_dir / model.safetensors
    std::string model_sha256;     // of the file
    Evaluation test;              // of the final model
    std::int64_t epochs_run = 0;  // epochs finished, including any before a resume
    double elapsed_seconds = 0.0;
    std::string stopped_because;  // "epochs", "target_accuracy", "early_stopping"
};

// The current UTC time in strftime `format` ("%Y%m%d-%H%M%S" names runs; ISO 8601 dates
// models).
std::string utc_now(const char* format);

// Runs (or resumes, when run_dir holds checkpoint.safetensors) the experiment.
// requires: run_dir exists; train/test are the experiment's dataset; `source` delivers the
//           experiment's plan.
// throws: TrainingCancelled; nn::SafetensorsError for a checkpoint that does not match the
//         experiment; std::runtime_error for I/O failures; whatever the source throws.
TrainResult train(const Experiment& experiment, const Dataset& train_set, const Dataset& test_set,
                  const EpochPlan& plan, BatchSource& source, const std::filesystem::path& run_dir,
                  const TrainerCallbacks& callbacks, const std::string& run_id);

}  // namespace digitpipe::training
