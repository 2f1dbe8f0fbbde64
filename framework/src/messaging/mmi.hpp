// 8/MMI (Majordomo Management Interface) names and digitpipe's "mmi.services" extension:
// the broker answers these services itself; Client::service_available and Client::services
// ask them. Internal to framework/src/messaging.
//
// mmi.service   request body [service name]; reply body ["200" | "404"]. digitpipe extension:
//               further request frames are echoed after the code, so an asynchronous caller
//               can carry its correlation id through (the RFC leaves them undefined).
// mmi.services  request body empty; reply body ["200", line...], one frame per service the
//               broker knows, each "name idle busy queued in_flight" (decimal counts, single
//               spaces; in_flight came with the prefetch extension, so readers also accept
//               the older "name idle busy queued").
// mmi.broker    digitpipe extension: request body empty; reply body ["200", line...], one
//               frame per broker counter (BrokerStats), each "name count" (decimal, one
//               space): requests, replies, malformed, requeued, workers_expired, dropped,
//               unroutable. Readers ignore names they do not know, so counters can be added.
//               The count is the loop's live value: `requests` already includes this request,
//               `replies` not yet its reply.
// mmi.<other>   reply body ["501"].
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "digitpipe/mdp.hpp"

namespace digitpipe::framework::mmi {

inline constexpr std::string_view kPrefix = "mmi.";
inline constexpr std::string_view kService = "mmi.service";
inline constexpr std::string_view kServices = "mmi.services";
inline constexpr std::string_view kBroker = "mmi.broker";
inline constexpr std::string_view kFound = "200";
inline constexpr std::string_view kNotFound = "404";
inline constexpr std::string_view kNotImplemented = "501";

inline bool is_mmi(std::string_view service) noexcept { return service.starts_with(kPrefix); }

// "name idle busy queued in_flight".
std::string format_service_line(std::string_view name, const ServiceStats& stats);

// Inverse of format_service_line, also reading an older broker's "name idle busy queued"
// (in_flight = busy, each busy worker then holding one request); nullopt when the line has
// neither shape. The counts are the last fields, so a name containing spaces still parses,
// except that an older broker's line for a name ending in " <digits>" reads as the new shape
// (digitpipe's service names contain no spaces).
std::optional<std::pair<std::string, ServiceStats>> parse_service_line(std::string_view line);

// The "mmi.broker" lines for `stats` ("requests 12", ...), in a fixed order; `services` is
// not part of them (mmi.services reports it).
std::vector<std::string> format_broker_lines(const BrokerStats& stats);

// Reads "mmi.broker" lines into a BrokerStats (services left empty). Names it does not know
// are skipped (a newer broker's counters). Errors (kInternal, naming the line): a line that is
// not "name count", or a known counter missing from the reply.
Result<BrokerStats> parse_broker_lines(const std::vector<std::string>& lines);

}  // namespace digitpipe::framework::mmi
