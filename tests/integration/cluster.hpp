// Integration-test fixture pieces: a deployment file in a temp folder, the programs started as
// real processes on 127.0.0.1 (tcp) or Unix sockets (ipc), and a client to talk to them.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "digitpipe/envelope.hpp"
#include "digitpipe/mdp.hpp"
#include "support/process.hpp"

namespace digitpipe::integration {

namespace fw = framework;
namespace ts = test_support;

inline const std::filesystem::path kBinDir = DIGITPIPE_BIN_DIR;
inline constexpr auto kStartTimeout = std::chrono::seconds(20);

// A deployment YAML for an echo stage, with endpoints and heartbeats chosen by the test.
inline std::string echo_deployment(const std::string& endpoint, const std::string& events_in,
                                   const std::string& events_out, int replicas,
                                   int heartbeat_ms = 100) {
    return "broker:\n  endpoint: " + endpoint + "\n  events_in: " + events_in +
           "\n  events_out: " + events_out + "\n  heartbeat_ms: " + std::to_string(heartbeat_ms) +
           "\n  liveness: 3\nstages:\n  echo:\n    plugin: echo\n    replicas: " +
           std::to_string(replicas) + "\npaths:\n  plugins: " + DIGITPIPE_PLUGIN_DIR +
           "\nsupervisor:\n  restart_backoff_ms: 100\n  restart_backoff_max_ms: 1000\n"
           "  stop_grace_ms: 3000\n";
}

// Starts digitpipe-broker and reads back the endpoints it bound.
struct BrokerProcess {
    std::unique_ptr<ts::Process> process;
    std::string endpoint;
    std::string events_in;
    std::string events_out;

    BrokerProcess(const std::filesystem::path& config, const std::vector<std::string>& sets = {}) {
        std::vector<std::string> args{"--config", config.string()};
        for (const auto& s : sets) args.insert(args.end(), {"--set", s});
        process = std::make_unique<ts::Process>(kBinDir / "digitpipe-broker", args, true);
        const auto line = process->read_line(kStartTimeout);
        if (!line || !line->starts_with("endpoint=")) {
            throw std::runtime_error("broker did not report its endpoints: " + line.value_or(""));
        }
        endpoint = field(*line, "endpoint");
        events_in = field(*line, "events_in");
        events_out = field(*line, "events_out");
    }

    // The --set flags that point a worker or client at this broker's real endpoints.
    std::vector<std::string> endpoint_overrides() const {
        return {"broker.endpoint=" + endpoint, "broker.events_in=" + events_in,
                "broker.events_out=" + events_out};
    }

 private:
    // The value of `key=` in a line of space-separated key=value fields.
    static std::string field(const std::string& line, const std::string& key) {
        const auto start = line.find(key + "=");
        if (start == std::string::npos) return {};
        const auto value = start + key.size() + 1;
        return line.substr(value, line.find(' ', value) - value);
    }
};

inline std::unique_ptr<ts::Process> start_worker(const std::filesystem::path& config,
                                                 const BrokerProcess& broker,
                                                 const std::string& stage = "echo") {
    std::vector<std::string> args{"--config", config.string(), "--stage", stage};
    for (const auto& o : broker.endpoint_overrides()) args.insert(args.end(), {"--set", o});
    return std::make_unique<ts::Process>(kBinDir / "digitpipe-worker", args);
}

// A client with a retry budget suited to 100 ms heartbeats (expiry 300 ms).
inline fw::ClientOptions test_client_options(const std::string& endpoint) {
    fw::ClientOptions options;
    options.broker_endpoint = endpoint;
    options.attempt_timeout = std::chrono::milliseconds(1000);
    options.attempts = 5;
    return options;
}

// Sends one request and decodes the reply; a failed transport becomes a failed reply.
inline fw::Reply call(fw::Client& client, const std::string& service, const std::string& verb,
                      nlohmann::json header = nlohmann::json::object()) {
    fw::Request request;
    request.verb = verb;
    request.correlation_id = fw::make_correlation_id();
    request.header = std::move(header);
    auto body = client.request(service, fw::encode_request(request));
    if (!body) return fw::Reply::error(body.status());
    auto decoded = fw::decode_reply(*body);
    if (!decoded) return fw::Reply::error(decoded.status());
    if (decoded->correlation_id != request.correlation_id) {
        return fw::Reply::error(fw::internal_error("reply for another request"));
    }
    return decoded->reply;
}

// Live workers of a service as the broker sees them (0 when the broker does not answer).
inline std::size_t live_workers(zmq::context_t& context, const std::string& endpoint,
                                const std::string& service) {
    fw::ClientOptions options = test_client_options(endpoint);
    options.attempt_timeout = std::chrono::milliseconds(300);
    options.attempts = 1;
    fw::Client client(context, options);
    const auto services = client.services();
    if (!services) return 0;
    const auto it = services->find(service);
    return it == services->end() ? 0 : it->second.workers_idle + it->second.workers_busy;
}

// Child pids of `pid`, from /proc (the supervisor's children).
inline std::set<int> children_of(int pid) {
    std::set<int> out;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string pid_field, comm, state;
        int ppid = 0;
        if (stat >> pid_field >> comm >> state >> ppid && ppid == pid && state != "Z") {
            out.insert(std::stoi(name));
        }
    }
    return out;
}

}  // namespace digitpipe::integration
