// The augment stage: makes augmented training batches to order and pushes them to the trainer
// over the deployment's stream. An order (verb augment.batches) is checked and queued at once
// and answered {queued}; a job thread of the stage makes the batches and sends them, blocking
// while the stream is at its high-water mark (the trainer is the pace). Several augment
// workers share the orders through the broker.
//
// Order header: {job, plan: EpochPlanSpec JSON, augmentation: AugmentParams JSON, epoch,
//                first, count}. Batch message: verb "batch", header {job, epoch, index},
//                payloads images (u8, N x H x W) and labels (i32, N).
// Params:
//   stream: augmented   # the deployment's streams.<name> (this stage writes, connecting)
//   queue: 64           # orders waiting at most; more are refused (RESOURCE_EXHAUSTED)
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "digitpipe/stage.hpp"
#include "digitpipe/training/trainer.hpp"

namespace digitpipe::augment {
namespace {

namespace fw = framework;
namespace tr = training;

struct Order {
    std::string job;
    tr::EpochPlanSpec plan;
    AugmentParams augmentation;
    std::int64_t epoch = 0;
    std::int64_t first = 0;
    std::int64_t count = 0;
};

constexpr std::int64_t kMaxBatchesPerOrder = 1024;

class AugmentStage final : public fw::Stage {
 public:
    ~AugmentStage() override {
        {
            const std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        if (worker_.joinable()) worker_.join();
    }

    void configure(const fw::ConfigNode& params, fw::StageContext& context) override {
        context_ = &context;
        const auto stream = params.get_or<std::string>("stream", "augmented");
        queue_limit_ = params.get_or<std::int64_t>("queue", 64);
        params.check(queue_limit_ >= 1 && queue_limit_ <= 4096, "queue", "must be in [1, 4096]");
        params.finish();
        data_dir_ = context.path("data");
        writer_ = context.open_stream_writer(stream);
        worker_ = std::thread([this] { work(); });
    }

    fw::Reply process(const fw::Request& request) override {
        if (request.verb != "augment.batches") {
            return fw::Reply::error(
                fw::Status{fw::StatusCode::kUnimplemented,
                           "augment stage: unknown verb '" + request.verb + "' (augment.batches)"});
        }
        Order order;
        try {
            order = parse_order(request.header);
            // Load (and cache) the dataset now, so a missing file is this reply's error.
            dataset(order.plan.dataset);
            plan(order.plan);
        } catch (const std::exception& e) {
            return fw::Reply::error(
                fw::invalid_argument(std::string("augment.batches: ") + e.what()));
        }
        {
            const std::lock_guard lock(mutex_);
            if (static_cast<std::int64_t>(orders_.size()) >= queue_limit_) {
                return fw::Reply::error(
                    fw::Status{fw::StatusCode::kResourceExhausted,
                               "augment queue full (" + std::to_string(queue_limit_) + " orders)"});
            }
            orders_.push_back(std::move(order));
            ++orders_total_;
        }
        wake_.notify_one();
        return fw::Reply::ok({{"queued", true}});
    }

    fw::Health health() const override {
        const std::lock_guard lock(mutex_);
        return {fw::HealthState::kReady, std::to_string(orders_.size()) + " orders waiting, " +
                                             std::to_string(batches_sent_.load()) +
                                             " batches sent"};
    }

    void collect_metrics(fw::MetricSink& sink) const override {
        sink.counter("augment_batches_sent_total", batches_sent_.load(),
                     "Augmented batches pushed to the stream");
        const std::lock_guard lock(mutex_);
        sink.counter("augment_orders_total", static_cast<double>(orders_total_),
                     "Batch orders accepted");
        sink.gauge("augment_orders_waiting", static_cast<double>(orders_.size()),
                   "Orders queued, not yet started");
    }

 private:
    static Order parse_order(const nlohmann::json& h) {
        const auto integer = [&](const char* key) {
            if (!h.contains(key) || !h.at(key).is_number_integer()) {
                throw std::invalid_argument(std::string(key) + ": expected an integer");
            }
            return h.at(key).get<std::int64_t>();
        };
        Order o;
        if (!h.contains("job") || !h.at("job").is_string()) {
            throw std::invalid_argument("job: expected a string");
        }
        o.job = h.at("job").get<std::string>();
        if (!h.contains("plan")) throw std::invalid_argument("plan: missing");
        o.plan = tr::epoch_plan_spec_from_json(h.at("plan"));
        if (!h.contains("augmentation")) throw std::invalid_argument("augmentation: missing");
        o.augmentation = tr::augment_params_from_json(h.at("augmentation"));
        o.epoch = integer("epoch");
        o.first = integer("first");
        o.count = integer("count");
        if (o.epoch < 0 || o.first < 0 || o.count < 1 || o.count > kMaxBatchesPerOrder) {
            throw std::invalid_argument("epoch and first must be >= 0 and count in [1, " +
                                        std::to_string(kMaxBatchesPerOrder) + "]");
        }
        return o;
    }

    // Datasets and plans are cached: a run sends thousands of orders with the same ones.
    // Only the host thread adds entries, only under mutex_; entries are never removed, so the
    // job thread may use a reference it got under the lock.
    const tr::Dataset& dataset(const std::string& name) {
        {
            const std::lock_guard lock(mutex_);
            if (const auto it = datasets_.find(name); it != datasets_.end()) return it->second;
        }
        auto loaded = tr::load_dataset(data_dir_, name, tr::Split::kTrain);
        const std::lock_guard lock(mutex_);
        return datasets_.emplace(name, std::move(loaded)).first->second;
    }
    const tr::EpochPlan& plan(const tr::EpochPlanSpec& spec) {
        const auto key = tr::to_json(spec).dump();
        const auto& data = dataset(spec.dataset);
        const std::lock_guard lock(mutex_);
        if (const auto it = plans_.find(key); it != plans_.end()) return it->second;
        return plans_.emplace(key, tr::EpochPlan(spec, data.count)).first->second;
    }

    void work() {
        for (;;) {
            Order order;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return stop_ || !orders_.empty(); });
                if (stop_) return;
                order = std::move(orders_.front());
                orders_.pop_front();
            }
            try {
                send_batches(order);
            } catch (const std::exception& e) {
                context_->logger().error("augment order failed",
                                         {{"job", order.job}, {"error", e.what()}});
            }
        }
    }

