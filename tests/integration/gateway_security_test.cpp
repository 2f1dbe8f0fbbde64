// The gateway's access rules against a real digitpipe-gateway, broker and train worker
// (web/gateway/security.hpp, web/API.md "Security"): the bearer token of the routes that
// change state (401 without, 403 wrong, through to the stage with it) on 0.0.0.0 and on
// loopback, the refusal to listen beyond loopback without a token, and CORS for listed,
// unlisted and preflighting origins.
#include <gtest/gtest.h>

#include <fstream>

#include "gateway_support.hpp"

namespace digitpipe::integration {
namespace {

using namespace std::chrono_literals;
using namespace gateway_support;
using nlohmann::json;

const std::string kToken = "s3cr3t-token-for-the-gateway-tests-0123456789";
const std::string kOrigin = "http://app.example.com";
const ts::HttpHeaders kJson{{"Content-Type", "application/json"}};

ts::HttpHeaders with(ts::HttpHeaders headers, const std::string& name, const std::string& value) {
    headers.emplace_back(name, value);
    return headers;
}

class GatewaySecurityTest : public ::testing::Test {
 protected:
    static void SetUpTestSuite() {
        dir = std::make_unique<ts::TempDir>();
        std::filesystem::create_directories(dir->path() / "runs");
        dir->write("gateway.token", kToken + "\n");
        base = kBrokerYaml + "stages:\n  train: {plugin: train, params: {augmentation: local}}\n" +
               paths_yaml(dir->path() / "runs");
        const auto config = dir->write("deploy.yaml", base);
        broker = std::make_unique<BrokerProcess>(config);
        train = start_worker(config, *broker, "train");
    }
    static void TearDownTestSuite() {
        train.reset();
        broker.reset();
        dir.reset();
    }

    // A gateway with `gateway_block` (YAML under `gateway:`), waiting until the train
    // worker answers through it.
    static std::unique_ptr<GatewayProcess> start(const std::string& name,
                                                 const std::string& gateway_block) {
        const auto config = dir->write(name, base + "gateway:\n" + gateway_block);
        auto gateway = std::make_unique<GatewayProcess>(config, *broker);
        EXPECT_TRUE(ts::wait_until(
            [&] {
                const auto r = gateway->get("/api/experiments");
                return r && r->status == 200;
            },
            60s))
            << "train worker never answered through " << name;
        return gateway;
    }

    static inline std::unique_ptr<ts::TempDir> dir;
    static inline std::string base;
    static inline std::unique_ptr<BrokerProcess> broker;
    static inline std::unique_ptr<ts::Process> train;
};

TEST_F(GatewaySecurityTest, NetworkListenRequiresTheTokenOnStateChangingRoutes) {
    // Listening on every interface; the test still connects through 127.0.0.1.
    const auto gateway =
        start("network.yaml", "  listen: 0.0.0.0:0\n  token_file: gateway.token\n");
    const auto serve_body = json{{"model", "digitpipe-mnist.safetensors"}}.dump();

    for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
             {"/api/train", R"({"experiment": "quick"})"},
             {"/api/jobs/some-run/cancel", ""},
             {"/api/serve", serve_body}}) {
        const auto missing = gateway->post(target, body, kJson);
        expect_error(missing, 401, "unauthenticated", target + " without a token");
        EXPECT_EQ(missing->header("www-authenticate").rfind("Bearer", 0), 0u) << target;
        expect_error(gateway->post(target, body, with(kJson, "Authorization", "Bearer wrong")),
                     403, "permission_denied", target + " with a wrong token");
        expect_error(gateway->post(target, body,
                                   with(kJson, "Authorization", "Bearer " + kToken + "x")),
                     403, "permission_denied", target + " with a longer token");
        expect_error(gateway->post(target, body, with(kJson, "Authorization", "Basic " + kToken)),
                     403, "permission_denied", target + " with another scheme");
    }
    // The right token reaches the stage: its own answers come back.
    const auto auth = with(kJson, "Authorization", "Bearer " + kToken);
    const auto served = gateway->post("/api/serve", serve_body, auth);
    ASSERT_TRUE(served);
    EXPECT_EQ(served->status, 202) << served->body;
    expect_error(gateway->post("/api/serve", R"({"run": "no-such-run"})", auth), 404, "not_found",
                 "unknown run, with the token");
    const auto cancel = gateway->post("/api/jobs/no-such-run/cancel", "", auth);
    ASSERT_TRUE(cancel);
    EXPECT_TRUE(cancel->status == 404 || cancel->status == 409) << cancel->body;
    // Reading stays open.
    const auto experiments = gateway->get("/api/experiments");
    ASSERT_TRUE(experiments);
    EXPECT_EQ(experiments->status, 200);
    EXPECT_TRUE(gateway->healthy());
}

