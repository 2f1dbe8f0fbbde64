// The gateway's access rules (web/gateway/security.hpp): token files, bearer
// checks, CORS origins, and the refusal to listen beyond loopback without a token.
#include "security.hpp"

#include <gtest/gtest.h>

#include "gateway_config.hpp"
#include "support/process.hpp"

namespace digitpipe::gateway {
namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef-token";

TEST(SecurityTest, BearerTokenChecks) {
    EXPECT_EQ(check_bearer(std::nullopt, ""), BearerCheck::kAllowed) << "no token configured";
    EXPECT_EQ(check_bearer("Bearer nonsense", ""), BearerCheck::kAllowed);
    EXPECT_EQ(check_bearer(std::nullopt, kToken), BearerCheck::kMissing);
    EXPECT_EQ(check_bearer("", kToken), BearerCheck::kMissing);
    EXPECT_EQ(check_bearer("Bearer " + kToken, kToken), BearerCheck::kAllowed);
    EXPECT_EQ(check_bearer("bearer " + kToken, kToken), BearerCheck::kAllowed) << "scheme case";
    EXPECT_EQ(check_bearer("Bearer  " + kToken + " ", kToken), BearerCheck::kAllowed);
    EXPECT_EQ(check_bearer("Bearer " + kToken + "x", kToken), BearerCheck::kWrong);
    EXPECT_EQ(check_bearer("Bearer " + kToken.substr(1), kToken), BearerCheck::kWrong);
    EXPECT_EQ(check_bearer("Bearer", kToken), BearerCheck::kWrong);
    EXPECT_EQ(check_bearer("Basic " + kToken, kToken), BearerCheck::kWrong);
    EXPECT_EQ(check_bearer(kToken, kToken), BearerCheck::kWrong) << "no scheme";
    std::string upper = kToken;
    upper[0] = 'X';
    EXPECT_EQ(check_bearer("Bearer " + upper, kToken), BearerCheck::kWrong);
}

TEST(SecurityTest, ConstantTimeEquality) {
    EXPECT_TRUE(equal_constant_time("", ""));
    EXPECT_TRUE(equal_constant_time("abc", "abc"));
    EXPECT_FALSE(equal_constant_time("abc", "abd"));
    EXPECT_FALSE(equal_constant_time("abc", "ab"));
    EXPECT_FALSE(equal_constant_time("ab", "abc"));
    EXPECT_FALSE(equal_constant_time(std::string("a\0", 2), "a"));
}

TEST(SecurityTest, CorsOriginsAreExact) {
    const std::vector<std::string> allowed{"https://digits.example.com", "http://localhost:5173"};
    EXPECT_EQ(allowed_origin("https://digits.example.com", allowed), "https://digits.example.com");
    EXPECT_EQ(allowed_origin("http://localhost:5173", allowed), "http://localhost:5173");
    for (const char* other : {"https://evil.example.com", "http://digits.example.com",
                              "https://digits.example.com:443", "https://digits.example.com/",
                              "null", ""}) {
        EXPECT_FALSE(allowed_origin(std::string(other), allowed)) << other;
    }
    EXPECT_FALSE(allowed_origin(std::nullopt, allowed));
    EXPECT_FALSE(allowed_origin("https://digits.example.com", {})) << "empty list: no CORS";

    for (const char* good : {"https://digits.example.com", "http://localhost:5173",
                             "http://127.0.0.1:8080", "http://[::1]:8080"}) {
        EXPECT_TRUE(check_cors_origin(good).is_ok()) << good;
    }
    for (const char* bad : {"*", "digits.example.com", "ftp://x.example.com", "https://",
                            "https://x.example.com/", "https://x.example.com/app",
                            "https://X.example.com", "https://x example"}) {
        EXPECT_FALSE(check_cors_origin(bad).is_ok()) << bad;
    }
}

TEST(SecurityTest, TokenFiles) {
    test_support::TempDir dir;
    const auto good = read_token_file(dir.write("good", "\n  " + kToken + "  \n"));
    ASSERT_TRUE(good) << good.status().message();
    EXPECT_EQ(*good, kToken);

    const auto short_token = read_token_file(dir.write("short", "abc\n"));
    ASSERT_FALSE(short_token);
    EXPECT_NE(short_token.status().message().find("at least 32"), std::string::npos);
    EXPECT_EQ(short_token.status().message().find("abc"), std::string::npos)
        << "never echo the token";
    EXPECT_FALSE(read_token_file(dir.write("two", kToken + " " + kToken)));
    EXPECT_FALSE(read_token_file(dir.path() / "missing"));
    EXPECT_FALSE(read_token_file(dir.write("big", std::string(10000, 'a'))));
}

TEST(SecurityTest, RefusesToListenBeyondLoopbackWithoutAToken) {
    GatewayConfig config;
    config.listen = {"127.0.0.1", 0};
    EXPECT_TRUE(check_listen_security(config).is_ok());
    config.listen = {"0.0.0.0", 8080};
    const auto refused = check_listen_security(config);
    ASSERT_FALSE(refused.is_ok());
    EXPECT_NE(refused.message().find("gateway.token_file"), std::string::npos);
    EXPECT_NE(refused.message().find("digitpipe keys --token"), std::string::npos);
    config.token = kToken;
    EXPECT_TRUE(check_listen_security(config).is_ok());
}

}  // namespace
}  // namespace digitpipe::gateway
