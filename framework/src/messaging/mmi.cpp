// The text form of the "mmi.services" and "mmi.broker" reply lines (see mmi.hpp), written by
// the broker and read by Client::services and Client::broker_stats.
#include "messaging/mmi.hpp"

#include <array>
#include <charconv>
#include <cstdint>

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

// The counters of an "mmi.broker" reply, in reply order: name and member.
struct BrokerCounter {
    std::string_view name;
    std::uint64_t BrokerStats::*member;
};
constexpr std::array<BrokerCounter, 7> kBrokerCounters{{
    {"requests", &BrokerStats::requests},
    {"replies", &BrokerStats::replies},
    {"malformed", &BrokerStats::malformed},
    {"requeued", &BrokerStats::requeued},
    {"workers_expired", &BrokerStats::workers_expired},
    {"dropped", &BrokerStats::dropped},
    {"unroutable", &BrokerStats::unroutable},
}};

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

std::vector<std::string> format_broker_lines(const BrokerStats& stats) {
    std::vector<std::string> lines;
    lines.reserve(kBrokerCounters.size());
    for (const auto& counter : kBrokerCounters) {
        lines.push_back(std::string(counter.name) + ' ' + std::to_string(stats.*counter.member));
    }
    return lines;
}

Result<BrokerStats> parse_broker_lines(const std::vector<std::string>& lines) {
    BrokerStats stats;
    std::array<bool, kBrokerCounters.size()> seen{};
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        const auto space = line.find(' ');
        const std::string_view name = line.substr(0, space);
        const std::string_view digits =
            space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
        std::uint64_t value = 0;
        const auto [end, error] =
            std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (name.empty() || digits.empty() || error != std::errc() ||
            end != digits.data() + digits.size()) {
            return internal_error("mmi.broker: line " + std::to_string(i + 1) +
                                  " is not \"name count\": '" + lines[i] + "'");
        }
        for (std::size_t k = 0; k < kBrokerCounters.size(); ++k) {
            if (kBrokerCounters[k].name != name) continue;
            stats.*kBrokerCounters[k].member = value;
            seen[k] = true;
        }
    }
    for (std::size_t k = 0; k < kBrokerCounters.size(); ++k) {
        if (!seen[k]) {
            return internal_error("mmi.broker: reply lacks the counter '" +
                                  std::string(kBrokerCounters[k].name) + "'");
        }
    }
    return stats;
}

}  // namespace digitpipe::framework::mmi
