// The train stage: runs one experiment at a time on a job thread of its own, so the host keeps
// answering (status, cancel, heartbeats) while it trains.
//
// Verbs:
//   train.start   header {experiment: YAML text, label: its file name, overrides: ["k=v"...]},
//                 {experiment_name: "quick", overrides} (paths.experiments/quick.yaml, for
//                 the dashboard) or {resume: "<run id>"}; replies at once with the Job
//                 (web/API.md) plus {run, run_dir, experiment, resumed}, or an error
//                 for a bad experiment (every problem, file:line:col) or while another run
//                 is in progress (failed_precondition)
//   train.status  {state: idle|running|finished|failed|cancelled, run, progress, last_epoch,
//                  result | error}
//   train.cancel  asks the running job to stop after its current step; {state}. With
//                 {run}: only that run (404 unknown, failed_precondition when not running);
//                 replies the Job (web/API.md)
//   train.runs    {jobs: [Job...]}: every run folder, newest first, the running one live
//   train.run     {run} -> the Job with its epoch records
//   train.experiments  {experiments: [{name, model, dataset, settings}]} (paths.experiments)
//   train.publish {run} or {model: file in paths.models}: announces that model as
//                 model.published (infer workers then serve it), after checking it loads
// Events: train.started, train.progress (steps, at most every progress_interval_ms),
//   train.epoch, train.note, train.finished, train.failed, train.cancelled, and
//   model.published {run, path, sha256, test_accuracy, dataset} with the final model.
//
// Params:
//   augmentation: workers        # workers: augmented batches come from augment workers over
//                                # the stream below; local: made on the job thread
//   augment_service: digitpipe.augment
//   stream: augmented            # the deployment's streams.<name> (this stage reads, binding)
//   chunk_batches: 8             # batches per order to an augment worker
//   window_chunks: 4             # orders kept outstanding
//   order_timeout_ms: 30000      # a chunk not delivered by then is ordered again
//   progress_interval_ms: 250
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <mutex>
#include <regex>
#include <thread>

#include "digitpipe/nn/safetensors.hpp"
#include "digitpipe/stage.hpp"
#include "digitpipe/training/trainer.hpp"
#include "run_catalog.hpp"
#include "stream_batch_source.hpp"

namespace digitpipe::train {
namespace {

namespace fw = framework;
namespace tr = training;
using Clock = std::chrono::steady_clock;

class TrainStage final : public fw::Stage {
 public:
    ~TrainStage() override {
        cancel_.store(true);
        if (job_.joinable()) job_.join();
    }

    void configure(const fw::ConfigNode& params, fw::StageContext& context) override {
        context_ = &context;
        const auto mode = params.get_or<std::string>("augmentation", "workers");
        params.check(mode == "workers" || mode == "local", "augmentation",
                     "must be workers or local, got '" + mode + "'");
        use_workers_ = mode == "workers";
        source_options_.service =
            params.get_or<std::string>("augment_service", source_options_.service);
        const auto stream = params.get_or<std::string>("stream", "augmented");
        source_options_.chunk_batches = params.get_or<std::int64_t>("chunk_batches", 8);
        params.check(source_options_.chunk_batches >= 1 && source_options_.chunk_batches <= 256,
                     "chunk_batches", "must be in [1, 256]");
        source_options_.window_chunks = params.get_or<std::int64_t>("window_chunks", 4);
        params.check(source_options_.window_chunks >= 1 && source_options_.window_chunks <= 64,
                     "window_chunks", "must be in [1, 64]");
        const auto timeout = params.get_or<std::int64_t>("order_timeout_ms", 30000);
        params.check(timeout >= 100, "order_timeout_ms", "must be >= 100");
        source_options_.order_timeout = std::chrono::milliseconds(timeout);
        const auto interval = params.get_or<std::int64_t>("progress_interval_ms", 250);
        params.check(interval >= 0, "progress_interval_ms", "must be >= 0");
        progress_interval_ = std::chrono::milliseconds(interval);
        params.finish();
        data_dir_ = context.path("data");
        models_dir_ = context.path("models");
        runs_dir_ = context.path("runs");
        try {
            experiments_dir_ = context.path("experiments");
        } catch (const fw::ConfigError&) {
            // Optional: only train.start by experiment_name needs it.
        }
        if (use_workers_) reader_ = context.open_stream_reader(stream);
    }

