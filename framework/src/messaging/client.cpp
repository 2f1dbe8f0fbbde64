// The synchronous 7/MDP client: one DEALER (explicit empty delimiter), send, poll, resend the
// same body on timeout, match replies by service and correlation id. Also the 8/MMI helpers
// (service_available, services, broker_stats) built on it.
#include <stdexcept>
#include <utility>

#include "digitpipe/log.hpp"
#include "digitpipe/mdp.hpp"
#include "digitpipe/curve.hpp"
#include "messaging/frame_convert.hpp"
#include "messaging/mdp_frames.hpp"
#include "messaging/mmi.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// DEALER frame positions of a reply: ["", "MDPC01", service, body...].
constexpr std::size_t kReplyService = 2;
constexpr std::size_t kReplyBody = 3;
// Body frame that carries the correlation id (envelope.hpp), and the body size needed for it.
constexpr std::size_t kCorrelationFrame = 2;
constexpr std::size_t kMinCorrelatedFrames = kCorrelationFrame + 1;

std::chrono::milliseconds until(Clock::time_point from, Clock::time_point to) {
    return std::max(0ms, std::chrono::ceil<std::chrono::milliseconds>(to - from));
}

}  // namespace

struct Client::Impl {
    Impl(zmq::context_t& ctx, ClientOptions opts) : context(ctx), options(std::move(opts)) {
        if (options.broker_endpoint.empty()) {
            throw std::invalid_argument("mdp client: broker_endpoint must not be empty");
        }
        if (options.attempts < 1 || options.attempt_timeout <= 0ms) {
            throw std::invalid_argument(
                "mdp client: need attempts >= 1 and attempt_timeout > 0, got " +
                std::to_string(options.attempts) + " and " +
                std::to_string(options.attempt_timeout.count()) + " ms");
        }
        open();
    }

    void open() {
        socket.reset();  // linger 0: whatever the old socket still held is dropped
        socket.emplace(context, zmq::socket_type::dealer);
        mdp::configure_peer_socket(*socket, options.max_message_bytes);
        secure_client(*socket, options.security, options.security.broker_public_key,
                      options.broker_endpoint);
        socket->connect(options.broker_endpoint);
    }

    bool send(const std::string& service, const Frames& body) {
        mdp::FrameSender sender(*socket);
        sender.add(std::string_view{}).add(kMdpClientTag).add(service);
        for (const auto& frame : body) sender.add(frame);
        return sender.finish() == mdp::SendResult::kSent;
    }

    // Whether `parts` is the reply to this request.
    bool matches(const std::string& service, const std::string* correlation) const {
        if (parts.size() <= kReplyService || !parts[0].empty() ||
            !mdp::frame_equals(parts[1], kMdpClientTag) ||
            !mdp::frame_equals(parts[kReplyService], service)) {
            return false;
        }
        if (correlation == nullptr) return true;
        const std::size_t frame = kReplyBody + kCorrelationFrame;
        return parts.size() > frame && mdp::frame_equals(parts[frame], *correlation);
    }

    Result<Frames> request(const std::string& service, const Frames& body,
                           Clock::time_point deadline);

    zmq::context_t& context;
    ClientOptions options;
    Logger log{"client"};
    std::optional<zmq::socket_t> socket;
    mdp::Parts parts;
};

