// A first-in first-out ring of a fixed number of slots, for the prefetch (credit) queues of the
// broker (requests a worker holds) and the worker session (requests handed to its handler).
// Slots are reused, not destroyed: a slot keeps what it last held, so a ring of vectors lets
// the hot path swap buffers in and out and allocate nothing once warm. Callers clear what they
// no longer need (large zmq frames would otherwise stay referenced). Internal to
// framework/src/messaging.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace digitpipe::framework::mdp {

// Not thread-safe (guard it, as HandlerChannel does). Index 0 is the oldest element.
template <typename T>
class FixedRing {
 public:
    // requires: capacity >= 1.
    explicit FixedRing(std::size_t capacity = 1) : slots_(capacity) {}

    std::size_t capacity() const noexcept { return slots_.size(); }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    bool full() const noexcept { return size_ == slots_.size(); }

    // requires: i < size().
    T& operator[](std::size_t i) noexcept { return slots_[slot(i)]; }
    const T& operator[](std::size_t i) const noexcept { return slots_[slot(i)]; }
    T& front() noexcept { return slots_[head_]; }
    T& back() noexcept { return slots_[slot(size_ - 1)]; }

    // Makes the slot after the newest element the newest element and returns it, holding
    // whatever it held last. requires: !full().
    T& push_back_slot() noexcept {
        ++size_;
        return back();
    }
    // Forgets the oldest / newest element; its slot keeps its content. requires: !empty().
    void pop_front() noexcept {
        head_ = slot(1);
        --size_;
    }
    void pop_back() noexcept { --size_; }
    // Moves element `i` to the newest position (the ones after it move down by one), so that
    // pop_back() then removes it. requires: i < size().
    void rotate_to_back(std::size_t i) noexcept {
        using std::swap;
        for (; i + 1 < size_; ++i) swap(slots_[slot(i)], slots_[slot(i + 1)]);
    }

 private:
    std::size_t slot(std::size_t i) const noexcept { return (head_ + i) % slots_.size(); }

    std::vector<T> slots_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

}  // namespace digitpipe::framework::mdp
