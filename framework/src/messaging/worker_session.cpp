// The 7/MDP worker side: a DEALER that registers one service with the broker, heartbeats, and
// hands each request to a handler thread, so a long request never silences the heartbeats.
// Reconnects on broker silence or DISCONNECT with doubling backoff. With a prefetch credit
// above 1 (digitpipe's extension, see mdp.hpp) up to that many requests wait for the handler
// in the channel's FIFO, and replies go back in order as each completes.
//
// Threads: run()'s thread owns the DEALER; the handler thread calls the handler. They talk
// only through a HandlerChannel (request one way, reply the other), not an inproc PAIR: on
// the 2-core target, 8 in-process echo workers behind one broker cost about 78 us of CPU per
// request with a PAIR hop and about 59 us with the channel (libzmq's mailbox adds an eventfd
// write, getpid and poll calls on both sides of each hop; the channel adds one futex wake).
//
// While the handler works the I/O thread sleeps on the channel, not on the DEALER (waiting on
// both would need zmq_poll and a pollable wake-up for every reply): requests that arrive
// meanwhile are moved to the handler's FIFO at its next wake-up (each reply, each heartbeat),
// so a busy handler finds them queued and the hot path adds no wake-ups. The one exception is
// a handler gathering a batch (max_batch_wait): it answers nothing until the batch is full or
// the wait is over, so the I/O thread then waits on the DEALER instead, and what arrives joins
// the batch at once.
#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "digitpipe/log.hpp"
#include "digitpipe/mdp.hpp"
#include "digitpipe/curve.hpp"
#include "messaging/fixed_ring.hpp"
#include "messaging/frame_convert.hpp"
#include "messaging/handler_channel.hpp"
#include "messaging/mdp_frames.hpp"
#include "messaging/mmi.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using mdp::Command;
using mdp::FrameSender;

// How often run() looks at `stop` while nothing else happens ("returns promptly").
constexpr auto kStopCheckPeriod = 100ms;
// At stop, how long libzmq may keep trying to deliver the final DISCONNECT.
constexpr auto kDisconnectLinger = 200ms;
// Broker messages handled before polling again.
constexpr std::size_t kReceiveBatch = 64;
// Malformed messages from the broker are logged at most this often (the first at once), so a
// broken or hostile peer cannot flood the log; each log line says how many were dropped.
constexpr auto kMalformedLogPeriod = std::chrono::seconds(10);
// Frames of a malformed message shown in its log line (it may have thousands).
constexpr std::size_t kMalformedLogFrames = 8;

// DEALER frame positions (no routing id): ["", "MDPW01", command, ...].
constexpr std::size_t kCommand = 2;
constexpr std::size_t kRequestClient = 3;  // REQUEST: [.., client, "", body...]
constexpr std::size_t kRequestDelimiter = 4;
constexpr std::size_t kRequestBody = 5;

std::chrono::milliseconds until(Clock::time_point from, Clock::time_point to) {
    return std::max(0ms, std::chrono::ceil<std::chrono::milliseconds>(to - from));
}

// The handler thread: a batch of requests in (one, unless batching), one reply per request
// out, in order, until told to quit.
void serve_handler(std::shared_ptr<mdp::HandlerChannel> channel, BatchHandler handler,
                   WorkerOptions options) {
    const Logger log("worker");
    const auto max_batch = static_cast<std::size_t>(options.max_batch);
    std::vector<mdp::Parts> requests;
    std::vector<Frames> bodies;
    mdp::Parts parts;  // reply frames; post_reply hands back a recycled vector
    while (channel->wait_batch(requests, max_batch, options.max_batch_wait)) {
        bodies.clear();
        for (auto& request : requests) bodies.push_back(mdp::to_frames(request, 0));
        std::vector<Frames> replies;
        try {
            replies = handler(std::move(bodies));
        } catch (const std::exception& e) {
            // The contract says handlers do not throw; one that does is a bug, but the worker
            // must stay usable and each request must get its one reply.
            log.error("request handler threw; replying with empty bodies",
                      {{"service", options.service}, {"error", e.what()}});
            replies.clear();
        } catch (...) {
            log.error("request handler threw a non-exception; replying with empty bodies",
                      {{"service", options.service}});
            replies.clear();
        }
        if (replies.size() != requests.size() && !replies.empty()) {
            log.error("batch handler returned the wrong number of replies",
                      {{"service", options.service},
                       {"requests", std::to_string(requests.size())},
                       {"replies", std::to_string(replies.size())}});
        }
        replies.resize(requests.size());
        for (auto& reply : replies) {
            for (auto& frame : reply) parts.push_back(mdp::to_message(std::move(frame)));
            channel->post_reply(parts);
        }
    }
}

