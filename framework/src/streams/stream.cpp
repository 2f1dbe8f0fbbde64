// PUSH/PULL streams of envelope requests (see stream.hpp). Back-pressure comes from ZeroMQ's
// high-water marks: we set SNDHWM/RCVHWM and let a blocked send time out with SNDTIMEO,
// rather than queueing anything ourselves.
#include "digitpipe/stream.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <stdexcept>
#include <vector>

#include <zmq_addon.hpp>

namespace digitpipe::framework {
namespace {

// How long a closed writer's queue may hold up zmq_ctx_term: long enough to flush a few
// queued batches to a live reader, short enough that shutdown never hangs on a dead one.
constexpr int kWriterLingerMs = 1000;
// A closed reader's queue holds messages nobody will read: drop them at once.
constexpr int kReaderLingerMs = 0;

int check_hwm(const StreamConfig& config) {
    if (config.hwm <= 0) {
        throw std::invalid_argument("stream " + config.name + ": hwm must be > 0, got " +
                                    std::to_string(config.hwm));
    }
    return config.hwm;
}

std::size_t check_max_message_bytes(const StreamConfig& config, std::size_t max_message_bytes) {
    if (max_message_bytes == 0) {
        throw std::invalid_argument("stream " + config.name + ": max_message_bytes must be > 0");
    }
    return max_message_bytes;
}

// SNDTIMEO/RCVTIMEO take int milliseconds, where -1 means "forever": clamp into [0, INT_MAX].
int timeout_option(std::chrono::milliseconds timeout) {
    return static_cast<int>(
        std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 0, INT_MAX));
}

// Binds (as a CURVE server when security applies, keeping its ZAP handler in `zap`) or
// connects (as a CURVE client of config.server_public_key); returns the endpoint actually in
// use (a "*" port resolved).
std::string attach(zmq::socket_t& socket, zmq::context_t& context, const StreamConfig& config,
                   bool bind, const SecurityConfig& security, std::shared_ptr<ZapHandler>& zap) {
    if (!bind) {
        secure_client(socket, security, config.server_public_key, config.endpoint);
        socket.connect(config.endpoint);
        return config.endpoint;
    }
    zap = secure_server(socket, context, security, config.endpoint);
    socket.bind(config.endpoint);
    return socket.get(zmq::sockopt::last_endpoint);
}

// Errors a blocking call can meet in normal operation: a signal (EINTR, e.g. SIGTERM on the
// way to shutdown) or a context being terminated (ETERM). Both mean "stop waiting now".
Status interrupted(const std::string& name, const zmq::error_t& e) {
    if (e.num() == EINTR || e.num() == ETERM) {
        return unavailable("stream " + name + ": interrupted: " + e.what());
    }
    return internal_error("stream " + name + ": " + e.what());
}

}  // namespace

// ---- writer --------------------------------------------------------------------------------

PushStreamWriter::PushStreamWriter(zmq::context_t& context, const StreamConfig& config,
                                   std::size_t max_message_bytes, const SecurityConfig& security)
    : name_(config.name),
      max_message_bytes_(check_max_message_bytes(config, max_message_bytes)),
      socket_(context, zmq::socket_type::push) {
    socket_.set(zmq::sockopt::sndhwm, check_hwm(config));
    socket_.set(zmq::sockopt::linger, kWriterLingerMs);
    // On the connecting side, queue nothing for a reader that is not there yet: without it a
    // writer fills a pipe to a peer that may never come and back-pressure starts too late.
    socket_.set(zmq::sockopt::immediate, 1);
    endpoint_ = attach(socket_, context, config, /*bind=*/!config.reader_binds, security, zap_);
}

PushStreamWriter::~PushStreamWriter() = default;

