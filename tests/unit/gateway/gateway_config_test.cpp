// The deployment's gateway block (web/gateway/gateway_config.hpp): defaults, every key, and
// every problem reported together with file:line:col and key path.
#include "gateway_config.hpp"

#include <gtest/gtest.h>

#include "digitpipe/config.hpp"
#include "support/process.hpp"

namespace digitpipe::gateway {
namespace {

using std::chrono::milliseconds;

const std::string kBroker =
    "broker:\n  endpoint: tcp://127.0.0.1:5555\n  events_in: tcp://127.0.0.1:5556\n"
    "  events_out: tcp://127.0.0.1:5557\n";

class GatewayConfigTest : public ::testing::Test {
 protected:
    GatewayConfig load(const std::string& gateway_block) {
        std::filesystem::create_directories(dir.path() / "configs");
        const auto file = dir.write("configs/deploy.yaml", kBroker + gateway_block);
        return load_gateway_config(framework::load_deployment(file));
    }
    // The problems of the ConfigError `gateway_block` raises, one string each.
    std::vector<std::string> problems(const std::string& gateway_block) {
        try {
            load(gateway_block);
        } catch (const framework::ConfigError& e) {
            std::vector<std::string> out;
            for (const auto& p : e.problems()) out.push_back(p.to_string());
            return out;
        }
        return {};
    }
    test_support::TempDir dir;
};

TEST_F(GatewayConfigTest, DefaultsWithoutAGatewayBlock) {
    const auto config = load("");
    EXPECT_EQ(config.listen.host, "127.0.0.1");
    EXPECT_EQ(config.listen.port, 8080);
    EXPECT_EQ(config.dashboard, (dir.path() / "web/dashboard/dist").lexically_normal());
    EXPECT_EQ(config.threads, 2);
    EXPECT_EQ(config.max_body_bytes, 10485760u);
    EXPECT_EQ(config.request_timeout, milliseconds(10000));
    EXPECT_EQ(config.max_pending, 1024u);
    EXPECT_EQ(config.infer_service, "digitpipe.infer");
    EXPECT_EQ(config.broker_endpoint, "tcp://127.0.0.1:5555");
    EXPECT_EQ(config.events_out, "tcp://127.0.0.1:5557");
}

TEST_F(GatewayConfigTest, ReadsEveryKey) {
    const auto config = load(
        "gateway:\n"
        "  listen: 0.0.0.0:0\n"
        "  dashboard: ../ui/dist\n"
        "  threads: 4\n"
        "  max_body_bytes: 2048\n"
        "  header_timeout_ms: 100\n"
        "  body_timeout_ms: 200\n"
        "  request_timeout_ms: 300\n"
        "  long_poll_max_ms: 400\n"
        "  max_pending: 8\n"
        "  services: {infer: digitpipe.reader, train: digitpipe.trainer}\n");
    EXPECT_EQ(config.listen.host, "0.0.0.0");
    EXPECT_EQ(config.listen.port, 0);
    EXPECT_EQ(config.dashboard, dir.path() / "ui/dist");
    EXPECT_EQ(config.threads, 4);
    EXPECT_EQ(config.max_body_bytes, 2048u);
    EXPECT_EQ(config.header_timeout, milliseconds(100));
    EXPECT_EQ(config.body_timeout, milliseconds(200));
    EXPECT_EQ(config.request_timeout, milliseconds(300));
    EXPECT_EQ(config.long_poll_max, milliseconds(400));
    EXPECT_EQ(config.max_pending, 8u);
    EXPECT_EQ(config.infer_service, "digitpipe.reader");
    EXPECT_EQ(config.train_service, "digitpipe.trainer");
}

TEST_F(GatewayConfigTest, ReportsEveryProblemWithPositionAndKeyPath) {
    const auto found = problems(
        "gateway:\n"
        "  listen: localhost\n"
        "  threads: 0\n"
        "  max_body_bytes: ten\n"
        "  request_timeout_ms: 99999999\n"
        "  services: {infer: mmi.service, predict: x}\n"
        "  lisen: 127.0.0.1:1\n");
    const auto file = (dir.path() / "configs/deploy.yaml").string();
    const auto has = [&](const std::string& text) {
        for (const auto& p : found) {
            if (p.find(text) != std::string::npos) return true;
        }
        return false;
    };
    EXPECT_TRUE(has(file + ":6:11: gateway.listen: listen address 'localhost': no ':port'"));
    EXPECT_TRUE(has(file + ":7:12: gateway.threads: must be in [1, 64], got 0"));
    EXPECT_TRUE(has("gateway.max_body_bytes: expected"));
    EXPECT_TRUE(has("gateway.request_timeout_ms: must be in [10, 600000], got 99999999"));
    EXPECT_TRUE(has("gateway.services.infer: must be a service name"));
    EXPECT_TRUE(has("unknown key 'predict'"));
    EXPECT_TRUE(has("unknown key 'lisen'"));
    for (const auto& p : found) EXPECT_EQ(p.rfind(file + ":", 0), 0u) << p;
}

TEST_F(GatewayConfigTest, ReadsTheTokenFileAndCorsOrigins) {
    const std::string token(40, 'k');
    std::filesystem::create_directories(dir.path() / "configs/secrets");
    dir.write("configs/secrets/gateway.token", "  " + token + "\n");
    const auto config = load(
        "gateway:\n"
        "  listen: 0.0.0.0:0\n"
        "  token_file: secrets/gateway.token\n"
        "  cors_origins: [https://digits.example.com, http://localhost:5173]\n");
    EXPECT_EQ(config.token_file, dir.path() / "configs/secrets/gateway.token");
    EXPECT_EQ(config.token, token);
    EXPECT_EQ(config.cors_origins,
              (std::vector<std::string>{"https://digits.example.com", "http://localhost:5173"}));
    const auto defaults = load("");
    EXPECT_TRUE(defaults.token.empty());
    EXPECT_TRUE(defaults.cors_origins.empty());
}

TEST_F(GatewayConfigTest, ReportsBadTokenFilesAndOrigins) {
    std::filesystem::create_directories(dir.path() / "configs");
    dir.write("configs/short.token", "tooshort\n");
    const auto file = (dir.path() / "configs/deploy.yaml").string();
    const auto has = [](const std::vector<std::string>& found, const std::string& text) {
        for (const auto& p : found) {
            if (p.find(text) != std::string::npos) return true;
        }
        return false;
    };
    auto found = problems("gateway:\n  token_file: short.token\n  cors_origins: ['*', x]\n");
    EXPECT_TRUE(has(found, file + ":6:15: gateway.token_file: token file ")) << found.size();
    EXPECT_TRUE(has(found, "at least 32"));
    EXPECT_TRUE(has(found, "gateway.cors_origins: [0] '*': a wildcard"));
    EXPECT_TRUE(has(found, "gateway.cors_origins: [1] 'x': the scheme must be"));
    found = problems("gateway:\n  token_file: missing.token\n");
    EXPECT_TRUE(has(found, "gateway.token_file: cannot read token file "));
    found = problems("gateway:\n  cors_origins: https://one.example.com\n");
    EXPECT_TRUE(has(found, "gateway.cors_origins")) << "a string, not a list";
}

TEST(ListenAddressTest, ParsesHostPortForms) {
    EXPECT_EQ(parse_listen_address("127.0.0.1:8080")->port, 8080);
    EXPECT_EQ(parse_listen_address("localhost:0")->host, "localhost");
    const auto v6 = parse_listen_address("[::1]:9000");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->to_string(), "[::1]:9000");
    for (const char* bad : {"", "8080", ":8080", "host:", "host:65536", "host:-1", "host:8x",
                            "::1:80", "[::1]80", "ho st:80"}) {
        EXPECT_FALSE(parse_listen_address(bad)) << bad;
    }
}

}  // namespace
}  // namespace digitpipe::gateway