// One run() of a session: the connection state machine of the I/O thread.
class SessionLoop {
 public:
    SessionLoop(zmq::context_t& context, const WorkerOptions& options, const Logger& log,
                mdp::HandlerChannel& channel, const std::atomic<bool>& stop,
                std::atomic<std::uint64_t>& malformed)
        : context_(context),
          options_(options),
          log_(log),
          channel_(channel),
          stop_(stop),
          malformed_(malformed),
          backoff_(options.reconnect_initial),
          pending_(static_cast<std::size_t>(options.prefetch)) {}

    // Serves until `stop`; then answers or abandons the request in progress and disconnects.
    // Returns whether the handler is still busy (abandoned).
    bool run();

 private:
    bool stopping() const { return stop_.load(std::memory_order_relaxed); }
    void connect();
    void close_broker(std::chrono::milliseconds linger);
    // Serves one connection; returns when it must be replaced or `stop` is set.
    void serve_connection();
    void wait_backoff();
    void wait_handler_idle();
    // Forgets the requests the handler has not started (the broker requeues them when this
    // connection ends).
    void drop_queued_requests();
    void finish();
    void read_broker_messages();
    void on_broker_message(mdp::ReceiveResult received);
    void handle_broker_message();
    // Waits until `deadline` for the handler's reply and handles it.
    void wait_reply(Clock::time_point deadline);
    void handle_handler_reply();
    void send_command(Command command);
    void trace(std::string_view direction, const mdp::Parts& parts) const {
        if (options_.verbose) log_.info(direction, {{"frames", mdp::describe_parts(parts)}});
    }
    void note_malformed(std::string_view reason);

    zmq::context_t& context_;
    const WorkerOptions& options_;
    const Logger& log_;
    mdp::HandlerChannel& channel_;
    const std::atomic<bool>& stop_;
    std::atomic<std::uint64_t>& malformed_;  // WorkerSession::malformed()

    std::optional<zmq::socket_t> broker_;
    std::uint64_t generation_ = 0;  // counts connections
    bool reconnect_ = false;
    Clock::time_point malformed_log_next_{};  // when note_malformed may log again
    std::uint64_t malformed_unlogged_ = 0;    // dropped since the last log line
    Clock::time_point now_ = Clock::now();
    Clock::time_point broker_expiry_{};
    Clock::time_point next_heartbeat_{};
    std::chrono::milliseconds backoff_;

    // A request handed to the handler and not answered yet.
    struct Pending {
        std::uint64_t generation = 0;  // the connection it came from
        zmq::message_t client;         // its client address, for the REPLY
    };

    bool handler_busy() const noexcept { return !pending_.empty(); }

    // Oldest first, in the order the handler answers; at most options.prefetch.
    mdp::FixedRing<Pending> pending_;
    mdp::Parts parts_;         // reused receive buffer (broker)
    mdp::Parts request_body_;  // reused hand-over buffer (to the handler)
    mdp::Parts reply_parts_;   // reused receive buffer (handler)
};

bool SessionLoop::run() {
    while (!stopping()) {
        // Requests from a previous connection are still with the handler: a new registration
        // would be given a full credit on top of them.
        wait_handler_idle();
        if (stopping()) break;
        connect();
        serve_connection();
        if (stopping()) break;
        close_broker(0ms);
        wait_backoff();
    }
    finish();
    return handler_busy();
}

