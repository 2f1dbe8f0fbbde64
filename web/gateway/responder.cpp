// Answers on a Pistache ResponseWriter, once, with metrics (see responder.hpp).
#include "responder.hpp"

#include "digitpipe/log.hpp"

namespace digitpipe::gateway {

namespace {

// FNV-1a, as Pistache's NAME() macro hashes header names (its header_cast compares them).
std::uint64_t fnv1a(const std::string& text) {
    std::uint64_t hash = 14695981039346656037ULL;
    for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    return hash;
}

}  // namespace

TextHeader::TextHeader(std::string name, std::string value)
    : name_(std::move(name)), value_(std::move(value)), hash_(fnv1a(name_)) {}

Responder::Responder(Pistache::Http::ResponseWriter writer, std::string route,
                     GatewayMetrics& metrics, SteadyClock::time_point started)
    : writer_(std::move(writer)), route_(std::move(route)), metrics_(&metrics), started_(started) {}

Responder::Responder(Responder&& other) noexcept
    : writer_(std::move(other.writer_)),
      route_(std::move(other.route_)),
      extra_headers_(std::move(other.extra_headers_)),
      metrics_(other.metrics_),
      started_(other.started_) {
    other.writer_.reset();  // std::optional's move leaves the source engaged
}

Responder& Responder::operator=(Responder&& other) noexcept {
    if (this != &other) {
        if (writer_) {
            send(error_answer(500, "internal",
                              "gateway: the request for " + route_ + " was dropped unanswered"));
        }
        writer_ = std::move(other.writer_);
        other.writer_.reset();
        route_ = std::move(other.route_);
        extra_headers_ = std::move(other.extra_headers_);
        metrics_ = other.metrics_;
        started_ = other.started_;
    }
    return *this;
}

Responder::~Responder() {
    if (writer_) {
        send(error_answer(500, "internal",
                          "gateway: the request for " + route_ + " was dropped unanswered"));
    }
}

double Responder::elapsed_ms() const noexcept {
    return std::chrono::duration<double, std::milli>(SteadyClock::now() - started_).count();
}

void Responder::add_header(std::string name, std::string value) {
    extra_headers_.emplace_back(std::move(name), std::move(value));
}

void Responder::send(const HttpAnswer& answer) noexcept {
    if (!writer_) return;
    auto writer = std::move(*writer_);
    writer_.reset();
    try {
        auto& headers = writer.headers();
        for (const auto& [name, value] : extra_headers_) {
            headers.add(std::make_shared<TextHeader>(name, value));
        }
        for (const auto& [name, value] : answer.headers) {
            headers.add(std::make_shared<TextHeader>(name, value));
        }
        if (!answer.content_type.empty()) {
            headers.add(std::make_shared<TextHeader>("Content-Type", answer.content_type));
        }
        // The promise is dropped on purpose: attaching .then() from a non-reactor thread races
        // in Pistache 0.0.5 (FACTS.md), and a failed write has no one left to tell.
        (void)writer.send(static_cast<Pistache::Http::Code>(answer.code), answer.body);
    } catch (const std::exception& e) {
        framework::log_event(framework::LogLevel::kDebug, "gateway", "answer not sent",
                             {{"route", route_}, {"error", e.what()}});
    }
    try {
        metrics_->record_request(
            route_, answer.code,
            std::chrono::duration<double>(SteadyClock::now() - started_).count());
    } catch (const std::exception& e) {
        framework::log_event(framework::LogLevel::kWarn, "gateway", "metrics update failed",
                             {{"error", e.what()}});
    }
}

}  // namespace digitpipe::gateway
