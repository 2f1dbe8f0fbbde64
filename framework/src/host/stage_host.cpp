// StageHost: one stage plugin behind one MDP worker session (see host.hpp).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "digitpipe/envelope.hpp"
#include "digitpipe/host.hpp"
#include "digitpipe/log.hpp"
#include "digitpipe/metrics.hpp"
#include "digitpipe/plugin.hpp"
#include "digitpipe/stream.hpp"

namespace digitpipe::framework {
namespace {

// Puts a stage's reported totals into the host's registry as digitpipe_stage_<name> series
// labelled with the stage, so names are validated and text is escaped in one place.
class RegistrySink final : public MetricSink {
 public:
    RegistrySink(MetricsRegistry& registry, const std::string& stage)
        : registry_(registry), stage_(stage) {}

    void counter(std::string_view name, double value, std::string_view help) override {
        registry_.counter("digitpipe_stage_" + std::string(name), help, {{"stage", stage_}})
            .advance_to(value);
    }
    void gauge(std::string_view name, double value, std::string_view help) override {
        registry_.gauge("digitpipe_stage_" + std::string(name), help, {{"stage", stage_}})
            .set(value);
    }

 private:
    MetricsRegistry& registry_;
    const std::string& stage_;
};

}  // namespace

struct StageHost::Impl final : StageContext {
    Impl(zmq::context_t& zmq_context, const DeploymentConfig& deployment_config,
         const std::string& name, StageHostOptions host_options)
        : zmq(zmq_context),
          deployment(deployment_config),
          options(std::move(host_options)),
          log("worker." + name) {
        const auto it = deployment.stages.find(name);
        if (it == deployment.stages.end()) {
            std::string known;
            for (const auto& [key, _] : deployment.stages)
                known += (known.empty() ? "" : ", ") + key;
            throw ConfigError(
                {ConfigProblem{deployment.file.string(), 0, 0, "stages",
                               "no stage named '" + name + "' (stages: " + known + ")"}});
        }
        stage = it->second;
        requests = &metrics.counter("digitpipe_worker_requests_total",
                                    "Requests handled by this worker", {{"stage", name}});
        failures = &metrics.counter("digitpipe_worker_failed_requests_total",
                                    "Requests answered with a non-OK status", {{"stage", name}});
        malformed = &metrics.counter("digitpipe_worker_malformed_requests_total",
                                     "Request bodies that failed to decode", {{"stage", name}});
        malformed_frames = &metrics.counter("digitpipe_worker_malformed_frames_total",
                                            "MDP messages from the broker dropped as malformed",
                                            {{"stage", name}});
        latency = &metrics.histogram(
            "digitpipe_worker_request_seconds", "Time in Stage::process",
            {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5}, {{"stage", name}});
        batch_sizes = &metrics.histogram("digitpipe_worker_batch_size",
                                         "Requests handed to the stage at once",
                                         {1, 2, 4, 8, 16, 32, 64, 128}, {{"stage", name}});
        if (!deployment.broker.events_in.empty()) {
            events = std::make_unique<EventPublisher>(zmq, deployment.broker.events_in,
                                                      deployment.security);
        }
        const auto file = find_stage_plugin(stage.plugin, options.plugin_dirs);
        loaded = load_stage_plugin(file);
        if (options.verbose) {
            log.info("effective configuration", {{"params", stage.params.dump()}});
        }
        configure_stage(loaded, stage.params, *this);
        const Health health = loaded.stage->health();
        log.info("stage configured", {{"plugin", loaded.file.string()},
                                      {"service", stage.service},
                                      {"health", std::string(health_state_name(health.state))},
                                      {"detail", health.detail}});
    }

    // ---- StageContext ----------------------------------------------------------------------
    const std::string& stage_name() const override { return stage.name; }
    const std::string& service_name() const override { return stage.service; }
    const Logger& logger() const override { return log; }

