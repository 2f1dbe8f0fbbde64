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
        wake = requests_.size() == 1 || gathering_until_.has_value();
    }
    if (wake) request_posted_.notify_one();
}

bool HandlerChannel::wait_reply(Parts& reply, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (replies_.empty()) {
        if (Clock::now() >= deadline) return false;
        io_waiting_ = true;
        // A handler that starts gathering a batch wakes this wait too: its requests come from
        // the broker, which the I/O thread must then read (see gathering_until()).
        reply_posted_.wait_until(
            lock, deadline, [this] { return !replies_.empty() || gathering_until_.has_value(); });
        io_waiting_ = false;
        if (replies_.empty()) return false;
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

std::optional<HandlerChannel::Clock::time_point> HandlerChannel::gathering_until() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return gathering_until_;
}

bool HandlerChannel::wait_batch(std::vector<Parts>& batch, std::size_t max_batch,
                                Clock::duration max_wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    request_posted_.wait(lock, [this] { return quit_ || !requests_.empty(); });
    if (quit_) return false;  // requests still queued are not served: run() has left
    std::size_t taken = 0;
    const auto take_queued = [&] {
        while (!requests_.empty() && taken < max_batch) {
            if (batch.size() <= taken) batch.emplace_back();
            hand_over(requests_.front(), batch[taken++]);
            requests_.pop_front();
        }
    };
    take_queued();
    if (taken < max_batch && max_wait > Clock::duration::zero()) {
        gathering_until_ = Clock::now() + max_wait;
        if (io_waiting_) reply_posted_.notify_one();
        while (taken < max_batch && request_posted_.wait_until(lock, *gathering_until_, [this] {
            return quit_ || !requests_.empty();
        }) && !quit_) {
            take_queued();
        }
        gathering_until_.reset();
        if (quit_) return false;
    }
    batch.resize(taken);
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
