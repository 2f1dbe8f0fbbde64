// The broker-client thread of the gateway (STYLE 8): the only code in the gateway that touches
// ZeroMQ. Pistache handlers validate their input, then hand the bridge a job with their
// Responder (which owns the request's ResponseWriter); the bridge thread answers it.
//
// The thread owns one framework::AsyncClient (a DEALER to the broker, many requests in flight,
// replies matched by correlation id) and one EventSubscriber on the broker's events_out (all
// topics). Handlers wake it through an eventfd polled next to the two sockets: a handler never
// touches a socket (ZeroMQ sockets are single-threaded, and an inproc PAIR per Pistache thread
// would be one more socket per thread to own), and the wake costs one write(2) with no latency
// added to the request. The thread then:
//   - sends stage calls, or answers 503 + Retry-After at once when the broker has no live
//     worker for the service (per the last mmi.services snapshot), and 504 at the deadline;
//   - asks the broker `mmi.services` every second (workers, queue depth; a worker count change
//     becomes a `workers.changed` event) and each service's `health` verb every 2 s (for
//     /api/workers and /readyz);
//   - numbers the events it receives into an EventLog and answers parked long-polls when an
//     event arrives or their timeout passes;
//   - gathers each stage's `metrics` verb for GET /metrics (answers after all replied or 1 s).
// Everything parked in the bridge counts against max_pending (beyond it: 429 at once).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "digitpipe/envelope.hpp"
#include "gateway_config.hpp"
#include "gateway_metrics.hpp"
#include "http_errors.hpp"
#include "responder.hpp"

namespace digitpipe::gateway {

// Turns a stage's OK reply into the HTTP answer (errors are mapped by the bridge, by status
// code, with the stage's message). May throw on a reply of the wrong shape: the bridge answers
// 500 naming the verb. `latency_ms` is the time since the request came in.
using ReplyMapper = std::function<HttpAnswer(const framework::Reply& reply, double latency_ms)>;

// One request to a stage. The bridge sets the correlation id (random 128-bit hex) and the
// deadline (request start + request_timeout) before sending.
struct StageCall {
    std::string service;
    framework::Request request;
    ReplyMapper map_reply;
};

class Bridge {
 public:
    // Nothing starts or connects until start(). `config` and `metrics` must outlive the bridge.
    Bridge(zmq::context_t& context, const GatewayConfig& config, GatewayMetrics& metrics);
    // Calls stop().
    ~Bridge();
    Bridge(const Bridge&) = delete;
    Bridge& operator=(const Bridge&) = delete;

    // Starts the thread, which creates and connects its sockets; returns once they are
    // connected. throws: zmq::error_t for a bad endpoint, std::system_error when the eventfd or
    // the thread cannot be made.
    void start();
    // Answers everything parked (503 "shutting down"; /metrics with what it has), joins the
    // thread. Jobs submitted afterwards are answered 503 at once. Idempotent.
    void stop() noexcept;

    // Thread-safe and non-blocking: each queues a job for the bridge thread, or answers at once
    // (429 past max_pending, 503 when stopped).
    void call(StageCall call, Responder responder);
    // GET /api/events: answers when events after `after` exist, else waits up to `timeout`.
    void poll_events(std::uint64_t after, std::chrono::milliseconds timeout, Responder responder);
    // GET /api/workers, GET /readyz, GET /metrics.
    void workers(Responder responder);
    void readiness(Responder responder);
    void scrape_metrics(Responder responder);

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace digitpipe::gateway
