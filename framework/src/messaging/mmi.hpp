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
// mmi.<other>   reply body ["501"].
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "digitpipe/mdp.hpp"

namespace digitpipe::framework::mmi {

inline constexpr std::string_view kPrefix = "mmi.";
inline constexpr std::string_view kService = "mmi.service";
inline constexpr std::string_view kServices = "mmi.services";
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

}  // namespace digitpipe::framework::mmi
