// The gateway's access rules, as pure functions (no Pistache), shared by the routes and the
// unit tests:
//  - bearer tokens for the routes that change state (POST /api/train, /api/jobs/{id}/cancel,
//    /api/serve): required whenever gateway.token_file is set, and a gateway listening beyond
//    loopback (framework::is_loopback_host) refuses to start without one
//    (check_listen_security);
//  - CORS: exact origins from gateway.cors_origins, nothing for any other origin.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "digitpipe/status.hpp"

namespace digitpipe::gateway {

struct GatewayConfig;

// Shortest token accepted from gateway.token_file (32 characters: 192 bits of base64).
inline constexpr std::size_t kMinTokenLength = 32;
// Seconds a browser may cache a preflight answer (Access-Control-Max-Age).
inline constexpr int kCorsMaxAgeSeconds = 600;
// Request headers a cross-origin page may send (Access-Control-Allow-Headers).
inline constexpr std::string_view kCorsAllowHeaders = "Authorization, Content-Type";

// The token in `file`: its content with surrounding whitespace trimmed. kInvalidArgument when
// the file cannot be read, the token is shorter than kMinTokenLength or holds whitespace or
// control characters inside; the message names the file, never the token.
framework::Result<std::string> read_token_file(const std::filesystem::path& file);

// Refuses a gateway that would serve the state-changing routes to the network unprotected:
// kFailedPrecondition naming gateway.token_file (and `digitpipe keys --token FILE`) when the
// listen host is beyond loopback and no token is configured. Ok otherwise.
framework::Status check_listen_security(const GatewayConfig& config);

enum class BearerCheck {
    kAllowed,  // no token configured, or the right one was sent
    kMissing,  // no "Authorization: Bearer ..." header: 401
    kWrong,    // a bearer token that is not the configured one (or another scheme): 403
};

// Checks an Authorization header value (nullopt: absent) against `token` (empty: no token
// configured, everything allowed). The comparison takes the same time wherever the first
// difference is, so the answer's timing does not reveal a prefix of the token.
BearerCheck check_bearer(const std::optional<std::string>& authorization,
                         std::string_view token) noexcept;

// True when a and b are equal, in time that depends only on their lengths.
bool equal_constant_time(std::string_view a, std::string_view b) noexcept;

// `origin` when it is one of `allowed` exactly (scheme, host and port as the browser sends
// them), nullopt otherwise (and for an empty list: no CORS at all).
std::optional<std::string> allowed_origin(const std::optional<std::string>& origin,
                                          const std::vector<std::string>& allowed);

// Checks one gateway.cors_origins entry: "scheme://host[:port]" with scheme http or https, no
// path, no trailing slash, not "*". kInvalidArgument saying what is wrong.
framework::Status check_cors_origin(std::string_view origin);

}  // namespace digitpipe::gateway