    fw::Reply process(const fw::Request& request) override {
        if (request.verb == "train.start") return start(request);
        if (request.verb == "train.status") return fw::Reply::ok(status_json());
        if (request.verb == "train.cancel") return cancel(request);
        if (request.verb == "train.runs") return fw::Reply::ok({{"jobs", runs()}});
        if (request.verb == "train.run") return run_detail(request);
        if (request.verb == "train.publish") return publish(request);
        if (request.verb == "train.experiments") {
            if (experiments_dir_.empty()) {
                return fw::Reply::error(fw::Status{fw::StatusCode::kFailedPrecondition,
                                                   "train.experiments: paths.experiments is not "
                                                   "set in the deployment"});
            }
            return fw::Reply::ok(
                {{"experiments", list_experiments(experiments_dir_, models_dir_)}});
        }
        return fw::Reply::error(
            fw::Status{fw::StatusCode::kUnimplemented,
                       "train stage: unknown verb '" + request.verb +
                           "' (train.start, train.status, train.cancel, train.runs, train.run, "
                           "train.experiments)"});
    }

    fw::Health health() const override {
        const std::lock_guard lock(mutex_);
        return {fw::HealthState::kReady,
                state_ == "running" ? "training " + run_ : "idle (last: " + state_ + ")"};
    }

    void collect_metrics(fw::MetricSink& sink) const override {
        sink.counter("train_runs_started_total", runs_started_.load(), "Training runs started");
        sink.counter("train_steps_total", steps_.load(), "Training steps taken");
        sink.gauge("train_running", running_.load() ? 1.0 : 0.0, "1 while a run is training");
    }

 private:
    std::string state_name() const {
        const std::lock_guard lock(mutex_);
        return state_;
    }

    // A run id from request.header[key], or an error naming what is wrong with it.
    static fw::Result<std::string> run_id_field(const fw::Request& request, const char* verb) {
        const auto& h = request.header;
        if (!h.contains("run") || !h["run"].is_string() ||
            !std::regex_match(h["run"].get<std::string>(), std::regex("[A-Za-z0-9_.-]{1,128}"))) {
            return fw::invalid_argument(std::string(verb) +
                                        ": run must be a run id (a folder name in runs/)");
        }
        return h["run"].get<std::string>();
    }

    // The job on disk, with the live state of the running job laid over it.
    nlohmann::json job_json(const std::string& run_id, bool with_epochs) const {
        auto job = describe_run(runs_dir_ / run_id, with_epochs);
        overlay_live(job);
        return job;
    }

    // Lays the running job's state over its Job as read from disk (other jobs are unchanged).
    void overlay_live(nlohmann::json& job) const {
        const std::lock_guard lock(mutex_);
        if (job["id"] != run_) return;
        if (running_.load()) job["state"] = "running";
        if (!progress_.is_null()) job["progress"] = progress_;
    }

    nlohmann::json runs() const {
        auto jobs = list_runs(runs_dir_);  // each run folder read once
        for (auto& job : jobs) overlay_live(job);
        return jobs;
    }

    fw::Reply run_detail(const fw::Request& request) const {
        const auto run_id = run_id_field(request, "train.run");
        if (!run_id) return fw::Reply::error(run_id.status());
        if (!std::filesystem::exists(runs_dir_ / *run_id / "config.yaml")) {
            return fw::Reply::error(
                fw::Status{fw::StatusCode::kNotFound, "train.run: no run '" + *run_id + "'"});
        }
        return fw::Reply::ok(job_json(*run_id, /*with_epochs=*/true));
    }

    // Announces an existing model as model.published, so every infer worker of its dataset
    // serves it: {run} (that run's model) or {model} (a file in paths.models, e.g. the shipped
    // one). The file is loaded and checked first, so a broken model is refused here.
    fw::Reply publish(const fw::Request& request) {
        const auto& h = request.header;
        std::filesystem::path file;
        nlohmann::json published;
        if (h.contains("run")) {
            const auto run_id = run_id_field(request, "train.publish");
            if (!run_id) return fw::Reply::error(run_id.status());
            file = runs_dir_ / *run_id / "model.safetensors";
            published["run"] = *run_id;
            if (!std::filesystem::exists(file)) {
                return fw::Reply::error(fw::Status{
                    fw::StatusCode::kNotFound,
                    "train.publish: run '" + *run_id + "' has no model (" + file.string() + ")"});
            }
        } else if (h.contains("model") && h["model"].is_string() &&
                   std::regex_match(h["model"].get<std::string>(),
                                    std::regex("[A-Za-z0-9_.-]{1,128}\\.safetensors"))) {
            file = models_dir_ / h["model"].get<std::string>();
            if (!std::filesystem::exists(file)) {
                return fw::Reply::error(fw::Status{fw::StatusCode::kNotFound,
                                                   "train.publish: no model " + file.string()});
            }
        } else {
            return fw::Reply::error(fw::invalid_argument(
                "train.publish: give {run: a run id} or {model: a *.safetensors file name in "
                "paths.models}"));
        }
        try {
            const auto loaded = nn::load_network(file);
            const auto meta = [&](const char* key) {
                const auto it = loaded.metadata.find(key);
                return it == loaded.metadata.end() ? std::string() : it->second;
            };
            const auto metrics = nlohmann::json::parse(meta("metrics"), nullptr, false);
            published["path"] = std::filesystem::absolute(file).string();
            published["sha256"] = loaded.file_sha256;
            published["dataset"] = meta("dataset");
            published["architecture"] = loaded.network->spec().name;
            published["test_accuracy"] = metrics.is_object()
                                             ? metrics.value("test_accuracy", nlohmann::json())
                                             : nlohmann::json();
            if (!published.contains("run")) published["run"] = meta("run");
        } catch (const std::exception& e) {
            return fw::Reply::error(fw::Status{fw::StatusCode::kFailedPrecondition,
                                               std::string("train.publish: ") + e.what()});
        }
        context_->publish("model.published", published);
        return fw::Reply::ok(published);
    }

