// The gateway's memory of broker events for GET /api/events (long-polling, web/API.md "Live
// events"): the last `capacity` events, each numbered from 1 (seq) and stamped with the time
// the gateway received it. A poll asks for everything after the seq it saw last; when some of
// that was already dropped (or the seq is from before a gateway restart) the answer says
// `gap: true` so the dashboard reloads its state from the other routes.
// Thread-safety: none; the bridge thread owns the log (and parks the pollers, see bridge.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace digitpipe::gateway {

// "2026-11-24T15:01:03.120Z": UTC, milliseconds.
std::string format_utc_ms(std::chrono::system_clock::time_point time);
// "2026-11-24T15:01:03Z": UTC, seconds.
std::string format_utc_seconds(std::chrono::system_clock::time_point time);

struct LoggedEvent {
    std::uint64_t seq = 0;
    std::string time;  // format_utc_ms of its arrival
    std::string topic;
    nlohmann::json data;

    nlohmann::json to_json() const;  // {seq, time, topic, data}
};

// What one poll gets: events after its seq (oldest first), the seq to poll after next, and
// whether events it had not seen were already dropped.
struct EventBatch {
    std::vector<const LoggedEvent*> events;  // valid until the log is next appended to
    std::uint64_t next = 0;
    bool gap = false;

    nlohmann::json to_json() const;  // {"events": [...], "next": N, "gap": bool}
};

class EventLog {
 public:
    static constexpr std::size_t kDefaultCapacity = 1000;

    // requires: capacity >= 1.
    explicit EventLog(std::size_t capacity = kDefaultCapacity);

    // Appends an event with the next seq, dropping the oldest beyond capacity.
    const LoggedEvent& append(std::string topic, nlohmann::json data,
                              std::chrono::system_clock::time_point time);

    // Events with seq > `after`. `after` == last_seq(): none, next = after, no gap (the poll
    // waits). `after` older than the oldest kept event minus one: all kept events, gap. `after`
    // beyond last_seq() (a client of an earlier gateway process): all kept events, gap, so the
    // client starts over. next = the last returned seq, or last_seq() on a gap.
    EventBatch after(std::uint64_t after) const;

    std::uint64_t last_seq() const noexcept { return last_seq_; }
    std::size_t size() const noexcept { return events_.size(); }

 private:
    std::size_t capacity_;
    std::uint64_t last_seq_ = 0;
    std::deque<LoggedEvent> events_;
};

}  // namespace digitpipe::gateway