    void send_batches(const Order& order) {
        const tr::Dataset* data = nullptr;
        const tr::EpochPlan* epoch_plan = nullptr;
        {
            const std::lock_guard lock(mutex_);
            data = &datasets_.at(order.plan.dataset);
            epoch_plan = &plans_.at(tr::to_json(order.plan).dump());
        }
        // The plan caches one epoch's order; this thread is its only user.
        const auto last = std::min(order.first + order.count, epoch_plan->batches_per_epoch());
        for (std::int64_t b = order.first; b < last; ++b) {
            auto batch = tr::make_batch(*data, *epoch_plan, order.epoch, b, &order.augmentation);
            const auto n = static_cast<std::int64_t>(batch.labels.size());
            fw::Request message;
            message.verb = "batch";
            message.correlation_id = fw::make_correlation_id();
            message.header = {{"job", order.job}, {"epoch", order.epoch}, {"index", b}};
            message.payloads.push_back({"images",
                                        "u8",
                                        {n, data->height, data->width},
                                        std::string(batch.images.begin(), batch.images.end())});
            message.payloads.push_back(
                {"labels",
                 "i32",
                 {n},
                 std::string(reinterpret_cast<const char*>(batch.labels.data()),
                             batch.labels.size() * sizeof(std::int32_t))});
            for (;;) {
                const auto sent = writer_->send(message, std::chrono::milliseconds(200));
                if (sent.is_ok()) break;
                if (sent.code() != fw::StatusCode::kUnavailable) {
                    throw std::runtime_error("stream send failed: " + sent.message());
                }
                const std::lock_guard lock(mutex_);
                if (stop_) return;
            }
            ++batches_sent_;
        }
    }

    fw::StageContext* context_ = nullptr;
    std::filesystem::path data_dir_;
    std::int64_t queue_limit_ = 64;
    std::unique_ptr<fw::StreamWriter> writer_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Order> orders_;
    std::map<std::string, tr::Dataset> datasets_;
    std::map<std::string, tr::EpochPlan> plans_;
    std::uint64_t orders_total_ = 0;
    bool stop_ = false;
    std::atomic<std::uint64_t> batches_sent_{0};
    std::thread worker_;  // last: joined first
};

}  // namespace
}  // namespace digitpipe::augment

DIGITPIPE_DECLARE_STAGE(digitpipe::augment::AugmentStage, "augment")