Status PushStreamWriter::send(const Request& message, std::chrono::milliseconds timeout) {
    std::vector<std::string> frames;
    try {
        frames = encode_request(message);
    } catch (const std::invalid_argument& e) {
        return invalid_argument("stream " + name_ + ": cannot send: " + e.what());
    }
    for (std::size_t i = 0; i < frames.size(); ++i) {
        if (frames[i].size() > max_message_bytes_) {
            return resource_exhausted("stream " + name_ + ": frame " + std::to_string(i) +
                                      " is " + std::to_string(frames[i].size()) +
                                      " bytes, over max_message_bytes " +
                                      std::to_string(max_message_bytes_));
        }
    }
    std::vector<zmq::const_buffer> buffers;
    buffers.reserve(frames.size());
    for (const auto& frame : frames) buffers.push_back(zmq::buffer(frame));
    try {
        // Only the first part can block: ZeroMQ accepts or refuses a multipart message whole.
        socket_.set(zmq::sockopt::sndtimeo, timeout_option(timeout));
        if (!zmq::send_multipart(socket_, buffers)) {
            return unavailable("stream " + name_ + ": no reader accepted the message within " +
                               std::to_string(timeout.count()) + " ms (high-water mark " +
                               "reached or no reader connected)");
        }
    } catch (const zmq::error_t& e) {
        return interrupted(name_, e);
    }
    sent_.fetch_add(1, std::memory_order_relaxed);
    return Status::ok();
}

// ---- reader --------------------------------------------------------------------------------

PullStreamReader::PullStreamReader(zmq::context_t& context, const StreamConfig& config,
                                   std::size_t max_message_bytes, const SecurityConfig& security)
    : name_(config.name),
      socket_(context, zmq::socket_type::pull),
      logger_("stream." + config.name) {
    socket_.set(zmq::sockopt::rcvhwm, check_hwm(config));
    socket_.set(zmq::sockopt::linger, kReaderLingerMs);
    socket_.set(zmq::sockopt::maxmsgsize,
                static_cast<std::int64_t>(std::min<std::size_t>(
                    check_max_message_bytes(config, max_message_bytes), INT64_MAX)));
    endpoint_ = attach(socket_, context, config, /*bind=*/config.reader_binds, security, zap_);
}

PullStreamReader::~PullStreamReader() = default;

Result<Request> PullStreamReader::receive(std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::max(timeout, std::chrono::milliseconds(0));
    try {
        for (;;) {
            const auto remaining =
                std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            socket_.set(zmq::sockopt::rcvtimeo, timeout_option(remaining));
            std::vector<zmq::message_t> parts;
            if (!zmq::recv_multipart(socket_, std::back_inserter(parts))) {
                return unavailable("stream " + name_ + ": no message within " +
                                   std::to_string(timeout.count()) + " ms");
            }
            std::vector<std::string> frames;
            frames.reserve(parts.size());
            for (const auto& part : parts) frames.push_back(part.to_string());
            auto request = decode_request(frames);
            if (request) {
                received_.fetch_add(1, std::memory_order_relaxed);
                return request;
            }
            const std::uint64_t dropped = malformed_.fetch_add(1, std::memory_order_relaxed) + 1;
            // ZeroMQ knows the peer's address for tcp and ipc, not for inproc.
            const char* peer = zmq_msg_gets(parts.front().handle(), "Peer-Address");
            logger_.warn("dropped malformed message",
                         {{"stream", name_},
                          {"peer", peer != nullptr ? peer : "unknown"},
                          {"frames", std::to_string(frames.size())},
                          {"dropped_total", std::to_string(dropped)},
                          {"reason", request.status().message()}});
            if (Clock::now() >= deadline) {
                return unavailable("stream " + name_ + ": no well-formed message within " +
                                   std::to_string(timeout.count()) + " ms");
            }
        }
    } catch (const zmq::error_t& e) {
        return interrupted(name_, e);
    }
}

// ---- factories -----------------------------------------------------------------------------

std::unique_ptr<StreamWriter> open_stream_writer(zmq::context_t& context,
                                                 const StreamConfig& config,
                                                 std::size_t max_message_bytes,
                                                 const SecurityConfig& security) {
    return std::make_unique<PushStreamWriter>(context, config, max_message_bytes, security);
}

std::unique_ptr<StreamReader> open_stream_reader(zmq::context_t& context,
                                                 const StreamConfig& config,
                                                 std::size_t max_message_bytes,
                                                 const SecurityConfig& security) {
    return std::make_unique<PullStreamReader>(context, config, max_message_bytes, security);
}

}  // namespace digitpipe::framework
