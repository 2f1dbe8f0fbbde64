// URL helpers of the gateway (web/gateway/url.hpp): strict percent-decoding, query integers,
// job ids.
#include "url.hpp"

#include <gtest/gtest.h>

namespace digitpipe::gateway {
namespace {

TEST(PercentDecodeTest, DecodesEscapesAndRefusesBrokenOnes) {
    EXPECT_EQ(*percent_decode("a%2Fb%2e%2E%20c+d"), "a/b.. c+d");
    EXPECT_EQ(*percent_decode("%00"), std::string(1, '\0'));
    EXPECT_FALSE(percent_decode("%"));
    EXPECT_FALSE(percent_decode("%4"));
    EXPECT_FALSE(percent_decode("%zz"));
    EXPECT_FALSE(percent_decode("abc%g0"));
}

TEST(ParseIntParamTest, AcceptsIntegersInRangeOnly) {
    EXPECT_EQ(*parse_int_param(std::nullopt, "n", 1, 100, 12), 12);
    EXPECT_EQ(*parse_int_param(std::string("5"), "n", 1, 100, 12), 5);
    for (const char* bad :
         {"0", "101", "abc", "", " 5", "5 ", "+5", "5.0", "0x10", "1e2", "99999999999999999999"}) {
        const auto n = parse_int_param(std::string(bad), "n", 1, 100, 12);
        ASSERT_FALSE(n) << bad;
        EXPECT_EQ(n.status().code(), framework::StatusCode::kInvalidArgument);
        EXPECT_EQ(n.status().message().rfind("n must be an integer in [1, 100], got ", 0), 0u)
            << n.status().message();
    }
}

TEST(ParseJobIdTest, AcceptsRunIdsAndRefusesEverythingElse) {
    EXPECT_EQ(*parse_job_id("quick-20261124-150102"), "quick-20261124-150102");
    EXPECT_EQ(*parse_job_id("a_b.c-2"), "a_b.c-2");
    EXPECT_EQ(*parse_job_id("quick%2D1"), "quick-1");
    for (const char* bad : {"", "..", ".", "%2e%2e", "a%2Fb", "a b", "a%00", "%zz", "caf%C3%A9"}) {
        const auto id = parse_job_id(bad);
        ASSERT_FALSE(id) << bad;
        EXPECT_EQ(id.status().code(), framework::StatusCode::kInvalidArgument) << bad;
    }
    EXPECT_FALSE(parse_job_id(std::string(129, 'a')));
    EXPECT_TRUE(parse_job_id(std::string(128, 'a')));
}

}  // namespace
}  // namespace digitpipe::gateway
