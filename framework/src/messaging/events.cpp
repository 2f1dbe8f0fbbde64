// Event publishing and subscribing through the broker's XSUB/XPUB proxy: stages publish
// [topic, JSON] (training progress, model published, worker up/down); the gateway subscribes.
#include <mutex>
#include <stdexcept>
#include <utility>

#include "digitpipe/mdp.hpp"
#include "digitpipe/curve.hpp"
#include "messaging/mdp_frames.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Events a publisher keeps while the proxy is away or slow; beyond it PUB drops (events are
// progress reports: the next one supersedes a lost one).
constexpr int kPublisherHighWaterMark = 1000;
// Largest event a subscriber accepts; events are small JSON documents.
constexpr std::size_t kMaxEventBytes = 1u << 20;

}  // namespace

struct EventPublisher::Impl {
    Impl(zmq::context_t& context, std::string endpoint, const SecurityConfig& security)
        : socket(context, zmq::socket_type::pub) {
        if (endpoint.empty())
            throw std::invalid_argument("event publisher: endpoint must not be empty");
        socket.set(zmq::sockopt::sndhwm, kPublisherHighWaterMark);
        mdp::configure_peer_socket(socket, kMaxEventBytes);
        secure_client(socket, security, security.broker_public_key, endpoint);
        socket.connect(endpoint);
    }

    std::mutex mutex;  // serialises the socket: job threads of stages publish concurrently
    zmq::socket_t socket;
};

EventPublisher::EventPublisher(zmq::context_t& context, std::string events_in_endpoint,
                               const SecurityConfig& security)
    : impl_(std::make_unique<Impl>(context, std::move(events_in_endpoint), security)) {}

EventPublisher::~EventPublisher() = default;

void EventPublisher::publish(std::string_view topic, std::string_view json_text) {
    const std::lock_guard<std::mutex> lock(impl_->mutex);
    mdp::FrameSender sender(impl_->socket);
    sender.add(topic).add(json_text);
    (void)sender.finish();  // PUB drops at its high-water mark; that is the contract
}

struct EventSubscriber::Impl {
    Impl(zmq::context_t& context, std::string endpoint, const std::vector<std::string>& prefixes,
         const SecurityConfig& security)
        : socket(context, zmq::socket_type::sub) {
        if (endpoint.empty()) {
            throw std::invalid_argument("event subscriber: endpoint must not be empty");
        }
        mdp::configure_peer_socket(socket, kMaxEventBytes);
        for (const auto& prefix : prefixes) socket.set(zmq::sockopt::subscribe, prefix);
        secure_client(socket, security, security.broker_public_key, endpoint);
        socket.connect(endpoint);
    }

    zmq::socket_t socket;
    mdp::Parts parts;
};

EventSubscriber::EventSubscriber(zmq::context_t& context, std::string events_out_endpoint,
                                 std::vector<std::string> prefixes,
                                 const SecurityConfig& security)
    : impl_(std::make_unique<Impl>(context, std::move(events_out_endpoint), prefixes,
                                   security)) {}

EventSubscriber::~EventSubscriber() = default;

std::optional<Event> EventSubscriber::receive(std::chrono::milliseconds timeout) {
    auto& parts = impl_->parts;
    const auto deadline = Clock::now() + timeout;
    auto now = Clock::now();
    do {
        const auto received = mdp::receive_parts(
            impl_->socket, parts, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
        if (received == mdp::ReceiveResult::kNone) return std::nullopt;  // timed out
        if (received == mdp::ReceiveResult::kOk && parts.size() == 2) {
            return Event{parts[0].to_string(), parts[1].to_string()};
        }
        now = Clock::now();  // not [topic, json]: dropped, keep waiting
    } while (now < deadline);
    return std::nullopt;
}

zmq::socket_t& EventSubscriber::socket() noexcept { return impl_->socket; }

}  // namespace digitpipe::framework
