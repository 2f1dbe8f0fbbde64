// 7/MDP frame vocabulary shared by the broker, the worker session and the clients: command
// bytes, frame comparisons, bounded multipart receive, an allocation-free multipart sender,
// socket options for sockets that face peers, and frame dumps for logs (text or hex).
// Internal to framework/src/messaging: nothing outside this folder builds or parses MDP frames.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

namespace digitpipe::framework::mdp {

// Frames of one multipart message, as received (no copies into strings on the hot path).
using Parts = std::vector<zmq::message_t>;

// Most frames we accept in one message. A message with more is drained and dropped: libzmq's
// ZMQ_MAXMSGSIZE bounds each frame, not their number, and a vector of a million empty frames
// would cost memory before any check could run.
inline constexpr std::size_t kMaxFramesPerMessage = 4096;

// 7/MDP worker commands (frame 2 of every MDPW01 message, one byte).
enum class Command : std::uint8_t {
    kReady = 0x01,
    kRequest = 0x02,
    kReply = 0x03,
    kHeartbeat = 0x04,
    kDisconnect = 0x05,
};

// The prefetch credit carried by READY's optional frame (see mdp.hpp): decimal digits only,
// in 1..kMaxPrefetch; nullopt otherwise.
std::optional<int> parse_prefetch(const zmq::message_t& frame) noexcept;

// "READY", "REQUEST", ... for logs.
std::string_view command_name(Command command) noexcept;

// The command in `frame`, or nullopt when it is not exactly one known command byte.
std::optional<Command> parse_command(const zmq::message_t& frame) noexcept;

// The one-byte frame that carries `command`.
inline std::string_view command_frame(Command command) noexcept {
    // Static storage: one byte per command, indexed by value.
    static constexpr char kBytes[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05};
    return {&kBytes[static_cast<std::uint8_t>(command)], 1};
}

inline std::string_view view_of(const zmq::message_t& frame) noexcept {
    return frame.to_string_view();
}

inline bool frame_equals(const zmq::message_t& frame, std::string_view text) noexcept {
    return frame.to_string_view() == text;
}

// Lowercase hex of every byte ("00a1b2c3d4"), for peer identities in logs.
std::string to_hex(std::string_view bytes);

// One frame for a log line: as text when it is all printable ASCII, else as hex; long frames
// are cut to their first bytes and the total size is given.
std::string describe_frame(std::string_view bytes);

// All frames, "|"-separated, each as describe_frame writes it.
std::string describe_parts(const Parts& parts);

// Applies what every socket facing other processes gets: no linger on close (a dead peer must
// not hold up shutdown) and ZMQ_MAXMSGSIZE (libzmq drops a peer that sends a larger frame).
void configure_peer_socket(zmq::socket_t& socket, std::size_t max_message_bytes);

enum class ReceiveResult {
    kNone,           // nothing was waiting
    kOk,             // `parts` holds one whole message
    kTooManyFrames,  // more than kMaxFramesPerMessage frames: the rest were drained and
                     // discarded; `parts` keeps the first ones (for the peer's identity)
};

// Receives one multipart message without blocking. `parts` is cleared first (its capacity is
// kept, so a loop that reuses the vector does not allocate). throws: zmq::error_t from libzmq.
ReceiveResult receive_parts(zmq::socket_t& socket, Parts& parts);

// Same, waiting up to `timeout` (clamped to >= 0) for the first frame. This is the cheap way
// to wait on one socket: libzmq's blocking receive sleeps on the socket's mailbox with one
// poll(2), where zmq_poll costs a poll(2) plus a getsockopt(ZMQ_EVENTS) round (each a
// getpid(2) and a poll(2)) per socket and pass. Sets the socket's ZMQ_RCVTIMEO.
ReceiveResult receive_parts(zmq::socket_t& socket, Parts& parts, std::chrono::milliseconds timeout);

// Sum of the frame sizes.
std::size_t total_size(const Parts& parts) noexcept;

enum class SendResult {
    kSent,
    kWouldBlock,   // the peer's queue is at its high-water mark; nothing was sent
    kUnreachable,  // ROUTER with router_mandatory: no such peer (any more); nothing was sent
};

// Sends one multipart message frame by frame without building a vector: each add() queues a
// frame and sends the one before it with SNDMORE, finish() sends the last one. Only the first
// frame may fail (libzmq checks the high-water mark and the route once per message), so a
// message is never cut in half; later frames of a refused message are discarded unsent.
// Usage: FrameSender s(socket); s.add(id).add(""sv).add(std::move(body)); auto r = s.finish();
// Not thread-safe (like the socket). `trace`, when set, receives a describe_parts-style dump.
class FrameSender {
 public:
    explicit FrameSender(zmq::socket_t& socket, std::string* trace = nullptr) noexcept
        : socket_(socket), trace_(trace) {}
    FrameSender(const FrameSender&) = delete;
    FrameSender& operator=(const FrameSender&) = delete;

    FrameSender& add(std::string_view bytes);
    FrameSender& add(zmq::message_t&& frame);
    // Adds a reference-counted (large) or copied (small) duplicate of `frame`.
    FrameSender& add_copy(zmq::message_t& frame);

    // Sends the last frame; the result of the whole message.
    // requires: at least one add(); called once.
    SendResult finish();

 private:
    void push(zmq::message_t&& frame);
    void send_pending(bool more);

    zmq::socket_t& socket_;
    std::string* trace_;
    zmq::message_t pending_;
    bool has_pending_ = false;
    bool first_ = true;
    SendResult result_ = SendResult::kSent;
};

}  // namespace digitpipe::framework::mdp
