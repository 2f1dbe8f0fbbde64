// Tests of the echo stage (plugins/echo/echo_stage.cpp), loaded the way a worker loads it:
// the built libdigitpipe_stage_echo.so found by name in the plugin folder. Covers each verb,
// each error reply, its params and its metrics.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "digitpipe/plugin.hpp"
#include "plugin_test_support.hpp"

namespace digitpipe::framework {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::FakeStageContext;
using testing::RecordingMetricSink;

// A deadline that has already passed, so any sleep must end at once with DEADLINE_EXCEEDED.
std::chrono::system_clock::time_point past_deadline() {
    return std::chrono::system_clock::now() - std::chrono::seconds(1);
}

Request make_request(std::string verb, nlohmann::json header = nlohmann::json::object()) {
    Request request;
    request.verb = std::move(verb);
    request.correlation_id = "0123456789abcdef0123456789abcdef";
    request.header = std::move(header);
    return request;
}

class EchoStageTest : public ::testing::Test {
 protected:
    // Loads a fresh echo stage and configures it from `params_yaml`.
    void configure(const std::string& params_yaml) {
        loaded_ = load_stage_plugin(find_stage_plugin("echo", {DIGITPIPE_PLUGIN_DIR}));
        configure_stage(loaded_, ConfigNode::parse(params_yaml, "echo.yaml"), context_);
    }
    void SetUp() override { configure("{}"); }

    Reply call(const Request& request) { return loaded_.stage->process(request); }

    FakeStageContext context_{"echo_test"};
    LoadedStage loaded_;
};

TEST_F(EchoStageTest, DescriptorNamesTheStageEcho) {
    EXPECT_EQ(loaded_.name, "echo");
    EXPECT_EQ(loaded_.file.filename(), "libdigitpipe_stage_echo.so");
}

TEST_F(EchoStageTest, IsReadyAfterConfigure) {
    const Health health = loaded_.stage->health();
    EXPECT_EQ(health.state, HealthState::kReady);
    EXPECT_THAT(health.detail, HasSubstr("delay_ms=0"));
}

TEST_F(EchoStageTest, EchoReturnsHeaderWithoutCodecKeysPidStageAndPayloads) {
    Request request = make_request(
        "echo", {{"text", "hi"}, {"nested", {{"n", {1, 2, 3}}}}, {"deadline_ms", 123},
                 {"payloads", nlohmann::json::array()}, {"message", "m"}, {"context", "c"}});
    request.payloads = {Payload{"image", "u8", {2, 2}, std::string("\x00\x01\x02\xff", 4)},
                        Payload{"blob", "bytes", {}, "abc"}};

    const Reply reply = call(request);

    ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    const nlohmann::json expected_echo = {{"text", "hi"}, {"nested", {{"n", {1, 2, 3}}}}};
    EXPECT_EQ(reply.header.at("echo"), expected_echo);
    EXPECT_EQ(reply.header.at("worker_pid"), static_cast<std::int64_t>(::getpid()));
    EXPECT_EQ(reply.header.at("stage"), "echo_test");
    EXPECT_EQ(reply.payloads, request.payloads);
}

TEST_F(EchoStageTest, EchoOfAnEmptyRequestIsAnEmptyEcho) {
    const Reply reply = call(make_request("echo"));
    ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    EXPECT_EQ(reply.header.at("echo"), nlohmann::json::object());
    EXPECT_TRUE(reply.payloads.empty());
}

TEST_F(EchoStageTest, EchoWithoutDelayAnswersEvenPastTheDeadline) {
    Request request = make_request("echo", {{"k", 1}});
    request.deadline = past_deadline();
    EXPECT_TRUE(call(request).status.is_ok());
}

TEST_F(EchoStageTest, ConfiguredDelayIsCutShortByTheDeadline) {
    configure("delay_ms: 60000\n");
    Request request = make_request("echo");
    request.deadline = past_deadline();

    const Reply reply = call(request);

    EXPECT_EQ(reply.status.code(), StatusCode::kDeadlineExceeded) << reply.status.to_string();
    EXPECT_THAT(reply.status.message(), HasSubstr("60000 ms"));
}

TEST_F(EchoStageTest, SleepRepliesWithTheTimeSleptAndWhoSlept) {
    const Reply reply = call(make_request("sleep", {{"ms", 1}}));
    ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    EXPECT_EQ(reply.header.at("slept_ms"), 1);
    EXPECT_EQ(reply.header.at("worker_pid"), static_cast<std::int64_t>(::getpid()));
    EXPECT_EQ(reply.header.at("stage"), "echo_test");
}

TEST_F(EchoStageTest, SleepPastTheDeadlineIsDeadlineExceeded) {
    Request request = make_request("sleep", {{"ms", 60000}});
    request.deadline = past_deadline();

    EXPECT_EQ(call(request).status.code(), StatusCode::kDeadlineExceeded);
}

class EchoSleepBadHeaderTest : public EchoStageTest,
                               public ::testing::WithParamInterface<nlohmann::json> {};

TEST_P(EchoSleepBadHeaderTest, IsInvalidArgumentNamingTheKey) {
    const Reply reply = call(make_request("sleep", GetParam()));

    EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument) << reply.status.to_string();
    EXPECT_THAT(reply.status.message(), HasSubstr("header.ms"));
    EXPECT_EQ(reply.header.value("context", nlohmann::json()), (nlohmann::json{{"field", "ms"}}))
        << reply.header.dump();
}