Result<Frames> Client::Impl::request(const std::string& service, const Frames& body,
                                     Clock::time_point deadline) {
    if (service.empty()) return invalid_argument("mdp client: request: service must not be empty");
    const std::string* correlation =
        body.size() >= kMinCorrelatedFrames ? &body[kCorrelationFrame] : nullptr;
    int sends = 0;
    // Without a correlation id a late reply to an unanswered send could pass for the answer
    // to the next request; a fresh socket (new identity) makes such replies undeliverable.
    const auto forget_unanswered = [&](int answered) {
        if (correlation == nullptr && sends > answered) open();
    };
    for (int attempt = 1; attempt <= options.attempts; ++attempt) {
        auto now = Clock::now();
        if (now >= deadline) break;
        if (send(service, body)) {
            ++sends;
        } else {
            // The DEALER's queue is full (broker long unreachable): wait out the attempt.
            log.debug("request not queued: outgoing queue full", {{"service", service}});
        }
        const auto attempt_end = std::min(deadline, now + options.attempt_timeout);
        while (now < attempt_end) {
            const auto received = mdp::receive_parts(*socket, parts, until(now, attempt_end));
            now = Clock::now();
            if (received != mdp::ReceiveResult::kOk || !matches(service, correlation)) {
                continue;  // timeout, or a stale or foreign reply: discarded
            }
            Frames reply = mdp::to_frames(parts, kReplyBody);
            forget_unanswered(/*answered=*/1);
            return reply;
        }
    }
    forget_unanswered(/*answered=*/0);
    if (Clock::now() >= deadline) {
        return deadline_exceeded("mdp client: request to service '" + service +
                                 "' passed its deadline after " + std::to_string(sends) +
                                 " send(s) (broker " + options.broker_endpoint + ")");
    }
    return unavailable("mdp client: no reply from service '" + service + "' after " +
                       std::to_string(options.attempts) + " attempt(s) of " +
                       std::to_string(options.attempt_timeout.count()) + " ms (broker " +
                       options.broker_endpoint + ")");
}

Client::Client(zmq::context_t& context, ClientOptions options)
    : impl_(std::make_unique<Impl>(context, std::move(options))) {}

Client::~Client() = default;

Result<Frames> Client::request(const std::string& service, const Frames& body,
                               std::chrono::steady_clock::time_point deadline) {
    return impl_->request(service, body, deadline);
}

Result<bool> Client::service_available(const std::string& service) {
    auto reply =
        impl_->request(std::string(mmi::kService), Frames{service}, Clock::time_point::max());
    if (!reply.is_ok()) return reply.status();
    const Frames& body = reply.value();
    if (!body.empty() && body[0] == mmi::kFound) return true;
    if (!body.empty() && body[0] == mmi::kNotFound) return false;
    if (!body.empty() && body[0] == mmi::kNotImplemented) {
        return unimplemented("mdp client: broker " + impl_->options.broker_endpoint +
                             " does not implement mmi.service");
    }
    return internal_error("mdp client: mmi.service reply for '" + service +
                          "' is not 200/404/501 (got " + std::to_string(body.size()) +
                          " frame(s))");
}

Result<std::map<std::string, ServiceStats>> Client::services() {
    auto reply = impl_->request(std::string(mmi::kServices), Frames{}, Clock::time_point::max());
    if (!reply.is_ok()) return reply.status();
    const Frames& body = reply.value();
    if (!body.empty() && body[0] == mmi::kNotImplemented) {
        return unimplemented("mdp client: broker " + impl_->options.broker_endpoint +
                             " does not implement mmi.services");
    }
    if (body.empty() || body[0] != mmi::kFound) {
        return internal_error("mdp client: mmi.services reply does not start with \"200\"");
    }
    std::map<std::string, ServiceStats> out;
    for (std::size_t i = 1; i < body.size(); ++i) {
        auto line = mmi::parse_service_line(body[i]);
        if (!line) {
            return internal_error("mdp client: mmi.services reply line " + std::to_string(i) +
                                  " is not \"name idle busy queued [in_flight]\": '" + body[i] +
                                  "'");
        }
        out.insert(std::move(*line));
    }
    return out;
}

Result<BrokerStats> Client::broker_stats() {
    auto reply = impl_->request(std::string(mmi::kBroker), Frames{}, Clock::time_point::max());
    if (!reply.is_ok()) return reply.status();
    Frames& body = reply.value();
    if (!body.empty() && body[0] == mmi::kNotImplemented) {
        return unimplemented("mdp client: broker " + impl_->options.broker_endpoint +
                             " does not implement mmi.broker");
    }
    if (body.empty() || body[0] != mmi::kFound) {
        return internal_error("mdp client: mmi.broker reply does not start with \"200\"");
    }
    body.erase(body.begin());
    return mmi::parse_broker_lines(body);
}

}  // namespace digitpipe::framework
