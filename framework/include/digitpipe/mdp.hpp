// Majordomo (ZeroMQ RFC 7/MDP 0.1, with 8/MMI) broker, worker session and client, plus the
// broker's event proxy (XSUB in, XPUB out).
//
// Wire: clients are DEALERs sending ["", "MDPC01", service, body...]; workers are DEALERs
// sending ["", "MDPW01", command, ...]. Bodies are opaque here (see envelope.hpp).
// Heartbeats flow both ways every `heartbeat`; a peer silent for heartbeat x liveness is dead.
// The broker remembers the one request each worker is serving and requeues it (at the front)
// when that worker dies, so a SIGKILLed worker's request is answered by another worker.
// Malformed frames are dropped, counted and logged with the peer's identity; never asserted.
//
// Threading: each object owns its sockets and must be used by the thread that created it
// (the WorkerSession runs its handler on a second thread of its own so heartbeats continue
// while a request is processed). One zmq::context_t per process is shared by reference.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "digitpipe/status.hpp"

namespace digitpipe::framework {

inline constexpr std::string_view kMdpClientTag = "MDPC01";
inline constexpr std::string_view kMdpWorkerTag = "MDPW01";

using Frames = std::vector<std::string>;

struct HeartbeatPolicy {
    std::chrono::milliseconds interval{1000};
    int liveness = 3;
    std::chrono::milliseconds expiry() const { return interval * liveness; }
};

// ---- broker --------------------------------------------------------------------------------

struct BrokerOptions {
    std::string endpoint;    // ROUTER bind; "tcp://127.0.0.1:*" picks a free port
    std::string events_in;   // XSUB bind; empty = no event proxy
    std::string events_out;  // XPUB bind
    HeartbeatPolicy heartbeat;
    std::size_t max_message_bytes = 16u << 20;
    bool verbose = false;    // log every frame that passes
};

struct ServiceStats {
    std::size_t workers_idle = 0;
    std::size_t workers_busy = 0;
    std::size_t queued = 0;  // requests waiting for a worker
};

struct BrokerStats {
    std::uint64_t requests = 0;
    std::uint64_t replies = 0;
    std::uint64_t requeued = 0;         // requests moved off a dead worker
    std::uint64_t malformed = 0;        // messages dropped as malformed
    std::uint64_t workers_expired = 0;  // workers dropped for missing heartbeats
    std::map<std::string, ServiceStats> services;
};

class Broker {
 public:
    // Binds all sockets. throws: zmq::error_t when an endpoint cannot be bound.
    Broker(zmq::context_t& context, BrokerOptions options);
    ~Broker();
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    // The endpoints actually bound (a "*" port resolved to its number).
    const std::string& endpoint() const noexcept;
    const std::string& events_in() const noexcept;
    const std::string& events_out() const noexcept;

    // Serves until `stop` becomes true (checked at least every heartbeat interval).
    void run(const std::atomic<bool>& stop);

    // A snapshot; safe to call from any thread.
    BrokerStats stats() const;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// ---- worker --------------------------------------------------------------------------------

struct WorkerOptions {
    std::string broker_endpoint;
    std::string service;
    HeartbeatPolicy heartbeat;
    std::chrono::milliseconds reconnect_initial{250};  // backoff doubles up to reconnect_max
    std::chrono::milliseconds reconnect_max{5000};
    std::size_t max_message_bytes = 16u << 20;
    bool verbose = false;
};

// Takes a request body, returns the reply body. Must not throw (the host wraps stages).
using RequestHandler = std::function<Frames(Frames&& request_body)>;

class WorkerSession {
 public:
    WorkerSession(zmq::context_t& context, WorkerOptions options);
    ~WorkerSession();
    WorkerSession(const WorkerSession&) = delete;
    WorkerSession& operator=(const WorkerSession&) = delete;

    // Registers (READY), serves requests one at a time, heartbeats, reconnects with backoff
    // when the broker goes silent, until `stop` is true; then sends DISCONNECT and returns.
    // The handler runs on a thread of the session's own, so heartbeats continue meanwhile.
    void run(const RequestHandler& handler, const std::atomic<bool>& stop);

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// ---- client --------------------------------------------------------------------------------

struct ClientOptions {
    std::string broker_endpoint;
    std::chrono::milliseconds attempt_timeout{2500};  // resend after this long without a reply
    int attempts = 3;                                 // total tries before kUnavailable
    std::size_t max_message_bytes = 16u << 20;
};

// Synchronous client with retry. Replies are matched to requests by the correlation id in
// body frame [2] (see envelope.hpp); stale replies of earlier attempts are discarded.
class Client {
 public:
    Client(zmq::context_t& context, ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends `body` to `service` and waits for the reply, resending on timeout (workers are
    // idempotent by contract). kUnavailable when every attempt timed out; kDeadlineExceeded if
    // `deadline` passes first.
    Result<Frames> request(const std::string& service, const Frames& body,
                           std::chrono::steady_clock::time_point deadline =
                               std::chrono::steady_clock::time_point::max());

    // 8/MMI: does the broker know `service` with at least one live worker? ("200" / "404")
    Result<bool> service_available(const std::string& service);

    // digitpipe's MMI extension "mmi.services": every service with worker and queue counts.
    Result<std::map<std::string, ServiceStats>> services();

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Asynchronous client: many requests in flight on one DEALER, for the gateway's bridge thread.
class AsyncClient {
 public:
    AsyncClient(zmq::context_t& context, std::string broker_endpoint,
                std::size_t max_message_bytes = 16u << 20);
    ~AsyncClient();
    AsyncClient(const AsyncClient&) = delete;
    AsyncClient& operator=(const AsyncClient&) = delete;

    void send(const std::string& service, const Frames& body);
    // One reply (service, body) if one arrives within `timeout`; malformed ones are dropped.
    std::optional<std::pair<std::string, Frames>> receive(std::chrono::milliseconds timeout);
    // For zmq::poll alongside other sockets.
    zmq::socket_t& socket() noexcept;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// ---- events (PUB -> broker XSUB/XPUB proxy -> SUB) ---------------------------------------------

// Publishes [topic, JSON text] to the broker's events_in. Thread-safe (a mutex serialises the
// socket, so stage job threads may publish). Never blocks: drops when the proxy is unreachable.
class EventPublisher {
 public:
    EventPublisher(zmq::context_t& context, std::string events_in_endpoint);
    ~EventPublisher();
    void publish(std::string_view topic, std::string_view json_text);

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct Event {
    std::string topic;
    std::string json_text;
};

// Subscribes to topics starting with any of `prefixes` ("" = all) at the broker's events_out.
class EventSubscriber {
 public:
    EventSubscriber(zmq::context_t& context, std::string events_out_endpoint,
                    std::vector<std::string> prefixes = {""});
    ~EventSubscriber();
    std::optional<Event> receive(std::chrono::milliseconds timeout);
    zmq::socket_t& socket() noexcept;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace digitpipe::framework
