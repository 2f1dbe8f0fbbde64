// The echo stage: a domain-free diagnostic plugin for tests and benchmarks.
//
// It exercises every path a real stage takes through the host (configure from params,
// replies with payloads, error statuses, slow requests, a crashing worker) without any MNIST
// or oneDNN code, so broker, worker and gateway tests can run against it in milliseconds.
//
// params (all optional):
//   delay_ms     int in [0, 60000], default 0: sleep before answering each `echo`
//   allow_crash  bool, default false: let the `crash` verb abort the worker process
// verbs:
//   echo   reply header {"echo": <request header minus codec keys>, "worker_pid", "stage"},
//          the request's payloads back unchanged
//   sleep  header {"ms": N}, 0 <= N <= 60000: sleep, then reply {"slept_ms": N, "worker_pid",
//          "stage"}
//   fail   header {"code": "NOT_FOUND", "message": "..."}: reply with that status
//   crash  abort() when allow_crash, else FAILED_PRECONDITION
// Sleeps end early at the request's deadline with DEADLINE_EXCEEDED, as envelope.hpp asks of
// every stage. A long sleep still holds the worker thread (the host heartbeats only between
// requests), which is the point: tests use it to make a busy or silent worker on purpose.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "digitpipe/stage.hpp"

namespace digitpipe::stages::echo {
namespace {

namespace fw = digitpipe::framework;

// Longest sleep a request or the delay_ms param may ask for: long enough for any test of
// timeouts and heartbeats, short enough that a typo cannot park a worker for hours.
constexpr std::int64_t kMaxSleepMs = 60'000;

// Header keys the envelope codec owns (envelope.hpp); `echo` does not send them back.
constexpr std::array<std::string_view, 4> kCodecKeys{"deadline_ms", "payloads", "message",
                                                     "context"};

// The verbs this stage answers, in the order error messages list them.
constexpr std::array<std::string_view, 4> kVerbs{"echo", "sleep", "fail", "crash"};
constexpr std::size_t kUnknownVerb = kVerbs.size();  // index of the "other verbs" counter

std::string known_verbs() {
    std::string list;
    for (const auto verb : kVerbs) {
        if (!list.empty()) list += ", ";
        list += verb;
    }
    return list;
}

// Sleeps `duration`, or until `deadline` if that comes first. Returns false when the deadline
// cut the sleep short (the caller then answers DEADLINE_EXCEEDED).
bool sleep_within_deadline(std::chrono::milliseconds duration,
                           std::chrono::system_clock::time_point deadline) {
    const auto wake = std::chrono::system_clock::now() + duration;
    if (wake <= deadline) {
        std::this_thread::sleep_for(duration);
        return true;
    }
    std::this_thread::sleep_until(deadline);
    return false;
}

// The integer header value `key` in [0, kMaxSleepMs], or INVALID_ARGUMENT naming the key.
fw::Result<std::int64_t> header_ms(const nlohmann::json& header, std::string_view key) {
    const auto it = header.find(key);
    if (it == header.end()) {
        return fw::invalid_argument("echo: sleep: header." + std::string(key) +
                                    " is required (an integer number of milliseconds)");
    }
    // An unsigned value above INT64_MAX reads back negative, so the range check catches it.
    const bool integral = it->is_number_integer();
    const std::int64_t value = integral ? it->get<std::int64_t>() : -1;
    if (!integral || value < 0 || value > kMaxSleepMs) {
        return fw::invalid_argument("echo: sleep: header." + std::string(key) +
                                    " must be an integer in [0, " + std::to_string(kMaxSleepMs) +
                                    "], got " + it->dump());
    }
    return value;
}

}  // namespace

// See the file comment. Not thread-safe; the host calls it from one thread (stage.hpp).
class EchoStage final : public fw::Stage {
 public:
    void configure(const fw::ConfigNode& params, fw::StageContext& context) override {
        const int delay_ms = params.get_or<int>("delay_ms", 0);
        params.check(delay_ms >= 0 && delay_ms <= kMaxSleepMs, "delay_ms",
                     "must be in [0, " + std::to_string(kMaxSleepMs) + "], got " +
                         std::to_string(delay_ms));
        delay_ = std::chrono::milliseconds(std::clamp<std::int64_t>(delay_ms, 0, kMaxSleepMs));
        allow_crash_ = params.get_or<bool>("allow_crash", false);
        stage_name_ = context.stage_name();
        health_ = {fw::HealthState::kReady, "echo ready (delay_ms=" +
                                                std::to_string(delay_.count()) + ", allow_crash=" +
                                                (allow_crash_ ? "true" : "false") + ")"};
    }

