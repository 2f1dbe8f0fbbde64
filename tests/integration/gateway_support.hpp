// Pieces the gateway's integration tests share (gateway_security_test.cpp,
// hostile_input_test.cpp): digitpipe-gateway as a process whatever host it listens on, error
// answers of web/API.md's shape, deployment YAML and hand-made image bytes.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "cluster.hpp"
#include "support/http_client.hpp"

namespace digitpipe::integration::gateway_support {

inline const std::filesystem::path kSource = DIGITPIPE_SOURCE_DIR;

inline nlohmann::json json_of(const ts::HttpResponse& response) {
    return nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
}

// digitpipe-gateway as a process; reads back the port it printed (any host: a gateway on
// 0.0.0.0 is still reached through 127.0.0.1).
struct GatewayProcess {
    std::unique_ptr<ts::Process> process;
    std::uint16_t port = 0;

    GatewayProcess(const std::filesystem::path& config, const BrokerProcess& broker,
                   const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args{"--config", config.string()};
        for (const auto& o : broker.endpoint_overrides()) args.insert(args.end(), {"--set", o});
        args.insert(args.end(), extra.begin(), extra.end());
        process = std::make_unique<ts::Process>(kBinDir / "digitpipe-gateway", args, true);
        const auto line = process->read_line(kStartTimeout);
        const std::string prefix = "gateway listening on http://";
        const auto colon = line ? line->rfind(':') : std::string::npos;
        if (!line || line->rfind(prefix, 0) != 0 || colon == std::string::npos) {
            throw std::runtime_error("gateway did not report its address: " + line.value_or(""));
        }
        port = static_cast<std::uint16_t>(std::stoi(line->substr(colon + 1)));
    }

    std::optional<ts::HttpResponse> get(const std::string& target,
                                        const ts::HttpHeaders& headers = {}) const {
        return ts::http_request(port, "GET", target, "", headers);
    }
    std::optional<ts::HttpResponse> post(const std::string& target, const std::string& body,
                                         const ts::HttpHeaders& headers = {}) const {
        return ts::http_request(port, "POST", target, body, headers);
    }
    bool healthy() const {
        const auto r = get("/healthz");
        return r && r->status == 200 && json_of(*r) == nlohmann::json{{"status", "ok"}};
    }
};

// Asserts an error answer of web/API.md's shape: `status`, JSON, {"error": {code, message}}
// with a non-empty message; `code` empty accepts any code.
inline void expect_error(const std::optional<ts::HttpResponse>& response, int status,
                         const std::string& code, const std::string& what) {
    ASSERT_TRUE(response) << what << ": no response";
    EXPECT_EQ(response->status, status) << what << ": " << response->body;
    EXPECT_EQ(response->header("content-type"), "application/json") << what;
    const auto body = json_of(*response);
    ASSERT_TRUE(body.is_object()) << what << ": " << response->body;
    if (!code.empty()) {
        EXPECT_EQ(body["error"]["code"], code) << what << ": " << response->body;
    }
    EXPECT_TRUE(body["error"]["message"].is_string() &&
                !body["error"]["message"].get<std::string>().empty())
        << what << ": " << response->body;
}

inline std::string paths_yaml(const std::filesystem::path& runs) {
    return "paths:\n  plugins: " + std::string(DIGITPIPE_PLUGIN_DIR) +
           "\n  data: " + (kSource / "data").string() +
           "\n  models: " + (kSource / "models").string() + "\n  runs: " + runs.string() +
           "\n  experiments: " + (kSource / "configs/experiments").string() + "\n";
}

inline const std::string kBrokerYaml =
    "broker:\n  endpoint: tcp://127.0.0.1:*\n  events_in: tcp://127.0.0.1:*\n"
    "  events_out: tcp://127.0.0.1:*\n  heartbeat_ms: 100\n  liveness: 3\n";

inline std::uint32_t crc32(std::string_view bytes) {
    std::uint32_t crc = 0xffffffffu;
    for (const char c : bytes) {
        crc ^= static_cast<unsigned char>(c);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

inline std::string big_endian(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

// One PNG chunk: length, type, data, CRC of type and data.
inline std::string png_chunk(const std::string& type, const std::string& data) {
    return big_endian(static_cast<std::uint32_t>(data.size())) + type + data +
           big_endian(crc32(type + data));
}

// A PNG signature and IHDR claiming `width` x `height` 8-bit grey, then `rest` (chunks).
inline std::string png_with(std::uint32_t width, std::uint32_t height, const std::string& rest) {
    return std::string("\x89PNG\r\n\x1a\n", 8) +
           png_chunk("IHDR", big_endian(width) + big_endian(height) +
                                 std::string("\x08\x00\x00\x00\x00", 5)) +
           rest;
}

}  // namespace digitpipe::integration::gateway_support