    // Without a run id: cancels whatever runs (the CLI's Ctrl-C). With one: only that run,
    // so a stale dashboard cannot cancel someone else's newer run.
    fw::Reply cancel(const fw::Request& request) {
        if (!request.header.contains("run")) {
            cancel_.store(true);
            return fw::Reply::ok({{"state", state_name()}});
        }
        const auto run_id = run_id_field(request, "train.cancel");
        if (!run_id) return fw::Reply::error(run_id.status());
        if (!std::filesystem::exists(runs_dir_ / *run_id / "config.yaml")) {
            return fw::Reply::error(
                fw::Status{fw::StatusCode::kNotFound, "train.cancel: no run '" + *run_id + "'"});
        }
        bool current = false;
        {
            const std::lock_guard lock(mutex_);
            current = running_.load() && run_ == *run_id;
        }
        if (!current) {
            return fw::Reply::error(
                fw::Status{fw::StatusCode::kFailedPrecondition,
                           "train.cancel: run '" + *run_id + "' is not running"});
        }
        cancel_.store(true);
        return fw::Reply::ok(job_json(*run_id, /*with_epochs=*/false));
    }

    nlohmann::json status_json() const {
        const std::lock_guard lock(mutex_);
        nlohmann::json j{{"state", state_}, {"run", run_}};
        if (!progress_.is_null()) j["progress"] = progress_;
        if (!last_epoch_.is_null()) j["last_epoch"] = last_epoch_;
        if (!result_.is_null()) j["result"] = result_;
        if (!error_.empty()) j["error"] = error_;
        return j;
    }

