// A BatchSource fed by augment workers: it orders batches from the augment service (MDP
// requests, a few chunks ahead of the trainer) and receives them over the deployment's PUSH/PULL
// stream, where the stream's high-water mark gives back-pressure. Batches arrive in any order
// from any number of workers and are handed out in order; a chunk not delivered within the
// order timeout is ordered again (a worker died), and batches of other jobs or epochs are
// dropped. Since every batch is a pure function of (plan, augmentation, epoch, index), which
// worker made it does not change the run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "digitpipe/stage.hpp"
#include "digitpipe/training/trainer.hpp"

namespace digitpipe::train {

struct StreamSourceOptions {
    std::string service = "digitpipe.augment";
    std::int64_t chunk_batches = 8;  // batches per order
    std::int64_t window_chunks = 4;  // orders outstanding ahead of the trainer
    std::chrono::milliseconds order_timeout{30000};
    int max_reorders = 3;  // per chunk, before the run fails
};

class StreamBatchSource final : public training::BatchSource {
 public:
    // Keeps references to context and reader; both must outlive the source.
    StreamBatchSource(framework::StageContext& context, framework::StreamReader& reader,
                      StreamSourceOptions options, std::string job, training::EpochPlanSpec plan,
                      std::int64_t batches_per_epoch, std::int64_t images_per_batch,
                      std::int64_t image_size, augment::AugmentParams augmentation,
                      std::function<bool()> cancelled);

    void begin_epoch(std::int64_t epoch) override;
    // throws: training::TrainingCancelled; std::runtime_error when no augment worker answers
    //         or a chunk stays undelivered after max_reorders orders.
    training::TrainingBatch next(std::int64_t index) override;

    std::uint64_t dropped() const noexcept { return dropped_; }  // stale or malformed batches

 private:
    struct Order {
        std::chrono::steady_clock::time_point sent;
        int times = 0;
    };
    void order_chunk(std::int64_t chunk);
    void receive_one(std::chrono::milliseconds timeout);

    framework::StageContext& context_;
    framework::StreamReader& reader_;
    StreamSourceOptions options_;
    std::string job_;
    training::EpochPlanSpec plan_;
    std::int64_t batches_;
    std::int64_t images_per_batch_;
    std::int64_t image_size_;
    augment::AugmentParams augmentation_;
    std::function<bool()> cancelled_;
    std::int64_t epoch_ = 0;
    std::int64_t next_index_ = 0;  // batches before it were handed out; late copies are dropped
    std::map<std::int64_t, training::TrainingBatch> ready_;
    std::map<std::int64_t, Order> orders_;  // by chunk
    std::uint64_t dropped_ = 0;
};

}  // namespace digitpipe::train