    std::filesystem::path path(std::string_view key) const override {
        const auto it = deployment.paths.find(std::string(key));
        if (it == deployment.paths.end()) {
            throw ConfigError(
                {ConfigProblem{deployment.file.string(), 0, 0, "paths." + std::string(key),
                               "stage '" + stage.name + "' needs paths." + std::string(key)}});
        }
        return it->second;
    }

    void publish(std::string_view topic, const nlohmann::json& event) override {
        if (!events) return;
        try {
            events->publish(topic, event.dump());
        } catch (const std::exception& e) {
            log.warn("event dropped", {{"topic", std::string(topic)}, {"error", e.what()}});
        }
    }

    const StreamConfig& stream_config(std::string_view name) const {
        const auto it = deployment.streams.find(std::string(name));
        if (it == deployment.streams.end()) {
            throw ConfigError({ConfigProblem{
                deployment.file.string(), 0, 0, "streams." + std::string(name),
                "stage '" + stage.name + "' needs stream '" + std::string(name) + "'"}});
        }
        return it->second;
    }
    std::unique_ptr<StreamWriter> open_stream_writer(std::string_view name) override {
        return framework::open_stream_writer(zmq, stream_config(name),
                                             deployment.broker.max_message_bytes,
                                             deployment.security);
    }
    std::unique_ptr<StreamReader> open_stream_reader(std::string_view name) override {
        return framework::open_stream_reader(zmq, stream_config(name),
                                             deployment.broker.max_message_bytes,
                                             deployment.security);
    }

    Result<Reply> call(std::string_view service, const Request& request) override {
        std::vector<std::string> body;
        try {
            body = encode_request(request);
        } catch (const std::exception& e) {
            return invalid_argument(std::string("call to ") + std::string(service) + ": " +
                                    e.what());
        }
        // system_clock deadline (the envelope's) -> steady_clock (the client's).
        auto deadline = std::chrono::steady_clock::time_point::max();
        if (request.deadline != std::chrono::system_clock::time_point::max()) {
            deadline = std::chrono::steady_clock::now() +
                       (request.deadline - std::chrono::system_clock::now());
        }
        const std::lock_guard lock(client_mutex);
        if (!client) {
            ClientOptions client_options;
            client_options.broker_endpoint = deployment.broker.endpoint;
            client_options.max_message_bytes = deployment.broker.max_message_bytes;
            client_options.security = deployment.security;
            client = std::make_unique<Client>(zmq, client_options);
        }
        auto frames = client->request(std::string(service), body, deadline);
        if (!frames) return frames.status();
        auto decoded = decode_reply(*frames);
        if (!decoded) return decoded.status();
        return std::move(decoded->reply);
    }

    void subscribe(std::string_view topic_prefix, EventCallback callback) override {
        const std::lock_guard lock(subscriptions_mutex);
        subscriptions.push_back({std::string(topic_prefix), std::move(callback)});
    }

    // ---- events ------------------------------------------------------------------------------
    // The event thread: receives the subscribed topics until `stop` or `served`, and calls the
    // stage's callbacks (catching what they throw, so one bad event cannot end the worker).
    void deliver_events(const std::atomic<bool>& stop, const std::atomic<bool>& served) {
        std::vector<std::string> prefixes;
        for (const auto& s : subscriptions) prefixes.push_back(s.prefix);
        EventSubscriber subscriber(zmq, deployment.broker.events_out, prefixes, deployment.security);
        while (!stop.load() && !served.load()) {
            const auto event = subscriber.receive(std::chrono::milliseconds(100));
            if (!event) continue;
            const auto json = nlohmann::json::parse(event->json_text, nullptr,
                                                    /*allow_exceptions=*/false);
            if (json.is_discarded()) {
                log.warn("event with malformed JSON dropped", {{"topic", event->topic}});
                continue;
            }
            for (const auto& s : subscriptions) {
                if (!event->topic.starts_with(s.prefix)) continue;
                try {
                    s.callback(event->topic, json);
                } catch (const std::exception& e) {
                    log.error("event callback failed",
                              {{"topic", event->topic}, {"error", e.what()}});
                }
            }
        }
    }

