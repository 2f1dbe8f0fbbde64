// One-slot request/reply hand-over between a worker session's threads (handler_channel.hpp).
#include "messaging/handler_channel.hpp"

#include <utility>

namespace digitpipe::framework::mdp {

void HandlerChannel::post_request(Parts&& body) {
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        request_.emplace(std::move(body));
    }
    request_posted_.notify_one();
}

bool HandlerChannel::wait_reply(Parts& reply, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!reply_posted_.wait_until(lock, deadline, [this] { return reply_.has_value(); })) {
        return false;
    }
    reply = std::move(*reply_);
    reply_.reset();
    return true;
}

void HandlerChannel::post_quit() {
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        quit_ = true;
    }
    request_posted_.notify_one();
}

bool HandlerChannel::wait_request(Parts& body) {
    std::unique_lock<std::mutex> lock(mutex_);
    request_posted_.wait(lock, [this] { return quit_ || request_.has_value(); });
    if (quit_) return false;  // a request posted with the quit is not served: run() has left
    body = std::move(*request_);
    request_.reset();
    return true;
}

void HandlerChannel::post_reply(Parts&& reply) {
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        reply_.emplace(std::move(reply));
    }
    reply_posted_.notify_one();
}

}  // namespace digitpipe::framework::mdp
