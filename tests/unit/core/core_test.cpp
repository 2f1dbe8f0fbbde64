// Unit tests of the core area: status names round-trip, Result semantics, logfmt lines.
#include <gtest/gtest.h>

#include "digitpipe/log.hpp"
#include "digitpipe/status.hpp"

namespace digitpipe::framework {
namespace {

TEST(StatusTest, EveryCodeNameRoundTrips) {
    for (const auto code :
         {StatusCode::kOk, StatusCode::kInvalidArgument, StatusCode::kNotFound,
          StatusCode::kFailedPrecondition, StatusCode::kResourceExhausted, StatusCode::kUnavailable,
          StatusCode::kDeadlineExceeded, StatusCode::kUnimplemented, StatusCode::kInternal}) {
        const auto name = status_code_name(code);
        ASSERT_EQ(parse_status_code(name), code) << name;
    }
    EXPECT_EQ(parse_status_code("NOT_A_CODE"), std::nullopt);
    EXPECT_EQ(status_code_name(StatusCode::kFailedPrecondition), "FAILED_PRECONDITION");
}

TEST(StatusTest, ToStringNamesCodeAndMessage) {
    EXPECT_EQ(Status::ok().to_string(), "OK");
    EXPECT_EQ(not_found("no model abc").to_string(), "NOT_FOUND: no model abc");
}

TEST(ResultTest, HoldsValueOrError) {
    Result<int> good = 7;
    ASSERT_TRUE(good.is_ok());
    EXPECT_EQ(*good, 7);
    EXPECT_TRUE(good.status().is_ok());
    Result<int> bad = unavailable("no worker");
    EXPECT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(bad.status().message(), "no worker");
}

TEST(LogTest, FormatsOneLogfmtLineWithQuotingAndEscapes) {
    const auto line = format_log_line(
        LogLevel::kWarn, "broker", "worker expired",
        {{"service", "digitpipe.echo"}, {"detail", "said \"bye\"\nthen left"}, {"empty", ""}});
    ASSERT_TRUE(line.starts_with("ts=")) << line;
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one line: " << line;
    EXPECT_NE(line.find(" level=warn component=broker msg=\"worker expired\" "
                        "service=digitpipe.echo detail=\"said \\\"bye\\\"\\nthen left\" "
                        "empty=\"\""),
              std::string::npos)
        << line;
}

}  // namespace
}  // namespace digitpipe::framework