void SessionLoop::connect() {
    broker_.emplace(context_, zmq::socket_type::dealer);
    mdp::configure_peer_socket(*broker_, options_.max_message_bytes);
    secure_client(*broker_, options_.security, options_.security.broker_public_key,
                  options_.broker_endpoint);
    broker_->connect(options_.broker_endpoint);
    ++generation_;
    reconnect_ = false;
    now_ = Clock::now();
    broker_expiry_ = now_ + options_.heartbeat.expiry();
    // READY is queued until the connection is up (libzmq connects in the background).
    FrameSender sender(*broker_);
    sender.add(std::string_view{})
        .add(kMdpWorkerTag)
        .add(mdp::command_frame(Command::kReady))
        .add(options_.service);
    // Credit 1 sends no credit frame: byte for byte a plain RFC 7 READY, so such a worker
    // also works with brokers that do not know the extension.
    if (options_.prefetch != 1) sender.add(std::to_string(options_.prefetch));
    (void)sender.finish();
    next_heartbeat_ = now_ + options_.heartbeat.interval;
    log_.debug("connecting", {{"endpoint", options_.broker_endpoint},
                              {"service", options_.service},
                              {"connection", std::to_string(generation_)}});
}

void SessionLoop::close_broker(std::chrono::milliseconds linger) {
    if (!broker_) return;
    broker_->set(zmq::sockopt::linger, static_cast<int>(linger.count()));
    broker_.reset();
}

void SessionLoop::serve_connection() {
    // Waits on one thing at a time (see mdp::receive_parts for why not zmq_poll): the DEALER
    // while idle; the handler channel while the handler works, when only the handler can say
    // something that needs an answer now. The broker's messages are then read at each wake-up
    // while the credit allows more requests (they queue for the handler), and at each
    // heartbeat in any case.
    const auto prefetch = static_cast<std::size_t>(options_.prefetch);
    while (!stopping()) {
        if (handler_busy()) {
            if (pending_.size() < prefetch) {
                read_broker_messages();
                if (reconnect_) return;
            }
            const auto gathering = channel_.gathering_until();
            if (gathering && pending_.size() < prefetch) {
                // The handler is gathering a batch and answers nothing meanwhile: the requests
                // it waits for come from the broker, so wait on the DEALER until it is done.
                const auto wake = std::min({*gathering, next_heartbeat_, now_ + kStopCheckPeriod});
                const auto received = mdp::receive_parts(*broker_, parts_, until(now_, wake));
                now_ = Clock::now();
                if (received != mdp::ReceiveResult::kNone) on_broker_message(received);
                if (reconnect_) return;
            } else {
                wait_reply(std::min(next_heartbeat_, now_ + kStopCheckPeriod));
            }
            if (now_ >= next_heartbeat_) {
                read_broker_messages();
                if (reconnect_) return;
                send_command(Command::kHeartbeat);
            }
        } else {
            const auto wake = std::min({next_heartbeat_, broker_expiry_, now_ + kStopCheckPeriod});
            const auto received = mdp::receive_parts(*broker_, parts_, until(now_, wake));
            now_ = Clock::now();
            if (received != mdp::ReceiveResult::kNone) on_broker_message(received);
            if (reconnect_) return;
            if (now_ >= next_heartbeat_) send_command(Command::kHeartbeat);
        }
        if (now_ >= broker_expiry_) {
            read_broker_messages();  // heartbeats may be waiting unread while the handler works
            if (reconnect_) return;
            if (now_ < broker_expiry_) continue;
            log_.warn("broker silent; reconnecting",
                      {{"endpoint", options_.broker_endpoint},
                       {"service", options_.service},
                       {"silent_ms", std::to_string(options_.heartbeat.expiry().count())},
                       {"backoff_ms", std::to_string(backoff_.count())}});
            return;
        }
    }
}

void SessionLoop::read_broker_messages() {
    for (std::size_t i = 0; i < kReceiveBatch && !reconnect_; ++i) {
        const auto received = mdp::receive_parts(*broker_, parts_);
        if (received == mdp::ReceiveResult::kNone) return;
        on_broker_message(received);
    }
}

