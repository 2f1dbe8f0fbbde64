// The gateway's settings: the deployment's optional `gateway` block (every key optional,
// unknown keys rejected), the broker endpoints from `broker`, and command-line overrides.
// Parsed once at startup into a typed struct; every problem is reported together with
// file:line:col and key path before anything binds or connects (STYLE 7).
//
//   gateway:
//     listen: 127.0.0.1:8080          # host:port; port 0 = pick a free one
//     dashboard: ../web/dashboard/dist  # resolved against the config file's folder
//     threads: 2                      # Pistache worker threads
//     max_body_bytes: 10485760
//     header_timeout_ms: 5000
//     body_timeout_ms: 15000
//     request_timeout_ms: 10000       # deadline for calls to stages (504 past it)
//     long_poll_max_ms: 60000         # longest a GET /api/events may wait (and never past
//                                     # header_timeout_ms - 500: Pistache's header timer
//                                     # runs on while a reply is deferred, then sends 408)
//     max_pending: 1024               # requests parked in the gateway; beyond: 429
//     services: {infer: digitpipe.infer, train: digitpipe.train}
//     token_file: gateway.token         # one bearer token (>= 32 characters), resolved against
//                                     # the config file's folder; required beyond loopback
//     cors_origins: [https://digits.example.com]  # exact origins; default none (no CORS)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "digitpipe/deployment.hpp"
#include "digitpipe/status.hpp"

namespace digitpipe::gateway {

struct ListenAddress {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;

    std::string to_string() const;  // "127.0.0.1:8080", "[::1]:8080"
};

struct GatewayConfig {
    ListenAddress listen;
    std::filesystem::path dashboard;  // absolute; a missing folder is allowed (see StaticFiles)
    int threads = 2;
    std::size_t max_body_bytes = std::size_t{10} << 20;
    std::chrono::milliseconds header_timeout{5000};
    std::chrono::milliseconds body_timeout{15000};
    std::chrono::milliseconds request_timeout{10000};
    std::chrono::milliseconds long_poll_max{60000};
    std::size_t max_pending = 1024;
    std::string infer_service = "digitpipe.infer";
    std::string train_service = "digitpipe.train";
    // Security (security.hpp). `token` is the content of `token_file` (empty: none configured,
    // the state-changing routes are open; allowed on loopback only).
    std::filesystem::path token_file;
    std::string token;
    std::vector<std::string> cors_origins;  // exact origins; empty: no CORS headers at all
    // From the deployment's broker block (or flags).
    std::string broker_endpoint;
    std::string events_out;  // empty: no event proxy (GET /api/events then only times out)
    std::size_t max_message_bytes = std::size_t{16} << 20;
    framework::SecurityConfig security{};  // CURVE towards the broker (deployment `security`)
    bool verbose = false;
};

// Parses "host:port" (IPv4 or a name; IPv6 in brackets, "[::1]:8080"), port 0..65535.
// kInvalidArgument saying what is wrong.
framework::Result<ListenAddress> parse_listen_address(std::string_view text);

// The gateway settings of `deployment`: its gateway block over the defaults (the default
// dashboard is ../web/dashboard/dist next to the config file's folder), its broker endpoints.
// throws: framework::ConfigError listing every problem (bad values, unknown keys) with
//         file:line:col and key path.
GatewayConfig load_gateway_config(const framework::DeploymentConfig& deployment);

}  // namespace digitpipe::gateway
