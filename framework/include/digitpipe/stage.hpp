// The stage plugin API: what a plugin implements and what the host gives it.
//
// Lifecycle (after Triton's backend lifecycle): create (the plugin's factory) -> configure
// once (validate everything, acquire resources; a failure makes the worker exit before it
// registers with the broker) -> process once per request (or process_batch once per batch,
// when the deployment batches the stage) -> health / collect_metrics on
// demand -> destroy. The host calls every Stage method from one thread, never concurrently,
// so stages need no locks for host calls (event callbacks, see subscribe(), are the one
// exception: they run on the host's event thread). Long work (training) runs on a thread the stage
// owns; process() returns promptly so the request budget is kept. Sockets, heartbeats and the
// framework verbs `health` and `metrics` belong to the host; a stage never touches a socket.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "digitpipe/config.hpp"
#include "digitpipe/envelope.hpp"
#include "digitpipe/log.hpp"
#include "digitpipe/status.hpp"

namespace digitpipe::framework {

enum class HealthState { kStarting, kReady, kDegraded, kFailed };

// "starting", "ready", "degraded", "failed".
std::string_view health_state_name(HealthState state) noexcept;

struct Health {
    HealthState state = HealthState::kStarting;
    std::string detail;  // one line a person can read ("model abc123 loaded")
};

// Where a stage reports its own numbers; the host turns them into Prometheus text.
// Names are snake_case without the digitpipe_ prefix; the host adds it and the stage label.
class MetricSink {
 public:
    virtual ~MetricSink() = default;
    virtual void counter(std::string_view name, double value, std::string_view help) = 0;
    virtual void gauge(std::string_view name, double value, std::string_view help) = 0;
};

// A one-way stream of envelope messages (PUSH/PULL underneath) that the host opened for the
// stage from the deployment's `streams` block. Each object is used by one thread at a time.
class StreamWriter {
 public:
    virtual ~StreamWriter() = default;
    // Blocks while the stream is at its high-water mark (back-pressure), at most `timeout`.
    // Returns kUnavailable on timeout, so callers can check for cancellation and retry.
    virtual Status send(const Request& message, std::chrono::milliseconds timeout) = 0;
};

class StreamReader {
 public:
    virtual ~StreamReader() = default;
    // The next message, or kUnavailable after `timeout` with none; malformed messages are
    // dropped, counted and logged, never returned.
    virtual Result<Request> receive(std::chrono::milliseconds timeout) = 0;
};

// What the host gives a stage. Thread-safety: publish() and the stream factories may be
// called from any thread (stage job threads included); the rest only from the host thread.
class StageContext {
 public:
    virtual ~StageContext() = default;

    virtual const std::string& stage_name() const = 0;    // the YAML key, e.g. "train"
    virtual const std::string& service_name() const = 0;  // e.g. "digitpipe.train"
    virtual const Logger& logger() const = 0;

    // A path from the deployment's `paths` block ("data", "models", "runs", ...), resolved
    // against the config file's folder. Throws ConfigError if the key is not configured.
    virtual std::filesystem::path path(std::string_view key) const = 0;

    // Publishes an event on `topic` (e.g. "train.progress") through the broker's event proxy.
    // Best-effort: never blocks, drops when the proxy is unreachable.
    virtual void publish(std::string_view topic, const nlohmann::json& event) = 0;

    // Opens the named stream from the deployment's `streams` block. Throws ConfigError when
    // the stream is not configured. Each returned object belongs to the caller.
    virtual std::unique_ptr<StreamWriter> open_stream_writer(std::string_view name) = 0;
    virtual std::unique_ptr<StreamReader> open_stream_reader(std::string_view name) = 0;

    // Sends `request` to another service through the broker (e.g. the train stage ordering
    // batches from `digitpipe.augment`) and waits for its reply, resending on silence, at most
    // until request.deadline. Any thread may call it; calls are serialised.
    // Returns the reply (whose own status may be an error), or kUnavailable when no worker
    // answered, kDeadlineExceeded past the deadline, kInvalidArgument for an unencodable
    // request or an undecodable reply.
    virtual Result<Reply> call(std::string_view service, const Request& request) = 0;