void SessionLoop::on_broker_message(mdp::ReceiveResult received) {
    if (received == mdp::ReceiveResult::kTooManyFrames) {
        return note_malformed("more than " + std::to_string(mdp::kMaxFramesPerMessage) + " frames");
    }
    trace("recv", parts_);
    handle_broker_message();
}

void SessionLoop::wait_reply(Clock::time_point deadline) {
    bool replied = channel_.wait_reply(reply_parts_, deadline);
    now_ = Clock::now();
    // Replies that completed together go out together, in order, for one wake-up.
    while (replied) {
        handle_handler_reply();
        replied = handler_busy() && channel_.wait_reply(reply_parts_, Clock::time_point::min());
    }
}

void SessionLoop::handle_broker_message() {
    if (parts_.size() <= kCommand || !parts_[0].empty() ||
        !mdp::frame_equals(parts_[1], kMdpWorkerTag)) {
        return note_malformed("not an MDPW01 message");
    }
    const auto command = mdp::parse_command(parts_[kCommand]);
    if (!command) return note_malformed("unknown command");
    // The whole shape is checked before the message counts for anything: a malformed one
    // neither proves the broker alive nor resets the backoff, so a peer that sends only
    // garbage is left like a silent one.
    switch (*command) {
        case Command::kRequest:
            // A ROUTER's peer identities are never empty, so an empty client address cannot
            // be answered. An empty body is well-formed (7/MDP bodies are opaque) and must be
            // answered: dropped, it would stay charged to this worker's credit at the broker.
            if (parts_.size() < kRequestBody || parts_[kRequestClient].empty() ||
                !parts_[kRequestDelimiter].empty()) {
                return note_malformed("REQUEST without client address and empty delimiter");
            }
            // Only a broker that ignores our credit sends this; the request cannot be queued.
            if (pending_.full()) return note_malformed("REQUEST beyond the prefetch credit");
            break;
        case Command::kHeartbeat:
        case Command::kDisconnect:
            if (parts_.size() != kCommand + 1) {
                return note_malformed("HEARTBEAT or DISCONNECT with extra frames");
            }
            break;
        case Command::kReady:
        case Command::kReply:
            return note_malformed("READY/REPLY are worker-to-broker commands");
    }
    // Any valid command proves the broker alive, and is the "successful exchange" that
    // resets the reconnect backoff.
    broker_expiry_ = now_ + options_.heartbeat.expiry();
    backoff_ = options_.reconnect_initial;
    switch (*command) {
        case Command::kRequest: {
            for (std::size_t i = kRequestBody; i < parts_.size(); ++i) {
                request_body_.push_back(std::move(parts_[i]));
            }
            channel_.post_request(request_body_);
            Pending& pending = pending_.push_back_slot();
            pending.generation = generation_;
            pending.client = std::move(parts_[kRequestClient]);
            return;
        }
        case Command::kDisconnect:
            log_.info("broker sent DISCONNECT; reconnecting",
                      {{"endpoint", options_.broker_endpoint}, {"service", options_.service}});
            reconnect_ = true;
            return;
        case Command::kHeartbeat:
        case Command::kReady:  // rejected above
        case Command::kReply:
            return;
    }
}

void SessionLoop::handle_handler_reply() {
    mdp::Parts& reply = reply_parts_;
    // Replies come in the order requests were posted, so this one answers the oldest.
    Pending& answered = pending_.front();
    pending_.pop_front();
    if (!broker_ || answered.generation != generation_) {
        // The request came over a connection that is gone; the broker has requeued it, and a
        // REPLY now would be an unexpected command to it.
        log_.debug("discarding the reply to a request of an earlier connection",
                   {{"service", options_.service}});
        return;
    }
    FrameSender sender(*broker_);
    sender.add(std::string_view{})
        .add(kMdpWorkerTag)
        .add(mdp::command_frame(Command::kReply))
        .add(std::move(answered.client))
        .add(std::string_view{});
    for (auto& frame : reply) sender.add(std::move(frame));
    if (sender.finish() != mdp::SendResult::kSent) {
        log_.warn("could not send a reply (broker not reading); it will requeue the request",
                  {{"service", options_.service}});
    }
    next_heartbeat_ = now_ + options_.heartbeat.interval;  // any command is a heartbeat
    if (options_.verbose) log_.info("send", {{"command", "REPLY"}});
}