    fw::Reply start(const fw::Request& request) {
        if (running_.load()) {
            return fw::Reply::error(
                fw::Status{fw::StatusCode::kFailedPrecondition,
                           "a training run is in progress: " + run_ + " (train.cancel stops it)"});
        }
        if (job_.joinable()) job_.join();  // the previous run has ended
        const auto& h = request.header;
        tr::Experiment experiment;
        std::string run_id;
        bool resume = false;
        try {
            if (h.contains("resume")) {
                if (!h["resume"].is_string() ||
                    !std::regex_match(h["resume"].get<std::string>(),
                                      std::regex("[A-Za-z0-9_.-]{1,128}"))) {
                    return fw::Reply::error(fw::invalid_argument(
                        "train.start: resume must be a run id (a folder name in runs/)"));
                }
                run_id = h["resume"].get<std::string>();
                const auto config = runs_dir_ / run_id / "config.yaml";
                if (!std::filesystem::exists(config)) {
                    return fw::Reply::error(fw::Status{
                        fw::StatusCode::kNotFound,
                        "train.start: no run '" + run_id + "' (" + config.string() + " missing)"});
                }
                experiment = tr::parse_experiment(fw::ConfigNode::load_file(config), models_dir_);
                resume = true;
            } else {
                std::string text;
                std::string label = h.value("label", std::string("experiment"));
                if (h.contains("experiment_name")) {
                    const auto name = h["experiment_name"].is_string()
                                          ? h["experiment_name"].get<std::string>()
                                          : std::string();
                    if (!std::regex_match(name, std::regex("[A-Za-z0-9_-]{1,64}"))) {
                        return fw::Reply::error(fw::invalid_argument(
                            "train.start: experiment_name must be a plain name (A-Z a-z 0-9 _ -)"));
                    }
                    const auto file = experiments_dir_ / (name + ".yaml");
                    if (experiments_dir_.empty() || !std::filesystem::exists(file)) {
                        return fw::Reply::error(fw::Status{
                            fw::StatusCode::kNotFound,
                            "train.start: no experiment '" + name + "'" +
                                (experiments_dir_.empty() ? " (paths.experiments is not set)"
                                                          : " (" + file.string() + " missing)")});
                    }
                    std::ifstream in(file);
                    text.assign(std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>());
                    label = file.string();
                } else if (h.contains("experiment") && h["experiment"].is_string()) {
                    text = h["experiment"].get<std::string>();
                } else {
                    return fw::Reply::error(fw::invalid_argument(
                        "train.start: give header.experiment (the experiment's YAML text), "
                        "experiment_name or resume"));
                }
                std::vector<std::string> overrides;
                if (h.contains("overrides")) {
                    if (!h["overrides"].is_array()) {
                        return fw::Reply::error(
                            fw::invalid_argument("train.start: overrides must be a list"));
                    }
                    for (const auto& o : h["overrides"]) {
                        if (!o.is_string()) {
                            return fw::Reply::error(fw::invalid_argument(
                                "train.start: overrides must be strings \"key=value\""));
                        }
                        overrides.push_back(o.get<std::string>());
                    }
                }
                experiment = tr::parse_experiment(fw::ConfigNode::parse(text, label, overrides),
                                                  models_dir_);
            }
        } catch (const fw::ConfigError& e) {
            return fw::Reply::error(fw::invalid_argument(e.what()));
        }
        std::filesystem::path run_dir;
        if (resume) {
            run_dir = runs_dir_ / run_id;
            // The run is live again: an old cancelled/failed record would outlive a crash.
            std::error_code ignored;
            std::filesystem::remove(run_dir / kRunResultFile, ignored);
        } else {
            const auto stamp = tr::utc_now("%Y%m%d-%H%M%S");
            run_id = experiment.name + "-" + stamp;
            for (int n = 2; std::filesystem::exists(runs_dir_ / run_id); ++n) {
                run_id = experiment.name + "-" + stamp + "-" + std::to_string(n);
            }
            run_dir = runs_dir_ / run_id;
            std::error_code error;
            std::filesystem::create_directories(run_dir, error);
            std::ofstream(run_dir / "config.yaml") << experiment.yaml;
            if (error || !std::filesystem::exists(run_dir / "config.yaml")) {
                return fw::Reply::error(fw::Status{fw::StatusCode::kInternal,
                                                   "train.start: cannot write " +
                                                       (run_dir / "config.yaml").string() +
                                                       (error ? ": " + error.message() : "")});
            }
        }
        {
            const std::lock_guard lock(mutex_);
            state_ = "running";
            run_ = run_id;
            progress_ = nullptr;
            last_epoch_ = nullptr;
            result_ = nullptr;
            error_.clear();
        }
        cancel_.store(false);
        running_.store(true);
        ++runs_started_;
        const nlohmann::json started{{"run", run_id},
                                     {"run_dir", run_dir.string()},
                                     {"experiment", experiment.name},
                                     {"epochs", experiment.epochs},
                                     {"resumed", resume}};
        context_->publish("train.started", started);
        job_ = std::thread(
            [this, experiment, run_id, run_dir] { run_job(experiment, run_id, run_dir); });
        // The started event's fields (the CLI reads `run`) plus the Job the dashboard shows.
        // (`epochs` is the Job's epoch records in web/API.md; the count is epochs_planned.)
        auto reply = job_json(run_id, /*with_epochs=*/false);
        for (const auto* key : {"run", "run_dir", "experiment", "resumed"}) {
            reply[key] = started[key];
        }
        return fw::Reply::ok(reply);
    }

    void finish(const std::string& state, const std::string& topic, nlohmann::json event,
                const std::filesystem::path& run_dir) {
        nlohmann::json record{{"state", state}};
        if (event.contains("error")) record["error"] = event["error"];
        if (state == "finished") record["result"] = event;
        if (!write_run_result(run_dir, record)) {
            context_->logger().warn("cannot write the run's result file",
                                    {{"run_dir", run_dir.string()}});
        }
        {
            const std::lock_guard lock(mutex_);
            state_ = state;
            if (event.contains("error")) error_ = event["error"].get<std::string>();
            if (state == "finished") result_ = event;
        }
        running_.store(false);
        context_->publish(topic, event);
    }

