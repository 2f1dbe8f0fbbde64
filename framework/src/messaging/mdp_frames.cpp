// 7/MDP frame helpers: command bytes, frame dumps for logs, bounded receive and the
// frame-by-frame sender used by every MDP socket in framework/src/messaging.
#include "messaging/mdp_frames.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <limits>

#include "digitpipe/mdp.hpp"

namespace digitpipe::framework::mdp {
namespace {

// Longest frame prefix a log line shows; identities and MDP headers fit, payloads do not.
constexpr std::size_t kDescribeMaxBytes = 48;

bool is_printable(std::string_view bytes) noexcept {
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7e) return false;
    }
    return true;
}

}  // namespace

std::string_view command_name(Command command) noexcept {
    switch (command) {
        case Command::kReady:
            return "READY";
        case Command::kRequest:
            return "REQUEST";
        case Command::kReply:
            return "REPLY";
        case Command::kHeartbeat:
            return "HEARTBEAT";
        case Command::kDisconnect:
            return "DISCONNECT";
    }
    return "UNKNOWN";
}

std::optional<Command> parse_command(const zmq::message_t& frame) noexcept {
    if (frame.size() != 1) return std::nullopt;
    const auto byte = *static_cast<const std::uint8_t*>(frame.data());
    if (byte < static_cast<std::uint8_t>(Command::kReady) ||
        byte > static_cast<std::uint8_t>(Command::kDisconnect)) {
        return std::nullopt;
    }
    return static_cast<Command>(byte);
}

std::optional<int> parse_prefetch(const zmq::message_t& frame) noexcept {
    const std::string_view text = view_of(frame);
    int value = 0;
    // from_chars alone would accept a leading '-'; digits only keeps the wire form plain.
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    if (value < 1 || value > kMaxPrefetch) return std::nullopt;
    return value;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += kDigits[u >> 4];
        out += kDigits[u & 0x0f];
    }
    return out;
}

std::string describe_frame(std::string_view bytes) {
    const std::string_view shown = bytes.substr(0, kDescribeMaxBytes);
    std::string out = "[" + std::to_string(bytes.size()) + "] ";
    if (is_printable(shown)) {
        out += shown;
    } else {
        out += "0x";
        out += to_hex(shown);
    }
    if (shown.size() < bytes.size()) out += "...";
    return out;
}

std::string describe_parts(const Parts& parts) {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty()) out += " | ";
        out += describe_frame(view_of(part));
    }
    return out;
}

void configure_peer_socket(zmq::socket_t& socket, std::size_t max_message_bytes) {
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(max_message_bytes));
}

namespace {

// The rest of a message whose first frame is `frame`.
ReceiveResult receive_rest(zmq::socket_t& socket, zmq::message_t&& frame, Parts& parts) {
    bool more = frame.more();
    parts.push_back(std::move(frame));
    bool too_many = false;
    while (more) {
        // The rest of a multipart message is already here (libzmq delivers messages whole).
        zmq::message_t next;
        if (!socket.recv(next, zmq::recv_flags::none)) break;
        more = next.more();
        if (parts.size() < kMaxFramesPerMessage) {
            parts.push_back(std::move(next));
        } else {
            too_many = true;
        }
    }
    return too_many ? ReceiveResult::kTooManyFrames : ReceiveResult::kOk;
}

}  // namespace

ReceiveResult receive_parts(zmq::socket_t& socket, Parts& parts) {
    parts.clear();
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) return ReceiveResult::kNone;
    return receive_rest(socket, std::move(frame), parts);
}

ReceiveResult receive_parts(zmq::socket_t& socket, Parts& parts,
                            std::chrono::milliseconds timeout) {
    parts.clear();
    const auto millis = std::max<std::chrono::milliseconds::rep>(timeout.count(), 0);
    socket.set(zmq::sockopt::rcvtimeo, static_cast<int>(std::min<std::chrono::milliseconds::rep>(
                                           millis, std::numeric_limits<int>::max())));
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::none)) return ReceiveResult::kNone;
    return receive_rest(socket, std::move(frame), parts);
}

std::size_t total_size(const Parts& parts) noexcept {
    std::size_t total = 0;
    for (const auto& part : parts) total += part.size();
    return total;
}

FrameSender& FrameSender::add(std::string_view bytes) {
    push(zmq::message_t(bytes.data(), bytes.size()));
    return *this;
}

FrameSender& FrameSender::add(zmq::message_t&& frame) {
    push(std::move(frame));
    return *this;
}

FrameSender& FrameSender::add_copy(zmq::message_t& frame) {
    zmq::message_t duplicate;
    duplicate.copy(frame);
    push(std::move(duplicate));
    return *this;
}

void FrameSender::push(zmq::message_t&& frame) {
    if (has_pending_) send_pending(/*more=*/true);
    pending_ = std::move(frame);
    has_pending_ = true;
}

void FrameSender::send_pending(bool more) {
    has_pending_ = false;
    if (result_ != SendResult::kSent) return;  // the message was refused at its first frame
    if (trace_ != nullptr) {
        if (!trace_->empty()) *trace_ += " | ";
        *trace_ += describe_frame(view_of(pending_));
    }
    const auto more_flag = more ? zmq::send_flags::sndmore : zmq::send_flags::none;
    if (first_) {
        first_ = false;
        try {
            if (!socket_.send(pending_, more_flag | zmq::send_flags::dontwait)) {
                result_ = SendResult::kWouldBlock;
            }
        } catch (const zmq::error_t& e) {
            if (e.num() != EHOSTUNREACH) throw;
            result_ = SendResult::kUnreachable;
        }
        return;
    }
    // Later frames cannot be refused (see the class comment); a blocking send keeps the
    // message whole even if that ever changed.
    (void)socket_.send(pending_, more_flag);
}

SendResult FrameSender::finish() {
    if (has_pending_) send_pending(/*more=*/false);
    return result_;
}

}  // namespace digitpipe::framework::mdp