    // ---- request handling ------------------------------------------------------------------
    // Framework verbs and late requests get their reply here; nullopt means "for the stage".
    std::optional<Reply> answer_in_host(const Request& request) {
        if (std::chrono::system_clock::now() > request.deadline) {
            return Reply::error(deadline_exceeded("request arrived after its deadline"));
        }
        if (request.verb == "health") {
            const Health health = loaded.stage->health();
            return Reply::ok({{"state", health_state_name(health.state)},
                              {"detail", health.detail},
                              {"stage", stage.name},
                              {"service", stage.service},
                              {"plugin", loaded.file.string()},
                              {"pid", static_cast<int>(::getpid())}});
        }
        if (request.verb == "metrics") {
            RegistrySink sink(metrics, stage.name);
            loaded.stage->collect_metrics(sink);
            // The session counts; the registry mirrors its running total when asked.
            if (const WorkerSession* current = session.load()) {
                malformed_frames->advance_to(static_cast<double>(current->malformed()));
            }
            return Reply::ok({{"text", metrics.render_prometheus()}});
        }
        return std::nullopt;
    }

    // Request bodies that arrived together -> one reply body each, in order. Those the host
    // answers itself (malformed, late, framework verbs) are answered one by one; the rest go
    // to the stage in one process_batch call (or process, for one). Never throws.
    std::vector<Frames> handle_batch(std::vector<Frames>&& bodies) noexcept {
        std::vector<Frames> replies(bodies.size());
        std::vector<Request> for_stage;
        std::vector<std::size_t> slots;  // for_stage[i] answers replies[slots[i]]
        for (std::size_t i = 0; i < bodies.size(); ++i) {
            try {
                auto request = decode_request(bodies[i]);
                if (!request) {
                    malformed->increment();
                    log.warn("malformed request", {{"error", request.status().message()}});
                    replies[i] = encode(Reply::error(request.status()), "malformed");
                    continue;
                }
                requests->increment();
                if (auto reply = answer_in_host(*request)) {
                    replies[i] = encode(*reply, request->correlation_id);
                    continue;
                }
                for_stage.push_back(std::move(*request));
                slots.push_back(i);
            } catch (const std::exception& e) {
                replies[i] =
                    encode(Reply::error(internal_error("stage '" + stage.name + "': " + e.what())),
                           "malformed");
            }
        }
        if (for_stage.empty()) return replies;
        std::vector<Reply> stage_replies;
        const auto start = std::chrono::steady_clock::now();
        try {
            if (for_stage.size() == 1) {
                stage_replies.push_back(loaded.stage->process(for_stage[0]));
            } else {
                stage_replies = loaded.stage->process_batch(for_stage);
            }
            if (stage_replies.size() != for_stage.size()) {
                throw std::logic_error("process_batch returned " +
                                       std::to_string(stage_replies.size()) + " replies for " +
                                       std::to_string(for_stage.size()) + " requests");
            }
        } catch (const std::exception& e) {
            const std::string verb = for_stage.size() == 1 ? for_stage[0].verb : "a batch";
            stage_replies.assign(for_stage.size(),
                                 Reply::error(internal_error("stage '" + stage.name + "': " + verb +
                                                             " failed: " + e.what())));
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        latency->observe(seconds);
        batch_sizes->observe(static_cast<double>(for_stage.size()));
        for (std::size_t i = 0; i < for_stage.size(); ++i) {
            replies[slots[i]] = encode(stage_replies[i], for_stage[i].correlation_id);
        }
        return replies;
    }

    // One reply body; a reply that cannot be encoded (e.g. a header string that is not UTF-8)
    // becomes an internal error, so every request still gets exactly one reply.
    Frames encode(const Reply& reply, const std::string& correlation_id) noexcept {
        if (!reply.status.is_ok()) failures->increment();
        try {
            return encode_reply(reply, correlation_id);
        } catch (const std::exception& e) {
            log.error("reply encoding failed", {{"error", e.what()}});
            try {
                return encode_reply(Reply::error(internal_error("stage '" + stage.name +
                                                                "' produced an unencodable reply")),
                                    correlation_id);
            } catch (...) {
                return {};
            }
        }
    }

    // The callbacks' code lives in the plugin, which `loaded` unloads as the first member to
    // go: destroy them while it is still mapped.
    ~Impl() override { subscriptions.clear(); }

    Frames handle(Frames&& body) noexcept {
        std::vector<Frames> bodies;
        bodies.push_back(std::move(body));
        return std::move(handle_batch(std::move(bodies)).front());
    }

    zmq::context_t& zmq;
    DeploymentConfig deployment;
    StageHostOptions options;
    Logger log;
    StageConfig stage;
    MetricsRegistry metrics;
    Counter* requests = nullptr;
    Counter* failures = nullptr;
    Counter* malformed = nullptr;
    Counter* malformed_frames = nullptr;
    // The session run() serves, while it does. Read on the handler thread (the `metrics`
    // verb): set before run_batches starts that thread, and the session's destructor waits
    // for a handler still running, so the pointer never dangles while the handler uses it.
    std::atomic<const WorkerSession*> session{nullptr};
    Histogram* latency = nullptr;
    std::unique_ptr<EventPublisher> events;
    std::mutex client_mutex;
    std::unique_ptr<Client> client;  // made on the first call(), used under client_mutex
    struct Subscription {
        std::string prefix;
        EventCallback callback;
    };
    std::mutex subscriptions_mutex;           // subscribe() may come from a stage's own thread
    std::vector<Subscription> subscriptions;  // fixed once run() starts the event thread
    Histogram* batch_sizes = nullptr;
    LoadedStage loaded;  // last member but one: the stage dies before the context it was given
};

BrokerOptions make_broker_options(const BrokerConfig& config, bool verbose,
                                  const SecurityConfig& security) {
    BrokerOptions options;
    options.endpoint = config.endpoint;
    options.events_in = config.events_in;
    options.events_out = config.events_out;
    options.heartbeat = {config.heartbeat, config.liveness};
    options.max_message_bytes = config.max_message_bytes;
    options.verbose = verbose;
    options.security = security;
    return options;
}

StageHost::StageHost(zmq::context_t& context, const DeploymentConfig& deployment,
                     const std::string& stage_name, StageHostOptions options)
    : impl_(std::make_unique<Impl>(context, deployment, stage_name, std::move(options))) {}

StageHost::~StageHost() = default;

void StageHost::run(const std::atomic<bool>& stop) {
    WorkerOptions options;
    options.broker_endpoint = impl_->deployment.broker.endpoint;
    options.service = impl_->stage.service;
    options.heartbeat = {impl_->deployment.broker.heartbeat, impl_->deployment.broker.liveness};
    options.max_message_bytes = impl_->deployment.broker.max_message_bytes;
    options.verbose = impl_->options.verbose;
    options.prefetch = impl_->stage.prefetch;
    options.max_batch = impl_->stage.batch_max_size;
    options.max_batch_wait = impl_->stage.batch_max_wait;
    options.security = impl_->deployment.security;
    WorkerSession session(impl_->zmq, options);
    std::atomic<bool> served{false};
    std::thread events;
    if (!impl_->subscriptions.empty() && !impl_->deployment.broker.events_out.empty()) {
        events = std::thread([this, &stop, &served] { impl_->deliver_events(stop, served); });
    }
    const auto end_events = [&] {
        served.store(true);
        if (events.joinable()) events.join();
    };
    impl_->log.info("serving", {{"service", options.service},
                                {"broker", options.broker_endpoint},
                                {"pid", std::to_string(::getpid())}});
    impl_->session.store(&session);
    try {
        session.run_batches(
            [this](std::vector<Frames>&& bodies) { return impl_->handle_batch(std::move(bodies)); },
            stop);
    } catch (...) {
        impl_->session.store(nullptr);
        end_events();
        throw;
    }
    impl_->session.store(nullptr);
    end_events();
    impl_->log.info("stopped", {{"service", options.service}});
}

Frames StageHost::handle(Frames&& request_body) {
    return impl_->handle(std::move(request_body));
}

}  // namespace digitpipe::framework