    void run_job(const tr::Experiment& e, const std::string& run_id,
                 const std::filesystem::path& run_dir) {
        const auto& log = context_->logger();
        try {
            const auto train_set = tr::load_dataset(data_dir_, e.plan.dataset, tr::Split::kTrain);
            const auto test_set = tr::load_dataset(data_dir_, e.plan.dataset, tr::Split::kTest);
            const tr::EpochPlan plan(e.plan, train_set.count);
            const auto cancelled = [this] { return cancel_.load(); };
            std::unique_ptr<tr::BatchSource> source;
            if (e.augment && use_workers_) {
                source = std::make_unique<StreamBatchSource>(
                    *context_, *reader_, source_options_, run_id, e.plan, plan.batches_per_epoch(),
                    e.batch_size(), train_set.image_size(), e.augmentation, cancelled);
            } else {
                source = std::make_unique<tr::LocalBatchSource>(
                    train_set, plan, e.augment ? std::optional(e.augmentation) : std::nullopt);
            }
            auto last_publish = Clock::now() - progress_interval_;
            tr::TrainerCallbacks callbacks;
            callbacks.cancelled = cancelled;
            callbacks.on_step = [&](const tr::StepProgress& p) {
                ++steps_;
                const auto now = Clock::now();
                if (now - last_publish < progress_interval_ && p.step != p.steps_per_epoch) {
                    return;
                }
                last_publish = now;
                const nlohmann::json event{{"run", run_id},
                                           {"epoch", p.epoch},
                                           {"epochs", p.epochs},
                                           {"step", p.step},
                                           {"steps", p.steps_per_epoch},
                                           {"loss", p.loss},
                                           {"accuracy", p.accuracy},
                                           {"lr", p.lr},
                                           {"images_per_second", p.images_per_second},
                                           {"eta_seconds", p.eta_seconds}};
                {
                    const std::lock_guard lock(mutex_);
                    progress_ = event;
                }
                context_->publish("train.progress", event);
            };
            callbacks.on_epoch = [&](const tr::EpochRecord& r) {
                auto event = tr::to_json(r);
                event["run"] = run_id;
                {
                    const std::lock_guard lock(mutex_);
                    last_epoch_ = event;
                }
                log.info("epoch", {{"run", run_id},
                                   {"epoch", std::to_string(r.epoch + 1)},
                                   {"test_accuracy", std::to_string(r.test_accuracy)}});
                context_->publish("train.epoch", event);
            };
            callbacks.on_note = [&](const std::string& text) {
                log.info(text, {{"run", run_id}});
                context_->publish("train.note", {{"run", run_id}, {"text", text}});
            };
            const auto result =
                tr::train(e, train_set, test_set, plan, *source, run_dir, callbacks, run_id);
            const nlohmann::json published{
                {"run", run_id},
                {"path", std::filesystem::absolute(result.model).string()},
                {"sha256", result.model_sha256},
                {"test_accuracy", result.test.accuracy},
                {"dataset", e.plan.dataset},
                {"architecture", e.model.name}};
            auto finished = published;
            finished["test_loss"] = result.test.loss;
            finished["epochs"] = result.epochs_run;
            finished["elapsed_seconds"] = result.elapsed_seconds;
            finished["stopped_because"] = result.stopped_because;
            finished["run_dir"] = run_dir.string();
            context_->publish("model.published", published);
            finish("finished", "train.finished", finished, run_dir);
        } catch (const tr::TrainingCancelled& c) {
            finish("cancelled", "train.cancelled",
                   {{"run", run_id}, {"error", std::string(c.what())}}, run_dir);
        } catch (const std::exception& ex) {
            log.error("training failed", {{"run", run_id}, {"error", ex.what()}});
            finish("failed", "train.failed", {{"run", run_id}, {"error", std::string(ex.what())}},
                   run_dir);
        }
    }

    fw::StageContext* context_ = nullptr;
    bool use_workers_ = true;
    StreamSourceOptions source_options_;
    std::chrono::milliseconds progress_interval_{250};
    std::filesystem::path data_dir_;
    std::filesystem::path models_dir_;
    std::filesystem::path runs_dir_;
    std::filesystem::path experiments_dir_;  // empty when paths.experiments is not set
    std::unique_ptr<fw::StreamReader> reader_;

    mutable std::mutex mutex_;  // guards the job's reported state below
    std::string state_ = "idle";
    std::string run_;
    nlohmann::json progress_;
    nlohmann::json last_epoch_;
    nlohmann::json result_;
    std::string error_;

    std::atomic<bool> cancel_{false};
    std::atomic<bool> running_{false};
    std::atomic<std::uint64_t> runs_started_{0};
    std::atomic<std::uint64_t> steps_{0};
    std::thread job_;  // last: joined first
};

}  // namespace
}  // namespace digitpipe::train

DIGITPIPE_DECLARE_STAGE(digitpipe::train::TrainStage, "train")
