// The hand-over between a WorkerSession's I/O thread and its handler thread: one request goes
// one way, its reply the other, and a quit signal ends the handler thread. Still message
// passing (ownership of the frames moves; nothing is shared while in use), but a one-slot
// mailbox under a mutex rather than an inproc PAIR: each direction then costs one futex wake
// instead of libzmq's mailbox round, about a quarter less CPU per request end to end (numbers
// in worker_session.cpp). Internal to framework/src/messaging.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "mdp_frames.hpp"

namespace digitpipe::framework::mdp {

// Thread-safe; shared by exactly one I/O thread and one handler thread.
class HandlerChannel {
 public:
    using Clock = std::chrono::steady_clock;

    // I/O side: hands over a request body. requires: the previous reply was taken.
    void post_request(Parts&& body);
    // I/O side: waits until `deadline` for the reply; true (and `reply` filled) if it came.
    bool wait_reply(Parts& reply, Clock::time_point deadline);
    // I/O side: tells the handler thread to end once it is idle.
    void post_quit();

    // Handler side: waits for the next request; false once told to quit.
    bool wait_request(Parts& body);
    // Handler side: hands back the reply to the request last taken.
    void post_reply(Parts&& reply);

 private:
    std::mutex mutex_;
    std::condition_variable request_posted_;
    std::condition_variable reply_posted_;
    std::optional<Parts> request_;
    std::optional<Parts> reply_;
    bool quit_ = false;
};

}  // namespace digitpipe::framework::mdp
