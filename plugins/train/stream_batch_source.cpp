// StreamBatchSource (see stream_batch_source.hpp).
#include "stream_batch_source.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace digitpipe::train {

namespace fw = framework;

StreamBatchSource::StreamBatchSource(fw::StageContext& context, fw::StreamReader& reader,
                                     StreamSourceOptions options, std::string job,
                                     training::EpochPlanSpec plan, std::int64_t batches_per_epoch,
                                     std::int64_t images_per_batch, std::int64_t image_size,
                                     augment::AugmentParams augmentation,
                                     std::function<bool()> cancelled)
    : context_(context),
      reader_(reader),
      options_(std::move(options)),
      job_(std::move(job)),
      plan_(std::move(plan)),
      batches_(batches_per_epoch),
      images_per_batch_(images_per_batch),
      image_size_(image_size),
      augmentation_(augmentation),
      cancelled_(std::move(cancelled)) {}

void StreamBatchSource::begin_epoch(std::int64_t epoch) {
    epoch_ = epoch;
    next_index_ = 0;
    ready_.clear();
    orders_.clear();
}

void StreamBatchSource::order_chunk(std::int64_t chunk) {
    const std::int64_t first = chunk * options_.chunk_batches;
    fw::Request order;
    order.verb = "augment.batches";
    order.correlation_id = fw::make_correlation_id();
    order.header = {{"job", job_},
                    {"plan", training::to_json(plan_)},
                    {"augmentation", training::to_json(augmentation_)},
                    {"epoch", epoch_},
                    {"first", first},
                    {"count", std::min(options_.chunk_batches, batches_ - first)}};
    order.deadline = std::chrono::system_clock::now() + options_.order_timeout;
    const auto reply = context_.call(options_.service, order);
    if (!reply) {
        throw std::runtime_error("no augment worker answered service '" + options_.service + "' (" +
                                 reply.status().message() +
                                 "): start one (a stage with plugin augment), or set the train "
                                 "stage's param augmentation: local");
    }
    if (!reply->status.is_ok()) {
        throw std::runtime_error("augment worker refused batches " + std::to_string(first) +
                                 "+ of epoch " + std::to_string(epoch_ + 1) + ": " +
                                 reply->status.message());
    }
    auto& o = orders_[chunk];
    o.sent = std::chrono::steady_clock::now();
    ++o.times;
}

void StreamBatchSource::receive_one(std::chrono::milliseconds timeout) {
    auto message = reader_.receive(timeout);
    if (!message) return;
    const auto& h = message->header;
    const auto* images = message->find_payload("images");
    const auto* labels = message->find_payload("labels");
    const bool ours = message->verb == "batch" && h.value("job", "") == job_ &&
                      h.value("epoch", std::int64_t{-1}) == epoch_;
    const auto index = h.value("index", std::int64_t{-1});
    const auto n = static_cast<std::size_t>(images_per_batch_);
    if (!ours || index < next_index_ || index >= batches_ || images == nullptr ||
        labels == nullptr || images->bytes.size() != n * static_cast<std::size_t>(image_size_) ||
        labels->bytes.size() != n * sizeof(std::int32_t)) {
        ++dropped_;  // a late batch of an earlier job or epoch, or a malformed one
        return;
    }
    training::TrainingBatch batch;
    batch.epoch = epoch_;
    batch.index = index;
    batch.images.assign(images->bytes.begin(), images->bytes.end());
    batch.labels.resize(n);
    std::memcpy(batch.labels.data(), labels->bytes.data(), labels->bytes.size());
    ready_.emplace(index, std::move(batch));
}

training::TrainingBatch StreamBatchSource::next(std::int64_t index) {
    const std::int64_t chunks = (batches_ + options_.chunk_batches - 1) / options_.chunk_batches;
    const std::int64_t chunk = index / options_.chunk_batches;
    for (;;) {
        if (cancelled_ && cancelled_()) throw training::TrainingCancelled("cancelled");
        // Keep window_chunks orders ahead of the batch the trainer wants.
        for (std::int64_t c = chunk; c < std::min(chunks, chunk + options_.window_chunks); ++c) {
            if (!orders_.contains(c)) order_chunk(c);
        }
        if (auto it = ready_.find(index); it != ready_.end()) {
            auto batch = std::move(it->second);
            ready_.erase(it);
            next_index_ = index + 1;
            return batch;
        }
        auto& order = orders_.at(chunk);
        if (std::chrono::steady_clock::now() - order.sent > options_.order_timeout) {
            if (order.times > options_.max_reorders) {
                throw std::runtime_error(
                    "no augment worker delivered batch " + std::to_string(index + 1) +
                    " of epoch " + std::to_string(epoch_ + 1) + " after " +
                    std::to_string(order.times) + " orders, " +
                    std::to_string(options_.order_timeout.count()) + " ms apart");
            }
            context_.logger().warn(
                "augment batches overdue; ordering again",
                {{"epoch", std::to_string(epoch_ + 1)},
                 {"first_batch", std::to_string(chunk * options_.chunk_batches)}});
            // Batches already here stay; duplicates that arrive later replace them (same bytes).
            order_chunk(chunk);
        }
        receive_one(std::chrono::milliseconds(100));
    }
}

}  // namespace digitpipe::train
