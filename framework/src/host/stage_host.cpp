// StageHost: one stage plugin behind one MDP worker session (see host.hpp).
#include <unistd.h>

#include <chrono>
#include <mutex>

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
            for (const auto& [key, _] : deployment.stages) known += (known.empty() ? "" : ", ") + key;
            throw ConfigError({ConfigProblem{deployment.file.string(), 0, 0, "stages",
                               "no stage named '" + name + "' (stages: " + known + ")"}});
        }
        stage = it->second;
        requests = &metrics.counter("digitpipe_worker_requests_total",
                                    "Requests handled by this worker", {{"stage", name}});
        failures = &metrics.counter("digitpipe_worker_failed_requests_total",
                                    "Requests answered with a non-OK status", {{"stage", name}});
        malformed = &metrics.counter("digitpipe_worker_malformed_requests_total",
                                     "Request bodies that failed to decode", {{"stage", name}});
        latency = &metrics.histogram("digitpipe_worker_request_seconds",
                                     "Time in Stage::process",
                                     {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5,
                                      1, 5},
                                     {{"stage", name}});
        if (!deployment.broker.events_in.empty()) {
            events = std::make_unique<EventPublisher>(zmq, deployment.broker.events_in);
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
            throw ConfigError({ConfigProblem{deployment.file.string(), 0, 0,
                               "paths." + std::string(key),
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
            throw ConfigError({ConfigProblem{deployment.file.string(), 0, 0,
                               "streams." + std::string(name),
                               "stage '" + stage.name + "' needs stream '" + std::string(name) +
                                   "'"}});
        }
        return it->second;
    }
    std::unique_ptr<StreamWriter> open_stream_writer(std::string_view name) override {
        return framework::open_stream_writer(zmq, stream_config(name),
                                             deployment.broker.max_message_bytes);
    }
    std::unique_ptr<StreamReader> open_stream_reader(std::string_view name) override {
        return framework::open_stream_reader(zmq, stream_config(name),
                                             deployment.broker.max_message_bytes);
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
            client = std::make_unique<Client>(zmq, client_options);
        }
        auto frames = client->request(std::string(service), body, deadline);
        if (!frames) return frames.status();
        auto decoded = decode_reply(*frames);
        if (!decoded) return decoded.status();
        return std::move(decoded->reply);
    }

    // ---- request handling ------------------------------------------------------------------
    Reply dispatch(const Request& request) {
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
            return Reply::ok({{"text", metrics.render_prometheus()}});
        }
        const auto start = std::chrono::steady_clock::now();
        Reply reply = loaded.stage->process(request);
        latency->observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        return reply;
    }

    Frames handle(Frames&& body) noexcept {
        // A malformed request may carry no usable correlation id; its error reply gets this one.
        std::string correlation_id = "malformed";
        try {
            auto request = decode_request(body);
            if (!request) {
                malformed->increment();
                log.warn("malformed request", {{"error", request.status().message()}});
                return encode_reply(Reply::error(request.status()), correlation_id);
            }
            correlation_id = request->correlation_id;
            requests->increment();
            Reply reply;
            try {
                reply = dispatch(*request);
            } catch (const std::exception& e) {
                reply = Reply::error(internal_error("stage '" + stage.name + "': " +
                                                    request->verb + " failed: " + e.what()));
            }
            if (!reply.status.is_ok()) failures->increment();
            return encode_reply(reply, correlation_id);
        } catch (const std::exception& e) {
            // Encoding itself failed (e.g. a header string that is not UTF-8): still one reply.
            log.error("reply encoding failed", {{"error", e.what()}});
            try {
                return encode_reply(Reply::error(internal_error(
                                        "stage '" + stage.name + "' produced an unencodable reply")),
                                    correlation_id);
            } catch (...) {
                return {};
            }
        }
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
    Histogram* latency = nullptr;
    std::unique_ptr<EventPublisher> events;
    std::mutex client_mutex;
    std::unique_ptr<Client> client;  // made on the first call(), used under client_mutex
    LoadedStage loaded;  // last member but one: the stage dies before the context it was given
};

BrokerOptions make_broker_options(const BrokerConfig& config, bool verbose) {
    BrokerOptions options;
    options.endpoint = config.endpoint;
    options.events_in = config.events_in;
    options.events_out = config.events_out;
    options.heartbeat = {config.heartbeat, config.liveness};
    options.max_message_bytes = config.max_message_bytes;
    options.verbose = verbose;
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
    WorkerSession session(impl_->zmq, options);
    impl_->log.info("serving", {{"service", options.service},
                                {"broker", options.broker_endpoint},
                                {"pid", std::to_string(::getpid())}});
    session.run([this](Frames&& body) { return impl_->handle(std::move(body)); }, stop);
    impl_->log.info("stopped", {{"service", options.service}});
}

Frames StageHost::handle(Frames&& request_body) { return impl_->handle(std::move(request_body)); }

}  // namespace digitpipe::framework