    // Receives events published by any stage (e.g. "model.published"), for stages that follow
    // what others do. `callback` gets (topic, parsed JSON) for each event whose topic starts
    // with `topic_prefix`; it runs on a host thread of its own (one for all of the stage's
    // subscriptions), concurrently with process(): the stage synchronises, and keeps the
    // callback short or hands work on. Call it during configure(); delivery runs while the
    // worker serves (StageHost::run). Without an event proxy in the deployment nothing arrives;
    // events published while nobody was subscribed are lost (PUB/SUB).
    using EventCallback = std::function<void(std::string_view topic, const nlohmann::json& event)>;
    virtual void subscribe(std::string_view topic_prefix, EventCallback callback) = 0;
};

// One pipeline step loaded from a plugin. Owned by the host's plugin registry, which keeps the
// plugin's library loaded for as long as the object lives.
class Stage {
 public:
    virtual ~Stage() = default;

    // Validates the stage's `params` block and acquires resources. Reads keys through
    // `params`; keys it never reads are reported by the host as unknown.
    // throws: ConfigError naming file:line:col and key path, or any std::exception for a
    //         resource failure (the host reports it with the plugin's file name).
    // ensures: health().state is kReady or kDegraded.
    virtual void configure(const ConfigNode& params, StageContext& context) = 0;

    // Handles one request; returns exactly one reply, failures as a non-OK status.
    // requires: configure() succeeded. Should return before request.deadline.
    virtual Reply process(const Request& request) = 0;

    // Handles requests that arrived together (the deployment's stages.<name>.batch), returning
    // one reply per request, in order. Override it to share work between them (one forward
    // pass for many images); the default calls process() for each. Never given an empty span;
    // framework verbs and requests past their deadline never reach it.
    virtual std::vector<Reply> process_batch(std::span<const Request> requests) {
        std::vector<Reply> replies;
        replies.reserve(requests.size());
        for (const auto& request : requests) replies.push_back(process(request));
        return replies;
    }

    virtual Health health() const = 0;                         // cheap, no I/O
    virtual void collect_metrics(MetricSink& sink) const = 0;  // counters + gauges
};

}  // namespace digitpipe::framework

// ---- the C entry point -------------------------------------------------------------------

// Bump when Stage, StageContext or this descriptor change in a way old plugins cannot follow.
#define DIGITPIPE_STAGE_ABI_VERSION 3

extern "C" {
// What a plugin exports, through its one symbol digitpipe_stage_descriptor_v1.
struct digitpipe_stage_descriptor {
    std::uint32_t abi_version;  // DIGITPIPE_STAGE_ABI_VERSION the plugin was built with
    const char* name;           // the stage's plugin name, e.g. "echo"
    digitpipe::framework::Stage* (*create)();  // may throw
    void (*destroy)(digitpipe::framework::Stage*) noexcept;
};
}

#define DIGITPIPE_STAGE_EXPORT extern "C" __attribute__((visibility("default")))

// Defines the plugin's entry point for `ClassName` (default-constructible) under `name`.
// Use once per plugin, at namespace scope.
#define DIGITPIPE_DECLARE_STAGE(ClassName, stage_name)                        \
    DIGITPIPE_STAGE_EXPORT const digitpipe_stage_descriptor*                  \
    digitpipe_stage_descriptor_v1() noexcept {                                \
        static const digitpipe_stage_descriptor descriptor{                   \
            DIGITPIPE_STAGE_ABI_VERSION, stage_name,                          \
            []() -> digitpipe::framework::Stage* { return new ClassName(); }, \
            [](digitpipe::framework::Stage* s) noexcept { delete s; }};       \
        return &descriptor;                                                   \
    }
