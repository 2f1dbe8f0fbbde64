// Request FIFO and reply FIFO between a worker session's threads (handler_channel.hpp).
#include "messaging/handler_channel.hpp"

#include <algorithm>
#include <utility>

namespace digitpipe::framework::mdp {
namespace {

// Moves `from` into `to` by swapping, then empties `from` (it keeps `to`'s old capacity).
void hand_over(Parts& from, Parts& to) {
    to.swap(from);
    from.clear();
}

}  // namespace

HandlerChannel::HandlerChannel(std::size_t capacity)
    : requests_(std::max<std::size_t>(capacity, 1)), replies_(std::max<std::size_t>(capacity, 1)) {}

void HandlerChannel::post_request(Parts& body) {
    bool wake = false;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        hand_over(body, requests_.push_back_slot());
        // Only an empty queue can have the handler asleep; while it works through a backlog a
        // notify would be wasted work for both threads.
        wake = requests_.size() == 1;
    }
    if (wake) request_posted_.notify_one();
}

bool HandlerChannel::wait_reply(Parts& reply, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (replies_.empty()) {
        if (Clock::now() >= deadline) return false;
        io_waiting_ = true;
        const bool replied =
            reply_posted_.wait_until(lock, deadline, [this] { return !replies_.empty(); });
        io_waiting_ = false;
        if (!replied) return false;
    }
    hand_over(replies_.front(), reply);
    replies_.pop_front();
    return true;
}

std::size_t HandlerChannel::drop_queued_requests() {
    const std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t dropped = requests_.size();
    while (!requests_.empty()) {
        requests_.back().clear();  // releases the frames now, not when the slot is reused
        requests_.pop_back();
    }
    return dropped;
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
    request_posted_.wait(lock, [this] { return quit_ || !requests_.empty(); });
    if (quit_) return false;  // requests still queued are not served: run() has left
    hand_over(requests_.front(), body);
    requests_.pop_front();
    return true;
}

void HandlerChannel::post_reply(Parts& reply) {
    bool wake = false;
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        hand_over(reply, replies_.push_back_slot());
        wake = io_waiting_;
    }
    if (wake) reply_posted_.notify_one();
}

}  // namespace digitpipe::framework::mdp
