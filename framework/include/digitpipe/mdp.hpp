// Majordomo (ZeroMQ RFC 7/MDP 0.1, with 8/MMI) broker, worker session and client, plus the
// broker's event proxy (XSUB in, XPUB out).
//
// Wire: clients are DEALERs sending ["", "MDPC01", service, body...]; workers are DEALERs
// sending ["", "MDPW01", command, ...]. Bodies are opaque here (see envelope.hpp).
// Heartbeats flow both ways every `heartbeat`; a peer silent for heartbeat x liveness is dead.
// The broker remembers the requests each worker holds and requeues them (at the front, in
// their original order) when that worker dies, so a SIGKILLed worker's requests are answered
// by another worker.
//
// digitpipe extension "prefetch" (credit): plain 7/MDP lets a worker hold one request, so its
// throughput is bounded by the broker<->worker round trip. A worker may announce a credit as
// an optional sixth frame of READY, ["", "MDPW01", READY, service, credit], the credit in
// decimal text in 1..kMaxPrefetch; the broker then sends it up to that many requests before
// its first REPLY. Without the frame the credit is 1 (plain RFC 7 workers keep working, and a
// worker with credit 1 sends no such frame, so it also works with any RFC 7 broker). A worker
// answers its requests in order; a REPLY releases the oldest request it holds for that client.
// A credit frame that is not such a number is a protocol error (dropped, counted as
// malformed, answered with DISCONNECT). The broker gives a request to the worker with free
// credit and the fewest requests in flight, ties to the least recently used.
// Malformed frames are dropped, counted and logged with the peer's identity; never asserted.
//
// Threading: each object owns its sockets and must be used by one thread at a time; it may be
// built on one thread and used on another when the hand-over synchronises (std::thread start
// or join). The WorkerSession runs its handler on a second thread of its own so heartbeats
// continue while a request is processed. One zmq::context_t per process is shared by
// reference and must outlive every object here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "digitpipe/status.hpp"
#include "digitpipe/transport_security.hpp"

namespace digitpipe::framework {

inline constexpr std::string_view kMdpClientTag = "MDPC01";
inline constexpr std::string_view kMdpWorkerTag = "MDPW01";

using Frames = std::vector<std::string>;

// The largest prefetch credit a worker may announce (see the extension above): bounds what
// the broker and the worker buffer per worker.
inline constexpr int kMaxPrefetch = 1024;

// Broker and workers must agree on it (7/MDP has no negotiation).
struct HeartbeatPolicy {
    std::chrono::milliseconds interval{1000};
    int liveness = 3;
    std::chrono::milliseconds expiry() const { return interval * liveness; }
};

// ---- broker --------------------------------------------------------------------------------

struct BrokerOptions {
    std::string endpoint;    // ROUTER bind; "tcp://127.0.0.1:*" picks a free port
    std::string events_in;   // XSUB bind; empty (with events_out empty) = no event proxy
    std::string events_out;  // XPUB bind
    HeartbeatPolicy heartbeat;
    std::size_t max_message_bytes = 16u << 20;  // per frame (libzmq) and per message (broker)
    bool verbose = false;                       // log every frame that passes
    // Added after `verbose` so positional initialisers written before them keep their meaning.
    std::size_t max_queued_per_service = 10'000;  // beyond it the oldest queued request is dropped
    std::chrono::milliseconds max_queue_age{60'000};  // queued longer than this: dropped
    // CURVE on tcp:// sockets (transport_security.hpp): the ROUTER and the event proxy are
    // CURVE servers admitting security.allowed_clients.
    SecurityConfig security{};
};

struct ServiceStats {
    std::size_t workers_idle = 0;  // workers holding no request
    std::size_t workers_busy = 0;  // workers holding at least one request
    std::size_t queued = 0;        // requests waiting for a worker
    std::size_t in_flight = 0;     // requests sent to workers and not yet answered
};

struct BrokerStats {
    std::uint64_t requests = 0;         // client requests accepted (mmi.* included)
    std::uint64_t replies = 0;          // replies sent to clients (mmi.* included)
    std::uint64_t requeued = 0;         // requests moved off a dead or departed worker (each)
    std::uint64_t malformed = 0;        // messages dropped as malformed
    std::uint64_t workers_expired = 0;  // workers dropped for missing heartbeats
    std::uint64_t dropped = 0;          // queued requests dropped (queue full or too old)
    std::uint64_t unroutable = 0;       // replies whose client had gone or was not reading
    std::map<std::string, ServiceStats> services;  // services with workers or queued requests
};

// The 7/MDP broker: one ROUTER for clients and workers (router_mandatory, so a send to a
// vanished peer fails and is handled instead of silently lost), and the event proxy.
// Requests wait in a per-service queue while no worker has credit (bounded by
// max_queued_per_service and max_queue_age; dropped requests get no reply, their clients
// retry). Answers "mmi.service" (8/MMI), "mmi.services" (see Client::services) and
// "mmi.broker" (BrokerStats counters, see Client::broker_stats) itself.
// The same loop forwards events (XSUB -> XPUB, subscriptions back), polling those sockets at
// least every 5 ms so the request path waits on the ROUTER alone.
class Broker {
 public:
    // Binds all sockets.
    // throws: std::invalid_argument for an empty endpoint, a non-positive heartbeat, or only
    // one of events_in/events_out; zmq::error_t when an endpoint cannot be bound.
    Broker(zmq::context_t& context, BrokerOptions options);
    // requires: run() has returned (stop it and join its thread first).
    ~Broker();
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    // The endpoints actually bound (a "*" port resolved to its number); empty when unused.
    const std::string& endpoint() const noexcept;
    const std::string& events_in() const noexcept;
    const std::string& events_out() const noexcept;

