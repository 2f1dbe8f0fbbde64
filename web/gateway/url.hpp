// URL pieces the gateway checks itself: Pistache 0.0.5 hands path parameters and query values
// over raw (not percent-decoded), so decoding and validation live here, in one strict place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "digitpipe/status.hpp"

namespace digitpipe::gateway {

// Decodes %XX escapes. nullopt when a '%' is not followed by two hex digits (a malformed URL
// is refused, never guessed at). '+' stays '+' (it means space only in form bodies).
std::optional<std::string> percent_decode(std::string_view text);

// The query parameter `raw` (absent: `fallback`) as an integer in [min, max]: decimal digits
// with an optional leading '-', nothing else. kInvalidArgument naming `name` and the range.
framework::Result<std::int64_t> parse_int_param(const std::optional<std::string>& raw,
                                                std::string_view name, std::int64_t min,
                                                std::int64_t max, std::int64_t fallback);

// A job (training run) id from a path segment: percent-decoded, then [A-Za-z0-9_.-]{1,128} and
// not "." or ".." (run ids name folders in runs/). kInvalidArgument saying what was wrong.
framework::Result<std::string> parse_job_id(std::string_view raw_segment);

}  // namespace digitpipe::gateway