TEST_F(GatewaySecurityTest, LoopbackIsOpenWithoutATokenAndEnforcesOneWhenConfigured) {
    const auto open = start("open.yaml", "  listen: 127.0.0.1:0\n");
    expect_error(open->post("/api/serve", R"({"run": "no-such-run"})", kJson), 404, "not_found",
                 "loopback without a token: the stage answers");

    const auto guarded = start("guarded.yaml", "  listen: 127.0.0.1:0\n  token_file: gateway.token\n");
    expect_error(guarded->post("/api/serve", R"({"run": "no-such-run"})", kJson), 401,
                 "unauthenticated", "loopback with a token configured");
    expect_error(guarded->post("/api/serve", R"({"run": "no-such-run"})",
                               with(kJson, "Authorization", "Bearer " + kToken)),
                 404, "not_found", "loopback with the token");
}

TEST_F(GatewaySecurityTest, RefusesToListenBeyondLoopbackWithoutAToken) {
    const auto run = [&](const std::string& yaml, const std::vector<std::string>& flags) {
        const auto config = dir->write("refused.yaml", base + yaml);
        const auto log = dir->path() / "refused.log";
        std::string command = (kBinDir / "digitpipe-gateway").string() + " --config " +
                              config.string();
        for (const auto& o : broker->endpoint_overrides()) command += " --set " + o;
        for (const auto& f : flags) command += " " + f;
        ts::Process process("/bin/sh", {"-c", command + " 2>" + log.string()}, true);
        const auto code = process.wait_for(20s);
        std::ifstream in(log);
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        return std::make_pair(code, text);
    };
    for (const auto& [yaml, flags] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"gateway:\n  listen: 0.0.0.0:0\n", {}},
             {"gateway:\n  listen: 192.0.2.1:0\n", {}},
             {"gateway:\n  listen: 127.0.0.1:0\n", {"--listen", "0.0.0.0:0"}}}) {
        const auto [code, text] = run(yaml, flags);
        EXPECT_EQ(code, 2) << yaml << text;
        EXPECT_NE(text.find("gateway.token_file"), std::string::npos) << text;
        EXPECT_NE(text.find("digitpipe keys --token"), std::string::npos) << text;
    }
}

TEST_F(GatewaySecurityTest, CorsForListedOriginsOnly) {
    const auto gateway = start("cors.yaml", "  listen: 127.0.0.1:0\n  token_file: gateway.token\n"
                                            "  cors_origins: [\"" + kOrigin + "\"]\n");
    const ts::HttpHeaders listed{{"Origin", kOrigin}};
    const ts::HttpHeaders unlisted{{"Origin", "http://evil.example.com"}};

    const auto allowed = gateway->get("/healthz", listed);
    ASSERT_TRUE(allowed);
    EXPECT_EQ(allowed->status, 200);
    EXPECT_EQ(allowed->header("access-control-allow-origin"), kOrigin);
    EXPECT_EQ(allowed->header("vary"), "Origin");
    // An error answer carries it too, so the page can read the 401 and ask for the token.
    const auto refused = gateway->post("/api/train", R"({"experiment": "quick"})",
                                       with(kJson, "Origin", kOrigin));
    expect_error(refused, 401, "unauthenticated", "cross-origin train without a token");
    EXPECT_EQ(refused->header("access-control-allow-origin"), kOrigin);

    const auto other = gateway->get("/healthz", unlisted);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 200);
    EXPECT_EQ(other->header("access-control-allow-origin"), "");
    EXPECT_EQ(other->header("vary"), "");

    const auto preflight = ts::http_request(
        gateway->port, "OPTIONS", "/api/train", "",
        with(with(listed, "Access-Control-Request-Method", "POST"),
             "Access-Control-Request-Headers", "authorization, content-type"));
    ASSERT_TRUE(preflight);
    EXPECT_EQ(preflight->status, 204) << preflight->body;
    EXPECT_EQ(preflight->header("access-control-allow-origin"), kOrigin);
    EXPECT_NE(preflight->header("access-control-allow-methods").find("POST"), std::string::npos);
    EXPECT_NE(preflight->header("access-control-allow-headers").find("Authorization"),
              std::string::npos);
    EXPECT_NE(preflight->header("access-control-allow-headers").find("Content-Type"),
              std::string::npos);
    EXPECT_EQ(preflight->header("access-control-max-age"), "600");

    expect_error(ts::http_request(gateway->port, "OPTIONS", "/api/train", "",
                                  with(unlisted, "Access-Control-Request-Method", "POST")),
                 403, "permission_denied", "preflight from an unlisted origin");

    // Default: no CORS at all, whatever the origin.
    const auto plain = start("plain.yaml", "  listen: 127.0.0.1:0\n");
    const auto same = plain->get("/healthz", listed);
    ASSERT_TRUE(same);
    EXPECT_EQ(same->header("access-control-allow-origin"), "");
    expect_error(ts::http_request(plain->port, "OPTIONS", "/api/predict", "", listed), 403,
                 "permission_denied", "preflight with no cors_origins");
}

}  // namespace
}  // namespace digitpipe::integration
