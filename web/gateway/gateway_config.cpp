// Parsing and validating the deployment's gateway block (see gateway_config.hpp).
#include "gateway_config.hpp"

#include <charconv>

#include "digitpipe/config.hpp"
#include "security.hpp"

namespace digitpipe::gateway {

namespace fw = framework;

namespace {

// Bounds that catch typos (a timeout in seconds where ms are meant) without getting in the way.
constexpr std::int64_t kMaxThreads = 64;
constexpr std::int64_t kMinBodyBytes = 1024;
constexpr std::int64_t kMaxBodyBytes = std::int64_t{256} << 20;
constexpr std::int64_t kMinTimeoutMs = 10;
constexpr std::int64_t kMaxTimeoutMs = 600'000;
constexpr std::int64_t kMaxPending = 1'000'000;

std::string range_text(std::int64_t min, std::int64_t max) {
    return "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

// A required-in-range integer key with a default; records a problem when out of range.
std::int64_t int_in_range(const fw::ConfigNode& node, std::string_view key, std::int64_t fallback,
                          std::int64_t min, std::int64_t max) {
    const auto value = node.get_or<std::int64_t>(key, fallback);
    node.check(value >= min && value <= max, key,
               "must be in " + range_text(min, max) + ", got " + std::to_string(value));
    return value;
}

std::string service_name(const fw::ConfigNode& services, std::string_view key,
                         const std::string& fallback) {
    auto name = services.get_or<std::string>(key, fallback);
    services.check(!name.empty() && !name.starts_with("mmi."), key,
                   "must be a service name (not empty, not mmi.*), got '" + name + "'");
    return name;
}

}  // namespace

std::string ListenAddress::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

fw::Result<ListenAddress> parse_listen_address(std::string_view text) {
    const auto invalid = [&](const std::string& why) {
        return fw::invalid_argument("listen address '" + std::string(text) + "': " + why +
                                    " (expected host:port, e.g. 127.0.0.1:8080)");
    };
    std::string_view host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return invalid("an IPv6 host needs the form [addr]:port");
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return invalid("no ':port'");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return invalid("put an IPv6 host in [ ]");
    }
    if (host.empty()) return invalid("empty host");
    for (const char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' || c == '_';
        if (!ok) return invalid("bad character in host");
    }
    unsigned value = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || error != std::errc() || end != port.data() + port.size() || value > 65535) {
        return invalid("port must be an integer in [0, 65535]");
    }
    return ListenAddress{std::string(host), static_cast<std::uint16_t>(value)};
}

GatewayConfig load_gateway_config(const fw::DeploymentConfig& deployment) {
    GatewayConfig config;
    config.broker_endpoint = deployment.broker.endpoint;
    config.events_out = deployment.broker.events_out;
    config.max_message_bytes = deployment.broker.max_message_bytes;
    config.security = deployment.security;
    const auto folder = std::filesystem::absolute(deployment.file).parent_path();
    config.dashboard = (folder / "../web/dashboard/dist").lexically_normal();
    if (!deployment.gateway) return config;

    const fw::ConfigNode& node = *deployment.gateway;
    if (node.has("listen")) {
        const auto text = node.get<std::string>("listen");
        auto listen = parse_listen_address(text);
        if (listen) {
            config.listen = *listen;
        } else {
            node.report("listen", listen.status().message());
        }
    }
    if (node.has("dashboard")) {
        const auto dashboard = node.get<std::string>("dashboard");
        node.check(!dashboard.empty(), "dashboard", "must be a folder path, got ''");
        config.dashboard = std::filesystem::path(dashboard).is_absolute()
                               ? std::filesystem::path(dashboard)
                               : (folder / dashboard).lexically_normal();
    }
    config.threads =
        static_cast<int>(int_in_range(node, "threads", config.threads, 1, kMaxThreads));
    config.max_body_bytes = static_cast<std::size_t>(
        int_in_range(node, "max_body_bytes", static_cast<std::int64_t>(config.max_body_bytes),
                     kMinBodyBytes, kMaxBodyBytes));
    const auto ms = [&](std::string_view key, std::chrono::milliseconds fallback) {
        return std::chrono::milliseconds(
            int_in_range(node, key, fallback.count(), kMinTimeoutMs, kMaxTimeoutMs));
    };
    config.header_timeout = ms("header_timeout_ms", config.header_timeout);
    config.body_timeout = ms("body_timeout_ms", config.body_timeout);
    config.request_timeout = ms("request_timeout_ms", config.request_timeout);
    config.long_poll_max = ms("long_poll_max_ms", config.long_poll_max);
    config.max_pending = static_cast<std::size_t>(int_in_range(
        node, "max_pending", static_cast<std::int64_t>(config.max_pending), 1, kMaxPending));
    if (const auto services = node.find("services")) {
        config.infer_service = service_name(*services, "infer", config.infer_service);
        config.train_service = service_name(*services, "train", config.train_service);
    }
    if (node.has("token_file")) {
        const auto file = node.get<std::string>("token_file");
        if (node.check(!file.empty(), "token_file", "must be a file path, got ''")) {
            config.token_file = std::filesystem::path(file).is_absolute()
                                    ? std::filesystem::path(file)
                                    : (folder / file).lexically_normal();
            auto token = read_token_file(config.token_file);
            if (token) {
                config.token = std::move(*token);
            } else {
                node.report("token_file", token.status().message());
            }
        }
    }
    if (node.has("cors_origins")) {
        config.cors_origins = node.get<std::vector<std::string>>("cors_origins");
        for (std::size_t i = 0; i < config.cors_origins.size(); ++i) {
            const auto checked = check_cors_origin(config.cors_origins[i]);
            if (!checked.is_ok()) {
                node.report("cors_origins", "[" + std::to_string(i) + "] " + checked.message());
            }
        }
    }
    node.finish();  // throws every problem, unknown keys included
    return config;
}

}  // namespace digitpipe::gateway
