// The text form of one "mmi.services" reply line (see mmi.hpp), written by the broker and
// read by Client::services.
#include "messaging/mmi.hpp"

#include <charconv>

namespace digitpipe::framework::mmi {
namespace {

// Splits off the last space-separated decimal field of `line`; nullopt when there is none.
std::optional<std::size_t> pop_count(std::string_view& line) {
    const auto space = line.rfind(' ');
    if (space == std::string_view::npos) return std::nullopt;
    const std::string_view digits = line.substr(space + 1);
    if (digits.empty()) return std::nullopt;
    std::size_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    line = line.substr(0, space);
    return value;
}

}  // namespace

std::string format_service_line(std::string_view name, const ServiceStats& stats) {
    std::string line(name);
    line += ' ';
    line += std::to_string(stats.workers_idle);
    line += ' ';
    line += std::to_string(stats.workers_busy);
    line += ' ';
    line += std::to_string(stats.queued);
    line += ' ';
    line += std::to_string(stats.in_flight);
    return line;
}

std::optional<std::pair<std::string, ServiceStats>> parse_service_line(std::string_view line) {
    // The last four fields as counts; failing that (an older broker), the last three.
    std::string_view rest = line;
    std::optional<std::size_t> counts[4];
    std::size_t found = 0;
    for (; found < 4; ++found) {
        counts[found] = pop_count(rest);
        if (!counts[found]) break;
    }
    ServiceStats stats;
    if (found == 4 && !rest.empty()) {
        stats.in_flight = *counts[0];
        stats.queued = *counts[1];
        stats.workers_busy = *counts[2];
        stats.workers_idle = *counts[3];
        return std::make_pair(std::string(rest), stats);
    }
    rest = line;
    const auto queued = pop_count(rest);
    const auto busy = queued ? pop_count(rest) : std::nullopt;
    const auto idle = busy ? pop_count(rest) : std::nullopt;
    if (!idle || rest.empty()) return std::nullopt;
    stats.workers_idle = *idle;
    stats.workers_busy = *busy;
    stats.queued = *queued;
    stats.in_flight = *busy;
    return std::make_pair(std::string(rest), stats);
}

}  // namespace digitpipe::framework::mmi