void SessionLoop::send_command(Command command) {
    if (!broker_) return;
    FrameSender sender(*broker_);
    sender.add(std::string_view{}).add(kMdpWorkerTag).add(mdp::command_frame(command));
    (void)sender.finish();  // a heartbeat refused at the high-water mark is not worth a retry
    next_heartbeat_ = now_ + options_.heartbeat.interval;
    if (options_.verbose) log_.info("send", {{"command", std::string(mdp::command_name(command))}});
}

void SessionLoop::wait_backoff() {
    now_ = Clock::now();
    const auto deadline = now_ + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
    // Sleeps on the channel, so a reply of an abandoned request is consumed meanwhile.
    while (!stopping() && now_ < deadline) wait_reply(std::min(deadline, now_ + kStopCheckPeriod));
}

void SessionLoop::wait_handler_idle() {
    drop_queued_requests();  // their connection is gone; the broker has requeued them
    now_ = Clock::now();
    while (handler_busy() && !stopping()) wait_reply(now_ + kStopCheckPeriod);
}

void SessionLoop::drop_queued_requests() {
    const std::size_t dropped = channel_.drop_queued_requests();
    // The handler answers in order, so the ones it never started are the newest.
    for (std::size_t i = 0; i < dropped; ++i) {
        pending_.back().client = zmq::message_t();
        pending_.pop_back();
    }
    if (dropped > 0) {
        log_.debug("dropped requests not started; the broker requeues them",
                   {{"service", options_.service}, {"count", std::to_string(dropped)}});
    }
}

void SessionLoop::finish() {
    // Requests not started are left to the broker, which requeues them at our DISCONNECT:
    // another worker serves them sooner than this one, which is leaving.
    drop_queued_requests();
    now_ = Clock::now();
    if (broker_ && handler_busy() && pending_.back().generation == generation_) {
        // Give the request in progress a short chance to be answered, heartbeating meanwhile
        // so the broker does not requeue it under us.
        const auto deadline = now_ + options_.stop_grace;
        while (handler_busy() && now_ < deadline) {
            wait_reply(std::min(deadline, next_heartbeat_));
            if (now_ >= next_heartbeat_) send_command(Command::kHeartbeat);
        }
        if (handler_busy()) {
            log_.warn("stopping with a request in progress; the broker will requeue it",
                      {{"service", options_.service},
                       {"stop_grace_ms", std::to_string(options_.stop_grace.count())}});
        }
    }
    if (broker_) {
        // 7/MDP: a worker that leaves says so; the broker then requeues anything it held.
        send_command(Command::kDisconnect);
        close_broker(kDisconnectLinger);
    }
}

void SessionLoop::note_malformed(std::string_view reason) {
    malformed_.fetch_add(1, std::memory_order_relaxed);
    ++malformed_unlogged_;
    const auto now = Clock::now();
    if (now < malformed_log_next_) return;
    malformed_log_next_ = now + kMalformedLogPeriod;
    std::string frames;
    for (std::size_t i = 0; i < parts_.size() && i < kMalformedLogFrames; ++i) {
        if (i > 0) frames += " | ";
        frames += mdp::describe_frame(mdp::view_of(parts_[i]));
    }
    if (parts_.size() > kMalformedLogFrames) frames += " | ...";
    log_.warn("dropped malformed message from the broker",
              {{"endpoint", options_.broker_endpoint},
               {"reason", std::string(reason)},
               {"frame_count", std::to_string(parts_.size())},
               {"frames", frames},
               {"dropped_since_last_log", std::to_string(malformed_unlogged_)},
               {"dropped_total", std::to_string(malformed_.load(std::memory_order_relaxed))}});
    malformed_unlogged_ = 0;
}

