// The bounded, numbered event log behind GET /api/events (see event_log.hpp).
#include "event_log.hpp"

#include <ctime>
#include <stdexcept>

namespace digitpipe::gateway {

namespace {

std::string format_utc(std::chrono::system_clock::time_point time, bool with_ms) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
    const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    const auto length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    std::string out(text, length);
    if (with_ms) {
        char fraction[8];
        std::snprintf(fraction, sizeof fraction, ".%03d", static_cast<int>(ms.count() % 1000));
        out += fraction;
    }
    return out + "Z";
}

}  // namespace

std::string format_utc_ms(std::chrono::system_clock::time_point time) {
    return format_utc(time, true);
}

std::string format_utc_seconds(std::chrono::system_clock::time_point time) {
    return format_utc(time, false);
}

nlohmann::json LoggedEvent::to_json() const {
    return {{"seq", seq}, {"time", time}, {"topic", topic}, {"data", data}};
}

nlohmann::json EventBatch::to_json() const {
    auto list = nlohmann::json::array();
    for (const auto* event : events) list.push_back(event->to_json());
    return {{"events", std::move(list)}, {"next", next}, {"gap", gap}};
}

EventLog::EventLog(std::size_t capacity) : capacity_(capacity) {
    if (capacity == 0) throw std::invalid_argument("event log: capacity must be >= 1");
}

const LoggedEvent& EventLog::append(std::string topic, nlohmann::json data,
                                    std::chrono::system_clock::time_point time) {
    if (events_.size() == capacity_) events_.pop_front();
    events_.push_back({++last_seq_, format_utc_ms(time), std::move(topic), std::move(data)});
    return events_.back();
}

EventBatch EventLog::after(std::uint64_t after) const {
    EventBatch batch;
    batch.next = after;
    if (after == last_seq_) return batch;
    const std::uint64_t oldest = events_.empty() ? last_seq_ + 1 : events_.front().seq;
    if (after > last_seq_ || after + 1 < oldest) {
        batch.gap = true;
        batch.next = last_seq_;
        for (const auto& event : events_) batch.events.push_back(&event);
        return batch;
    }
    // Seqs are consecutive, so the first wanted event sits at a known index.
    for (auto i = static_cast<std::size_t>(after + 1 - oldest); i < events_.size(); ++i) {
        batch.events.push_back(&events_[i]);
    }
    batch.next = last_seq_;
    return batch;
}

}  // namespace digitpipe::gateway
