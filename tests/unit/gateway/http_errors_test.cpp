// The status -> HTTP mapping (STYLE 5, web/API.md "Errors") and the JSON error body.
#include "http_errors.hpp"

#include <gtest/gtest.h>

namespace digitpipe::gateway {
namespace {

using framework::Status;
using framework::StatusCode;

struct Mapping {
    StatusCode code;
    int http;
    const char* name;
};

class StatusMappingTest : public ::testing::TestWithParam<Mapping> {};

TEST_P(StatusMappingTest, MapsEachCodeToItsHttpStatusAndName) {
    const auto& m = GetParam();
    EXPECT_EQ(http_status(m.code), m.http);
    EXPECT_EQ(error_code(m.code), m.name);
    const auto answer = error_answer(Status{m.code, "where: what"});
    EXPECT_EQ(answer.code, m.http);
    EXPECT_EQ(answer.content_type, "application/json");
    const auto body = nlohmann::json::parse(answer.body);
    EXPECT_EQ(body, (nlohmann::json{{"error", {{"code", m.name}, {"message", "where: what"}}}}));
}

INSTANTIATE_TEST_SUITE_P(
    AllCodes, StatusMappingTest,
    ::testing::Values(Mapping{StatusCode::kInvalidArgument, 400, "invalid_argument"},
                      Mapping{StatusCode::kNotFound, 404, "not_found"},
                      Mapping{StatusCode::kFailedPrecondition, 409, "failed_precondition"},
                      Mapping{StatusCode::kResourceExhausted, 429, "resource_exhausted"},
                      Mapping{StatusCode::kUnavailable, 503, "unavailable"},
                      Mapping{StatusCode::kDeadlineExceeded, 504, "deadline_exceeded"},
                      Mapping{StatusCode::kUnimplemented, 501, "unimplemented"},
                      Mapping{StatusCode::kInternal, 500, "internal"},
                      Mapping{StatusCode::kOk, 500, "internal"}));

TEST(HttpErrorsTest, UnavailableSaysWhenToRetry) {
    const auto answer = error_answer(framework::unavailable("no worker"));
    ASSERT_EQ(answer.headers.size(), 1u);
    EXPECT_EQ(answer.headers[0], (std::pair<std::string, std::string>{"Retry-After", "1"}));
    EXPECT_TRUE(error_answer(framework::not_found("x")).headers.empty());
}

TEST(HttpErrorsTest, BuildsErrorsOutsideTheStatusVocabularyAndSurvivesBadUtf8) {
    const auto answer = error_answer(415, "unsupported_media_type", "got text/plain");
    EXPECT_EQ(answer.code, 415);
    EXPECT_EQ(nlohmann::json::parse(answer.body)["error"]["code"], "unsupported_media_type");
    const auto bad = error_answer(400, "invalid_argument", std::string("bytes \xff\xfe here"));
    EXPECT_TRUE(nlohmann::json::accept(bad.body)) << bad.body;
}

}  // namespace
}  // namespace digitpipe::gateway