INSTANTIATE_TEST_SUITE_P(
    BadValues, EchoSleepBadHeaderTest,
    ::testing::Values(nlohmann::json::object(), nlohmann::json{{"ms", -1}},
                      nlohmann::json{{"ms", 60001}}, nlohmann::json{{"ms", "10"}},
                      nlohmann::json{{"ms", 1.5}}, nlohmann::json{{"ms", nullptr}},
                      nlohmann::json{{"ms", 18446744073709551615ull}}));

TEST_F(EchoStageTest, FailRepliesWithTheRequestedStatusAndMessage) {
    const Reply reply =
        call(make_request("fail", {{"code", "NOT_FOUND"}, {"message", "no such model"}}));

    EXPECT_EQ(reply.status, Status(StatusCode::kNotFound, "no such model"));
}

TEST_F(EchoStageTest, FailWithoutMessageStillFails) {
    const Reply reply = call(make_request("fail", {{"code", "UNAVAILABLE"}}));

    EXPECT_EQ(reply.status.code(), StatusCode::kUnavailable);
    EXPECT_FALSE(reply.status.message().empty());
}

class EchoFailBadHeaderTest
    : public EchoStageTest,
      public ::testing::WithParamInterface<std::pair<nlohmann::json, std::string>> {};

TEST_P(EchoFailBadHeaderTest, IsInvalidArgumentNamingTheKey) {
    const auto& [header, key] = GetParam();

    const Reply reply = call(make_request("fail", header));

    EXPECT_EQ(reply.status.code(), StatusCode::kInvalidArgument) << reply.status.to_string();
    EXPECT_THAT(reply.status.message(), HasSubstr("header." + key));
}

INSTANTIATE_TEST_SUITE_P(
    BadValues, EchoFailBadHeaderTest,
    ::testing::Values(std::pair{nlohmann::json::object(), std::string("code")},
                      std::pair{nlohmann::json{{"code", "OK"}}, std::string("code")},
                      std::pair{nlohmann::json{{"code", "BOGUS"}}, std::string("code")},
                      std::pair{nlohmann::json{{"code", 5}}, std::string("code")},
                      std::pair{nlohmann::json{{"code", "INTERNAL"}, {"message", 3}},
                                std::string("message")}));

TEST_F(EchoStageTest, CrashIsRefusedUnlessAllowed) {
    const Reply reply = call(make_request("crash"));

    EXPECT_EQ(reply.status.code(), StatusCode::kFailedPrecondition);
    EXPECT_THAT(reply.status.message(), HasSubstr("allow_crash"));
}

TEST_F(EchoStageTest, CrashAbortsTheProcessWhenAllowed) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    configure("allow_crash: true\n");
    EXPECT_DEATH(call(make_request("crash")), "");
}

TEST_F(EchoStageTest, UnknownVerbIsUnimplementedNamingItAndTheKnownVerbs) {
    const Reply reply = call(make_request("predict"));

    EXPECT_EQ(reply.status.code(), StatusCode::kUnimplemented);
    EXPECT_THAT(reply.status.message(), AllOf(HasSubstr("'predict'"), HasSubstr("echo"),
                                              HasSubstr("sleep"), HasSubstr("fail"),
                                              HasSubstr("crash")));
}

TEST_F(EchoStageTest, MetricsCountRequestsPerVerb) {
    call(make_request("echo"));
    call(make_request("echo"));
    call(make_request("fail", {{"code", "INTERNAL"}}));
    call(make_request("nope"));
    RecordingMetricSink sink;

    loaded_.stage->collect_metrics(sink);

    EXPECT_EQ(sink.counters.at("requests_total"), 4);
    EXPECT_EQ(sink.counters.at("requests_echo_total"), 2);
    EXPECT_EQ(sink.counters.at("requests_fail_total"), 1);
    EXPECT_EQ(sink.counters.at("requests_sleep_total"), 0);
    EXPECT_EQ(sink.counters.at("requests_unknown_verb_total"), 1);
}

// ---- params ---------------------------------------------------------------------------------

TEST(EchoStageConfigTest, NotReadyBeforeConfigure) {
    const LoadedStage loaded =
        load_stage_plugin(find_stage_plugin("echo", {DIGITPIPE_PLUGIN_DIR}));
    EXPECT_EQ(loaded.stage->health().state, HealthState::kStarting);
}

class EchoStageBadParamsTest
    : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(EchoStageBadParamsTest, IsAConfigErrorNamingTheKeyAndPosition) {
    const auto& [yaml, key] = GetParam();
    FakeStageContext context;
    const LoadedStage loaded =
        load_stage_plugin(find_stage_plugin("echo", {DIGITPIPE_PLUGIN_DIR}));

    try {
        configure_stage(loaded, ConfigNode::parse(yaml, "echo.yaml"), context);
        FAIL() << "params accepted: " << yaml;
    } catch (const ConfigError& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr(key), HasSubstr("echo.yaml:1:")));
    }
}

INSTANTIATE_TEST_SUITE_P(
    BadParams, EchoStageBadParamsTest,
    ::testing::Values(std::pair{std::string("delay_ms: -1\n"), std::string("delay_ms")},
                      std::pair{std::string("delay_ms: 60001\n"), std::string("delay_ms")},
                      std::pair{std::string("delay_ms: soon\n"), std::string("delay_ms")},
                      std::pair{std::string("allow_crash: maybe\n"), std::string("allow_crash")},
                      std::pair{std::string("dealy_ms: 5\n"), std::string("dealy_ms")}));

}  // namespace
}  // namespace digitpipe::framework