void validate(const WorkerOptions& options) {
    if (options.broker_endpoint.empty()) {
        throw std::invalid_argument("worker: broker_endpoint must not be empty");
    }
    if (options.service.empty() || mmi::is_mmi(options.service)) {
        throw std::invalid_argument(
            "worker: service must be a non-empty name outside 'mmi.', got '" + options.service +
            "'");
    }
    if (options.heartbeat.interval <= 0ms || options.heartbeat.liveness < 1) {
        throw std::invalid_argument("worker: heartbeat interval must be > 0 and liveness >= 1");
    }
    if (options.prefetch < 1 || options.prefetch > kMaxPrefetch) {
        throw std::invalid_argument("worker: prefetch must be in 1.." +
                                    std::to_string(kMaxPrefetch) + ", got " +
                                    std::to_string(options.prefetch));
    }
    if (options.max_batch < 1 || options.max_batch > options.prefetch) {
        throw std::invalid_argument("worker: max_batch must be in 1..prefetch (" +
                                    std::to_string(options.prefetch) + "), got " +
                                    std::to_string(options.max_batch));
    }
    if (options.max_batch_wait < 0us) {
        throw std::invalid_argument("worker: max_batch_wait must be >= 0");
    }
    if (options.reconnect_initial <= 0ms || options.reconnect_max < options.reconnect_initial) {
        throw std::invalid_argument("worker: need 0 < reconnect_initial <= reconnect_max, got " +
                                    std::to_string(options.reconnect_initial.count()) + " ms and " +
                                    std::to_string(options.reconnect_max.count()) + " ms");
    }
}

}  // namespace

struct WorkerSession::Impl {
    Impl(zmq::context_t& ctx, WorkerOptions opts) : context(ctx), options(std::move(opts)) {
        validate(options);
    }
    ~Impl() { join_handler(); }

    // Ends the handler thread; waits for a handler still running.
    void join_handler() {
        if (channel) channel->post_quit();
        if (handler_thread.joinable()) handler_thread.join();
        channel.reset();
    }

    zmq::context_t& context;
    WorkerOptions options;
    Logger log{"worker"};
    std::shared_ptr<mdp::HandlerChannel> channel;  // one per run(): no stale reply crosses runs
    std::thread handler_thread;
    std::atomic<std::uint64_t> malformed{0};  // see WorkerSession::malformed()
};

WorkerSession::WorkerSession(zmq::context_t& context, WorkerOptions options)
    : impl_(std::make_unique<Impl>(context, std::move(options))) {}

WorkerSession::~WorkerSession() = default;

void WorkerSession::run(const RequestHandler& handler, const std::atomic<bool>& stop) {
    run_batches(
        [handler](std::vector<Frames>&& bodies) {
            std::vector<Frames> replies;
            replies.reserve(bodies.size());
            for (auto& body : bodies) replies.push_back(handler(std::move(body)));
            return replies;
        },
        stop);
}

void WorkerSession::run_batches(const BatchHandler& handler, const std::atomic<bool>& stop) {
    Impl& impl = *impl_;
    impl.join_handler();  // a handler abandoned by an earlier run() must finish first
    impl.channel =
        std::make_shared<mdp::HandlerChannel>(static_cast<std::size_t>(impl.options.prefetch));
    impl.handler_thread = std::thread(serve_handler, impl.channel, handler, impl.options);

    bool abandoned = false;
    try {
        SessionLoop loop(impl.context, impl.options, impl.log, *impl.channel, stop, impl.malformed);
        abandoned = loop.run();
    } catch (...) {
        impl.join_handler();
        throw;
    }
    if (!abandoned) {
        impl.join_handler();
    } else {
        impl.channel->post_quit();  // the thread ends once the handler returns
        impl.log.warn("handler still running after stop; the session's destructor waits for it",
                      {{"service", impl.options.service}});
    }
}

std::uint64_t WorkerSession::malformed() const noexcept {
    return impl_->malformed.load(std::memory_order_relaxed);
}

}  // namespace digitpipe::framework
