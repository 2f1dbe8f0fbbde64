// The generic worker host: runs one configured stage as one MDP worker.
//
// StageHost loads the stage's plugin, gives it a StageContext (paths, events, streams, logger),
// configures it (all failures before anything connects to the broker), and then serves the
// stage's service: it decodes each envelope, answers the framework verbs `health` and
// `metrics` itself, refuses requests past their deadline, calls Stage::process for the rest
// (catching anything it throws), and encodes exactly one reply per request.
// Used by digitpipe-worker (one per process) and by `digitpipe up` for inproc deployments
// (several in one process, sharing one zmq::context_t).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "digitpipe/deployment.hpp"
#include "digitpipe/mdp.hpp"

namespace digitpipe::framework {

struct StageHostOptions {
    std::vector<std::filesystem::path> plugin_dirs;  // searched in order
    bool verbose = false;                            // log every frame and the effective config
};

class StageHost {
 public:
    // Loads and configures the stage named `stage_name` in `deployment`.
    // throws: ConfigError (unknown stage, bad params with file:line:col), PluginError (file,
    //         ABI, configure failure). Nothing has connected anywhere when it throws.
    StageHost(zmq::context_t& context, const DeploymentConfig& deployment,
              const std::string& stage_name, StageHostOptions options);
    ~StageHost();
    StageHost(const StageHost&) = delete;
    StageHost& operator=(const StageHost&) = delete;

    // Registers with the broker and serves until `stop` is true; sends DISCONNECT on the way out.
    void run(const std::atomic<bool>& stop);

    // Handles one request body and returns the reply body. Never throws. Exposed so tests and
    // in-process callers can drive a stage without a broker.
    Frames handle(Frames&& request_body);

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The broker settings of a deployment, as Broker wants them (one place maps config to options).
BrokerOptions make_broker_options(const BrokerConfig& config, bool verbose,
                                  const SecurityConfig& security = {});

// Turns SIGINT and SIGTERM into a flag. Construct it first thing in main(), before any thread
// starts: it blocks both signals in the calling thread (so in every thread created later) and
// waits for them on a thread of its own, so no ZeroMQ call is ever interrupted by EINTR.
class StopSignal {
 public:
    StopSignal();
    ~StopSignal();
    StopSignal(const StopSignal&) = delete;
    StopSignal& operator=(const StopSignal&) = delete;

    const std::atomic<bool>& flag() const noexcept { return stop_; }
    bool stop_requested() const noexcept { return stop_.load(); }
    // The signal that arrived (0 for none yet).
    int signal_number() const noexcept { return signal_.load(); }
    // Sets the flag as if a signal had arrived (for in-process shutdown).
    void request_stop() noexcept { stop_.store(true); }

 private:
    std::atomic<bool> stop_{false};
    std::atomic<int> signal_{0};
    std::thread waiter_;
};

}  // namespace digitpipe::framework
