// The asynchronous 7/MDP client: one DEALER with many requests in flight, no retry. The caller
// (the gateway's bridge thread) correlates replies and enforces deadlines itself.
#include <stdexcept>
#include <utility>

#include "digitpipe/mdp.hpp"
#include "digitpipe/curve.hpp"
#include "messaging/frame_convert.hpp"
#include "messaging/mdp_frames.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Requests (and replies) that may wait in the socket's queues: room for a gateway's burst
// while the broker is briefly away, bounded so memory is too.
constexpr int kHighWaterMark = 10'000;

// DEALER frame positions of a reply: ["", "MDPC01", service, body...].
constexpr std::size_t kReplyService = 2;
constexpr std::size_t kReplyBody = 3;

}  // namespace

struct AsyncClient::Impl {
    Impl(zmq::context_t& context, std::string endpoint_in, std::size_t max_message_bytes,
         const SecurityConfig& security)
        : endpoint(std::move(endpoint_in)), socket(context, zmq::socket_type::dealer) {
        if (endpoint.empty()) {
            throw std::invalid_argument("mdp async client: broker endpoint must not be empty");
        }
        socket.set(zmq::sockopt::sndhwm, kHighWaterMark);
        socket.set(zmq::sockopt::rcvhwm, kHighWaterMark);
        mdp::configure_peer_socket(socket, max_message_bytes);
        secure_client(socket, security, security.broker_public_key, endpoint);
        socket.connect(endpoint);
    }

    std::string endpoint;
    zmq::socket_t socket;
    mdp::Parts parts;
};

AsyncClient::AsyncClient(zmq::context_t& context, std::string broker_endpoint,
                         std::size_t max_message_bytes, const SecurityConfig& security)
    : impl_(std::make_unique<Impl>(context, std::move(broker_endpoint), max_message_bytes,
                                   security)) {}

AsyncClient::~AsyncClient() = default;

Status AsyncClient::send(const std::string& service, const Frames& body) {
    if (service.empty())
        return invalid_argument("mdp async client: send: service must not be empty");
    mdp::FrameSender sender(impl_->socket);
    sender.add(std::string_view{}).add(kMdpClientTag).add(service);
    for (const auto& frame : body) sender.add(frame);
    if (sender.finish() != mdp::SendResult::kSent) {
        return resource_exhausted("mdp async client: outgoing queue to " + impl_->endpoint +
                                  " is full (" + std::to_string(kHighWaterMark) +
                                  " requests; broker unreachable or not reading)");
    }
    return Status::ok();
}

std::optional<std::pair<std::string, Frames>> AsyncClient::receive(
    std::chrono::milliseconds timeout) {
    auto& parts = impl_->parts;
    const auto deadline = Clock::now() + timeout;
    auto now = Clock::now();
    do {
        const auto received = mdp::receive_parts(
            impl_->socket, parts, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
        if (received == mdp::ReceiveResult::kNone) return std::nullopt;  // timed out
        if (received == mdp::ReceiveResult::kOk && parts.size() > kReplyService &&
            parts[0].empty() && mdp::frame_equals(parts[1], kMdpClientTag)) {
            return std::make_pair(parts[kReplyService].to_string(),
                                  mdp::to_frames(parts, kReplyBody));
        }
        now = Clock::now();  // not an MDP/Client reply: dropped, keep waiting
    } while (now < deadline);
    return std::nullopt;
}

zmq::socket_t& AsyncClient::socket() noexcept { return impl_->socket; }

}  // namespace digitpipe::framework
