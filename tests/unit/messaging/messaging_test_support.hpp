// Helpers for the messaging unit tests: a broker and workers running on their own threads,
// raw sockets that speak (or mangle) 7/MDP by hand, endpoints per transport, and a bounded
// wait. Deadlines here only keep a broken test from hanging; no test asserts on time.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "digitpipe/mdp.hpp"

namespace digitpipe::framework::mdp_test {

using namespace std::chrono_literals;

// Short heartbeats so expiry paths run in a fraction of a second.
inline HeartbeatPolicy fast_heartbeat() { return HeartbeatPolicy{50ms, 3}; }

// Upper bound for anything a test waits for; generous for a loaded 2-core machine.
inline constexpr auto kPatience = 15s;

// Polls `predicate` every few milliseconds until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& predicate,
                       std::chrono::milliseconds timeout = kPatience) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

enum class Transport { kInproc, kTcp };

inline std::string transport_name(Transport transport) {
    return transport == Transport::kInproc ? "inproc" : "tcp";
}

// A fresh endpoint to bind: a unique inproc name, or any free loopback port.
inline std::string bind_endpoint(Transport transport, const std::string& name) {
    static std::atomic<int> counter{0};
    if (transport == Transport::kTcp) return "tcp://127.0.0.1:*";
    return "inproc://" + name + "-" + std::to_string(++counter);
}

inline BrokerOptions broker_options(Transport transport) {
    BrokerOptions options;
    options.endpoint = bind_endpoint(transport, "broker");
    options.heartbeat = fast_heartbeat();
    return options;
}

inline WorkerOptions worker_options(const std::string& endpoint, const std::string& service) {
    WorkerOptions options;
    options.broker_endpoint = endpoint;
    options.service = service;
    options.heartbeat = fast_heartbeat();
    options.reconnect_initial = 20ms;
    options.reconnect_max = 200ms;
    options.stop_grace = 200ms;
    return options;
}

inline ClientOptions client_options(const std::string& endpoint,
                                    std::chrono::milliseconds attempt_timeout = 5s,
                                    int attempts = 3) {
    ClientOptions options;
    options.broker_endpoint = endpoint;
    options.attempt_timeout = attempt_timeout;
    options.attempts = attempts;
    return options;
}

// An envelope-shaped body: frame [2] is the correlation id the clients match on.
inline Frames make_body(const std::string& correlation_id, const std::string& payload = "ping") {
    return Frames{"DPP01", "echo", correlation_id, payload};
}

// Replies with the request body, frame [0] replaced by `name` (so tests see who answered).
inline RequestHandler named_echo(std::string name) {
    return [name = std::move(name)](Frames&& body) {
        if (!body.empty()) body[0] = name;
        return std::move(body);
    };
}

// A broker serving on its own thread until destroyed.
class RunningBroker {
 public:
    RunningBroker(zmq::context_t& context, BrokerOptions options)
        : broker_(context, std::move(options)), thread_([this] { broker_.run(stop_); }) {}
    ~RunningBroker() {
        stop_ = true;
        thread_.join();
    }
    RunningBroker(const RunningBroker&) = delete;
    RunningBroker& operator=(const RunningBroker&) = delete;

    Broker& broker() { return broker_; }
    const std::string& endpoint() const { return broker_.endpoint(); }
    BrokerStats stats() const { return broker_.stats(); }
    ServiceStats service(const std::string& name) const {
        const auto all = broker_.stats().services;
        const auto it = all.find(name);
        return it == all.end() ? ServiceStats{} : it->second;
    }

 private:
    std::atomic<bool> stop_{false};
    Broker broker_;
    std::thread thread_;
};

// A worker session serving on its own thread until stop() or destruction.
class RunningWorker {
 public:
    RunningWorker(zmq::context_t& context, WorkerOptions options, RequestHandler handler)
        : session_(context, std::move(options)),
          thread_([this, handler = std::move(handler)] { session_.run(handler, stop_); }) {}
    ~RunningWorker() { stop(); }
    RunningWorker(const RunningWorker&) = delete;
    RunningWorker& operator=(const RunningWorker&) = delete;

    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }

 private:
    std::atomic<bool> stop_{false};
    WorkerSession session_;
    std::thread thread_;
};

// Sends `frames` as one multipart message on a raw socket.
inline void send_raw(zmq::socket_t& socket, const std::vector<std::string>& frames) {
    std::vector<zmq::message_t> parts;
    for (const auto& frame : frames) parts.emplace_back(frame.data(), frame.size());
    (void)zmq::send_multipart(socket, parts);
}

// The next message on a raw socket within `timeout`, as strings.
inline std::optional<std::vector<std::string>> receive_raw(zmq::socket_t& socket,
                                                           std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(socket, std::back_inserter(parts))) return std::nullopt;
    std::vector<std::string> frames;
    for (const auto& part : parts) frames.push_back(part.to_string());
    return frames;
}

// The next message whose worker command is not HEARTBEAT (raw worker sockets see many).
inline std::optional<std::vector<std::string>> receive_raw_command(
    zmq::socket_t& socket, std::chrono::milliseconds timeout = kPatience) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto frames = receive_raw(socket, 50ms);
        if (!frames) continue;
        if (frames->size() == 3 && (*frames)[2] == std::string(1, '\x04')) continue;
        return frames;
    }
    return std::nullopt;
}

}  // namespace digitpipe::framework::mdp_test
