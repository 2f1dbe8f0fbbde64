// The hand-over between a WorkerSession's I/O thread and its handler thread: requests go one
// way through a bounded FIFO (up to the session's prefetch credit), replies come back the
// other in the same order, and a quit signal ends the handler thread. Still message passing
// (ownership of the frames moves; nothing is shared while in use), but fixed rings under a
// mutex rather than an inproc PAIR: each direction then costs at most one futex wake instead
// of libzmq's mailbox round, about a quarter less CPU per request end to end (numbers in
// worker_session.cpp). Slots swap vectors with the caller, so a warm channel allocates
// nothing. Internal to framework/src/messaging.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <vector>

#include "fixed_ring.hpp"
#include "mdp_frames.hpp"

namespace digitpipe::framework::mdp {

// Thread-safe; shared by exactly one I/O thread and one handler thread.
class HandlerChannel {
 public:
    using Clock = std::chrono::steady_clock;

    // requires: capacity >= 1 (the most requests posted and not yet answered at any time).
    explicit HandlerChannel(std::size_t capacity);

    // I/O side: queues a request body; `body` gets back an empty vector (a recycled one, so
    // reusing it for the next request allocates nothing). requires: fewer than capacity
    // requests posted whose replies have not been taken.
    void post_request(Parts& body);
    // I/O side: waits until `deadline` for the oldest reply not taken yet; true (and `reply`
    // filled) if there is one. A past deadline only checks.
    bool wait_reply(Parts& reply, Clock::time_point deadline);
    // I/O side: forgets the requests the handler has not started; returns how many (the
    // newest ones posted). Their replies will never come.
    std::size_t drop_queued_requests();
    // I/O side: tells the handler thread to end once it is idle; requests still queued are
    // not started.
    void post_quit();

    // I/O side: while the handler gathers a batch (wait_batch with max_wait), the time it
    // gathers until: the I/O thread should then read the broker, not wait for replies.
    std::optional<Clock::time_point> gathering_until();

    // Handler side: waits for the next request, then takes up to max_batch in all: those
    // already queued and, while the batch is short, those posted within max_wait of the first
    // being taken. Fills `batch` (recycling its vectors). False once told to quit.
    // requires: max_batch >= 1.
    bool wait_batch(std::vector<Parts>& batch, std::size_t max_batch, Clock::duration max_wait);
    // Handler side: hands back the reply to the request last taken; `reply` gets back an
    // empty recycled vector.
    void post_reply(Parts& reply);

 private:
    std::mutex mutex_;
    std::condition_variable request_posted_;
    std::condition_variable reply_posted_;
    FixedRing<Parts> requests_;  // posted, not started; oldest first
    FixedRing<Parts> replies_;   // answered, not taken; oldest first
    bool quit_ = false;
    bool io_waiting_ = false;  // the I/O thread sleeps in wait_reply (worth a wake)
    std::optional<Clock::time_point> gathering_until_;  // set while wait_batch gathers
};

}  // namespace digitpipe::framework::mdp