    // Serves until `stop` becomes true (checked at least every heartbeat interval).
    // May be called again after it returned; requests still queued stay queued.
    void run(const std::atomic<bool>& stop);

    // A snapshot, refreshed by run() within about 10 ms of a change; safe from any thread.
    BrokerStats stats() const;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// ---- worker --------------------------------------------------------------------------------

struct WorkerOptions {
    std::string broker_endpoint;
    std::string service;  // not empty, not "mmi.*"
    HeartbeatPolicy heartbeat;
    std::chrono::milliseconds reconnect_initial{250};  // backoff doubles up to reconnect_max
    std::chrono::milliseconds reconnect_max{5000};
    std::size_t max_message_bytes = 16u << 20;
    bool verbose = false;
    std::chrono::milliseconds stop_grace{1000};  // at stop, how long to wait for a running handler
    // Added last so positional initialisers written before it keep their meaning.
    // Requests the broker may send before the first is answered (digitpipe's prefetch
    // extension, see the file comment), 1..kMaxPrefetch; 1 is plain 7/MDP. The handler still
    // sees one request at a time; the others wait, in order, in the session.
    int prefetch = 1;
    // Batching (run_batches): the most requests handed to the handler at once, 1..prefetch,
    // and how long to gather arrivals for a batch that is not full (0: take only those
    // already waiting, so a lone request never waits).
    int max_batch = 1;
    std::chrono::microseconds max_batch_wait{0};
    // CURVE on a tcp:// broker endpoint: the broker's key is security.broker_public_key.
    SecurityConfig security{};
};

// Takes a request body, returns the reply body. Must not throw (the host wraps stages); if it
// does, the session logs the error and replies with an empty body.
using RequestHandler = std::function<Frames(Frames&& request_body)>;
// Takes the bodies of requests that arrived together (oldest first, at least one), returns one
// reply body per request in the same order. Must not throw (as RequestHandler); a wrong number
// of replies is logged and padded or cut with empty bodies.
using BatchHandler = std::function<std::vector<Frames>(std::vector<Frames>&& request_bodies)>;

class WorkerSession {
 public:
    // throws: std::invalid_argument for an empty endpoint or service, an "mmi." service, a
    // non-positive heartbeat or backoff, a prefetch outside 1..kMaxPrefetch, or a max_batch
    // outside 1..prefetch. Connects nothing yet.
    WorkerSession(zmq::context_t& context, WorkerOptions options);
    // Waits for a handler still running after run() returned (see run()).
    ~WorkerSession();
    WorkerSession(const WorkerSession&) = delete;
    WorkerSession& operator=(const WorkerSession&) = delete;

    // Registers (READY, with the prefetch credit when it is not 1), serves requests one at a
    // time, heartbeats, reconnects with backoff (reconnect_initial doubling to reconnect_max,
    // reset by any message from the broker) when the broker goes silent for heartbeat.expiry()
    // or sends DISCONNECT, until `stop` is true (checked at least every 100 ms); then sends
    // DISCONNECT and returns.
    // The handler runs on a thread of the session's own (it receives a copy of `handler`),
    // so heartbeats continue meanwhile. With prefetch > 1 up to `prefetch` requests wait in a
    // FIFO for the handler; requests that arrive while it works are moved there whenever the
    // I/O thread wakes (a reply, a heartbeat), and replies go out in order as each completes.
    // At stop, and when the connection is replaced, requests still waiting and not started are
    // dropped unanswered: the DISCONNECT (or the broker's expiry of the old connection) makes
    // the broker requeue them for another worker. A request in progress at stop gets up to
    // options.stop_grace to finish and is answered; past that run() returns anyway: the
    // DISCONNECT makes the broker requeue the request for another worker, the late reply is
    // discarded, and the destructor waits for the handler to return.
    // throws: zmq::error_t on a libzmq failure (not on network trouble, which it survives);
    // std::runtime_error if the handler thread cannot start.
    void run(const RequestHandler& handler, const std::atomic<bool>& stop);
    // As run(), handing the handler up to options.max_batch requests at once: whatever waits
    // in the FIFO when it is free, plus, for a short batch, what arrives within
    // options.max_batch_wait of the first. Meanwhile the I/O thread reads the broker, so those
    // arrivals reach the batch. Replies still go out in request order.
    void run_batches(const BatchHandler& handler, const std::atomic<bool>& stop);