    fw::Reply process(const fw::Request& request) override {
        ++requests_total_;
        const auto verb = std::find(kVerbs.begin(), kVerbs.end(), request.verb);
        ++requests_by_verb_[static_cast<std::size_t>(verb - kVerbs.begin())];

        if (request.verb == "echo") return process_echo(request);
        if (request.verb == "sleep") return process_sleep(request);
        if (request.verb == "fail") return process_fail(request);
        if (request.verb == "crash") return process_crash();
        return fw::Reply::error(fw::unimplemented("echo: unknown verb '" + request.verb +
                                                  "'; this stage knows " + known_verbs()),
                                {{"verb", request.verb}});
    }

    fw::Health health() const override { return health_; }

    void collect_metrics(fw::MetricSink& sink) const override {
        sink.counter("requests_total", static_cast<double>(requests_total_),
                     "Requests the echo stage handled");
        for (std::size_t i = 0; i < kVerbs.size(); ++i) {
            sink.counter("requests_" + std::string(kVerbs[i]) + "_total",
                         static_cast<double>(requests_by_verb_[i]),
                         "Requests with this verb");
        }
        sink.counter("requests_unknown_verb_total",
                     static_cast<double>(requests_by_verb_[kUnknownVerb]),
                     "Requests with a verb the echo stage does not know");
        sink.gauge("delay_ms", static_cast<double>(delay_.count()),
                   "Configured delay before each echo reply");
    }

 private:
    fw::Reply process_echo(const fw::Request& request) const {
        if (delay_.count() > 0 && !sleep_within_deadline(delay_, request.deadline)) {
            return fw::Reply::error(fw::deadline_exceeded(
                "echo: echo: deadline passed during the configured delay of " +
                std::to_string(delay_.count()) + " ms"));
        }
        nlohmann::json echoed = request.header;
        for (const auto key : kCodecKeys) echoed.erase(std::string(key));
        fw::Reply reply = fw::Reply::ok({{"echo", std::move(echoed)},
                                         {"worker_pid", static_cast<std::int64_t>(::getpid())},
                                         {"stage", stage_name_}});
        reply.payloads = request.payloads;
        return reply;
    }

    fw::Reply process_sleep(const fw::Request& request) const {
        const auto ms = header_ms(request.header, "ms");
        if (!ms) return fw::Reply::error(ms.status(), {{"field", "ms"}});
        if (!sleep_within_deadline(std::chrono::milliseconds(*ms), request.deadline)) {
            return fw::Reply::error(fw::deadline_exceeded(
                "echo: sleep: deadline passed before " + std::to_string(*ms) + " ms were up"));
        }
        return fw::Reply::ok({{"slept_ms", *ms},
                              {"worker_pid", static_cast<std::int64_t>(::getpid())},
                              {"stage", stage_name_}});
    }

    static fw::Reply process_fail(const fw::Request& request) {
        const auto code_it = request.header.find("code");
        if (code_it == request.header.end() || !code_it->is_string()) {
            return fw::Reply::error(
                fw::invalid_argument("echo: fail: header.code must be a status name such as "
                                     "\"NOT_FOUND\", got " +
                                     (code_it == request.header.end() ? std::string("nothing")
                                                                      : code_it->dump())),
                {{"field", "code"}});
        }
        const auto code = fw::parse_status_code(code_it->get<std::string>());
        if (!code || *code == fw::StatusCode::kOk) {
            return fw::Reply::error(
                fw::invalid_argument("echo: fail: header.code must name a non-OK status, got " +
                                     code_it->dump()),
                {{"field", "code"}});
        }
        std::string message = "echo: fail requested";
        if (const auto it = request.header.find("message"); it != request.header.end()) {
            if (!it->is_string()) {
                return fw::Reply::error(
                    fw::invalid_argument("echo: fail: header.message must be a string, got " +
                                         it->dump()),
                    {{"field", "message"}});
            }
            message = it->get<std::string>();
        }
        return fw::Reply::error(fw::Status(*code, std::move(message)));
    }

    fw::Reply process_crash() const {
        if (allow_crash_) {
            // Deliberate: integration tests need a worker that dies mid-request.
            std::abort();
        }
        return fw::Reply::error(fw::failed_precondition(
            "echo: crash: disabled; set params.allow_crash: true on this stage to allow it"));
    }

    std::chrono::milliseconds delay_{0};
    bool allow_crash_ = false;
    std::string stage_name_;
    fw::Health health_{fw::HealthState::kStarting, "echo not configured"};
    std::uint64_t requests_total_ = 0;
    std::array<std::uint64_t, kVerbs.size() + 1> requests_by_verb_{};  // last: unknown verbs
};

}  // namespace digitpipe::stages::echo

DIGITPIPE_DECLARE_STAGE(digitpipe::stages::echo::EchoStage, "echo")
