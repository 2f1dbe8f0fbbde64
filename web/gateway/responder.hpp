// The one way the gateway answers an HTTP request: a Responder owns the request's Pistache
// ResponseWriter, sends one HttpAnswer on it from whichever thread holds it (a handler thread,
// or the bridge thread for requests that wait on the broker; Pistache 0.0.5 supports a writer
// moved to another thread, FACTS.md), and records the request in the gateway's metrics.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pistache/http.h>

#include "gateway_metrics.hpp"
#include "http_errors.hpp"

namespace digitpipe::gateway {

using SteadyClock = std::chrono::steady_clock;

// A response header with any name and a verbatim value. Pistache 0.0.5 writes only typed
// headers (raw ones are dropped on the way out) and has no Retry-After type, and its
// Content-Type type re-parses media types it does not know (font/woff2): this writes the text
// as given. requires: name and value hold no CR or LF.
class TextHeader final : public Pistache::Http::Header::Header {
 public:
    TextHeader(std::string name, std::string value);
    const char* name() const override { return name_.c_str(); }
    void write(std::ostream& stream) const override { stream << value_; }
    std::uint64_t hash() const override { return hash_; }

 private:
    std::string name_;
    std::string value_;
    std::uint64_t hash_;
};

// Move-only. Thread-safety: one thread at a time (it moves with the request).
class Responder {
 public:
    // `route` is the metrics label (a route template, not the raw path); `started` is when the
    // request came in (latency and latency_ms are measured from it).
    Responder(Pistache::Http::ResponseWriter writer, std::string route, GatewayMetrics& metrics,
              SteadyClock::time_point started = SteadyClock::now());
    // Moves leave `other` answered (inert): only one object ever owns the writer.
    Responder(Responder&& other) noexcept;
    Responder& operator=(Responder&& other) noexcept;
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;
    // A Responder dropped unanswered (a bug) answers 500 so the client is not left waiting.
    ~Responder();

    // Sends `answer` (headers, Content-Type, body) and records it. Only the first call sends;
    // later ones are ignored. Never throws: a peer that has gone is logged at debug level.
    void send(const HttpAnswer& answer) noexcept;

    // Adds a header to whatever answer is sent later (CORS headers decided when the request
    // came in, before the request moves to the bridge). Name and value hold no CR or LF.
    void add_header(std::string name, std::string value);

    bool answered() const noexcept { return !writer_.has_value(); }
    SteadyClock::time_point started() const noexcept { return started_; }
    const std::string& route() const noexcept { return route_; }
    // Milliseconds since the request came in.
    double elapsed_ms() const noexcept;

 private:
    std::optional<Pistache::Http::ResponseWriter> writer_;
    std::string route_;
    std::vector<std::pair<std::string, std::string>> extra_headers_;
    GatewayMetrics* metrics_;
    SteadyClock::time_point started_;
};

}  // namespace digitpipe::gateway