    // Messages from the broker dropped as malformed since construction, over all run()s: not
    // MDPW01, an unknown or worker-to-broker command (READY, REPLY), a REQUEST without client
    // address and empty delimiter or beyond the prefetch credit, a HEARTBEAT or DISCONNECT
    // with extra frames, more than mdp::kMaxFramesPerMessage frames. None of them counts as a
    // sign of the broker's life. Logged with the reason at most once per 10 s (the first at
    // once). Thread-safe (an atomic), so a handler may report it while run() serves.
    std::uint64_t malformed() const noexcept;

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
    // CURVE on a tcp:// broker endpoint: the broker's key is security.broker_public_key.
    SecurityConfig security{};
};

// Synchronous client with retry. Replies are matched to requests by service and, when the
// body has at least three frames, by the correlation id in body frame [2] (see envelope.hpp);
// stale replies of earlier attempts or requests are discarded. A body without a correlation
// id cannot be told from a stale reply, so after such a request needed a resend the client
// replaces its socket (late replies then go nowhere).
class Client {
 public:
    // throws: std::invalid_argument for an empty endpoint, attempts < 1 or a non-positive
    // attempt_timeout.
    Client(zmq::context_t& context, ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends `body` to `service` and waits for the reply body, resending the same body on
    // timeout (workers are idempotent by contract). kUnavailable when every attempt timed out;
    // kDeadlineExceeded if `deadline` passes first; kInvalidArgument for an empty service.
    Result<Frames> request(const std::string& service, const Frames& body,
                           std::chrono::steady_clock::time_point deadline =
                               std::chrono::steady_clock::time_point::max());

    // 8/MMI "mmi.service": does the broker know `service` with at least one live worker?
    // ("200" / "404"; kUnimplemented when the broker answers "501").
    Result<bool> service_available(const std::string& service);

    // digitpipe's MMI extension "mmi.services": request body empty; reply body
    // ["200", "name idle busy queued in_flight"...], one frame per service the broker knows,
    // counts in decimal. Lines of older brokers ("name idle busy queued") are accepted too,
    // in_flight then being busy (one request per busy worker). kInternal when a line has
    // neither shape.
    Result<std::map<std::string, ServiceStats>> services();

    // digitpipe's MMI extension "mmi.broker": request body empty; reply body
    // ["200", "requests N", "replies N", "malformed N", "requeued N", "workers_expired N",
    // "dropped N", "unroutable N"] (BrokerStats's counters, decimal; readers skip names they
    // do not know). `services` is left empty (see services()). The broker's live counts: the
    // mmi.broker request itself is already among `requests`. kUnimplemented when the broker
    // answers "501" (an older broker); kInternal when the reply has another shape or lacks a
    // counter.
    Result<BrokerStats> broker_stats();

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Asynchronous client: many requests in flight on one DEALER, no retry, for the gateway's
// bridge thread. The caller matches replies (by correlation id) and enforces deadlines.
class AsyncClient {
 public:
    // `security` as ClientOptions::security.
    AsyncClient(zmq::context_t& context, std::string broker_endpoint,
                std::size_t max_message_bytes = 16u << 20, const SecurityConfig& security = {});
    ~AsyncClient();
    AsyncClient(const AsyncClient&) = delete;
    AsyncClient& operator=(const AsyncClient&) = delete;

    // Queues one request; never blocks. kResourceExhausted when the outgoing queue is full
    // (broker unreachable or not reading); kInvalidArgument for an empty service.
    Status send(const std::string& service, const Frames& body);
    // One reply (service, body) if one arrives within `timeout`; malformed ones are dropped.
    std::optional<std::pair<std::string, Frames>> receive(std::chrono::milliseconds timeout);
    // For zmq::poll alongside other sockets (poll for ZMQ_POLLIN, then receive(0ms)).
    zmq::socket_t& socket() noexcept;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// ---- events (PUB -> broker XSUB/XPUB proxy -> SUB) ---------------------------------------------

// Publishes [topic, JSON text] to the broker's events_in. Thread-safe (a mutex serialises the
// socket, so stage job threads may publish). Never blocks: drops when the proxy is unreachable
// or slow. PUB/SUB joins late: events published before a subscription reached this publisher
// are lost.
class EventPublisher {
 public:
    // `security` as ClientOptions::security (the proxy is the broker's).
    EventPublisher(zmq::context_t& context, std::string events_in_endpoint,
                   const SecurityConfig& security = {});
    ~EventPublisher();
    EventPublisher(const EventPublisher&) = delete;
    EventPublisher& operator=(const EventPublisher&) = delete;
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
// Not thread-safe. Messages that are not exactly [topic, json] are dropped.
class EventSubscriber {
 public:
    EventSubscriber(zmq::context_t& context, std::string events_out_endpoint,
                    std::vector<std::string> prefixes = {""}, const SecurityConfig& security = {});
    ~EventSubscriber();
    EventSubscriber(const EventSubscriber&) = delete;
    EventSubscriber& operator=(const EventSubscriber&) = delete;
    // The next event if one arrives within `timeout`.
    std::optional<Event> receive(std::chrono::milliseconds timeout);
    zmq::socket_t& socket() noexcept;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace digitpipe::framework
