// Unit tests of the host area in one process: StageHost over inproc:// (the same stage code
// that runs as a separate worker process), its framework verbs and its error replies; and the
// Supervisor's restart backoff and orderly stop with real child programs.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "digitpipe/deployment.hpp"
#include "digitpipe/envelope.hpp"
#include "digitpipe/host.hpp"
#include "digitpipe/mdp.hpp"
#include "digitpipe/plugin.hpp"
#include "digitpipe/supervisor.hpp"
#include "support/process.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
namespace ts = test_support;

constexpr const char* kDeployment = R"(broker:
  endpoint: inproc://host-test
  heartbeat_ms: 50
stages:
  echo:
    plugin: echo
    replicas: 1
    params: {delay_ms: 0}
paths:
  plugins: )" DIGITPIPE_PLUGIN_DIR "\n";

class StageHostTest : public ::testing::Test {
 protected:
    StageHostTest() : deployment(load_deployment(dir.write("d.yaml", kDeployment))) {}

    Reply call(StageHost& host, const std::string& verb, nlohmann::json header = {}) {
        Request request;
        request.verb = verb;
        request.correlation_id = make_correlation_id();
        request.header = header.is_null() ? nlohmann::json::object() : header;
        auto decoded = decode_reply(host.handle(encode_request(request)));
        EXPECT_TRUE(decoded.is_ok()) << decoded.status().to_string();
        EXPECT_EQ(decoded->correlation_id, request.correlation_id);
        return decoded->reply;
    }

    ts::TempDir dir;
    DeploymentConfig deployment;
    zmq::context_t context{1};
};

TEST_F(StageHostTest, ServesOverInprocThroughARealBroker) {
    Broker broker(context, make_broker_options(deployment.broker, false));
    StageHost host(context, deployment, "echo", {{DIGITPIPE_PLUGIN_DIR}, false});
    std::atomic<bool> stop{false};
    std::thread broker_thread([&] { broker.run(stop); });
    std::thread host_thread([&] { host.run(stop); });

    Client client(context, {"inproc://host-test", 2000ms, 3});
    Request request;
    request.verb = "echo";
    request.correlation_id = make_correlation_id();
    request.header = {{"word", "inproc"}};
    const auto body = client.request("digitpipe.echo", encode_request(request));
    stop = true;
    host_thread.join();
    broker_thread.join();
    ASSERT_TRUE(body.is_ok()) << body.status().to_string();
    const auto reply = decode_reply(*body);
    ASSERT_TRUE(reply.is_ok());
    EXPECT_EQ(reply->reply.header["echo"]["word"], "inproc");
}

TEST_F(StageHostTest, AnswersHealthAndMetricsItself) {
    StageHost host(context, deployment, "echo", {{DIGITPIPE_PLUGIN_DIR}, false});
    const auto health = call(host, "health");
    ASSERT_TRUE(health.status.is_ok());
    EXPECT_EQ(health.header["state"], "ready");
    EXPECT_EQ(health.header["service"], "digitpipe.echo");
    call(host, "echo");
    const auto metrics = call(host, "metrics");
    ASSERT_TRUE(metrics.status.is_ok());
    const std::string text = metrics.header["text"];
    EXPECT_NE(text.find("digitpipe_worker_requests_total{stage=\"echo\"} 3"), std::string::npos)
        << text;
    EXPECT_NE(text.find("# TYPE digitpipe_worker_request_seconds histogram"), std::string::npos);
}

TEST_F(StageHostTest, MalformedBodyGetsInvalidArgumentReply) {
    StageHost host(context, deployment, "echo", {{DIGITPIPE_PLUGIN_DIR}, false});
    const auto decoded = decode_reply(host.handle({"NOT-DPP", "echo", "id", "{}"}));
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->reply.status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(decoded->reply.status.message().find("frame 0"), std::string::npos)
        << decoded->reply.status.message();
}

TEST_F(StageHostTest, RequestPastItsDeadlineIsNotProcessed) {
    StageHost host(context, deployment, "echo", {{DIGITPIPE_PLUGIN_DIR}, false});
    Request request;
    request.verb = "echo";
    request.correlation_id = make_correlation_id();
    request.deadline = std::chrono::system_clock::now() - 1s;
    const auto decoded = decode_reply(host.handle(encode_request(request)));
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_EQ(decoded->reply.status.code(), StatusCode::kDeadlineExceeded);
}

TEST_F(StageHostTest, UnknownStageAndBadParamsFailBeforeServing) {
    EXPECT_THROW(StageHost(context, deployment, "nope", {{DIGITPIPE_PLUGIN_DIR}, false}),
                 ConfigError);
    const auto bad = load_deployment(dir.write(
        "bad.yaml", std::string(kDeployment)
                        .replace(std::string(kDeployment).find("delay_ms"), 8, "delay_mz")));
    try {
        StageHost host(context, bad, "echo", {{DIGITPIPE_PLUGIN_DIR}, false});
        FAIL() << "a misspelt param must be refused";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("delay_mz"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("bad.yaml:"), std::string::npos) << e.what();
    }
}

TEST(SupervisorTest, CrashLoopingChildBacksOffUpToTheMaximum) {
    Supervisor supervisor(
        {.restart_backoff = 20ms, .restart_backoff_max = 160ms, .stop_grace = 2000ms});
    supervisor.add({"crasher", {"/bin/false"}, {}});
    std::atomic<bool> stop{false};
    std::thread runner([&] { supervisor.run(stop); });
    const bool reached_max =
        ts::wait_until([&] { return supervisor.status().at(0).backoff == 160ms; }, 20s);
    const auto status = supervisor.status().at(0);
    stop = true;
    runner.join();
    ASSERT_TRUE(reached_max);
    EXPECT_GE(status.restarts, 3);  // 20 -> 40 -> 80 -> 160 needs at least three restarts
    EXPECT_EQ(status.last_exit, 1);
}

// A child gets its spec's environment on top of the supervisor's (stages.<name>.env).
TEST(SupervisorTest, ChildSeesItsEnvironment) {
    Supervisor supervisor(
        {.restart_backoff = 20ms, .restart_backoff_max = 160ms, .stop_grace = 2000ms});
    supervisor.add(
        {"env", {"/bin/sh", "-c", "exit $DIGITPIPE_TEST_CODE"}, {{"DIGITPIPE_TEST_CODE", "7"}}});
    std::atomic<bool> stop{false};
    std::thread runner([&] { supervisor.run(stop); });
    const bool exited =
        ts::wait_until([&] { return supervisor.status().at(0).restarts >= 1; }, 20s);
    const auto status = supervisor.status().at(0);
    stop = true;
    runner.join();
    ASSERT_TRUE(exited);
    EXPECT_EQ(status.last_exit, 7);
}

TEST(SupervisorTest, StopsLongRunningChildrenOnStop) {
    Supervisor supervisor(
        {.restart_backoff = 20ms, .restart_backoff_max = 160ms, .stop_grace = 2000ms});
    supervisor.add({"sleeper", {"/bin/sleep", "600"}, {}});
    std::atomic<bool> stop{false};
    std::thread runner([&] { supervisor.run(stop); });
    ASSERT_TRUE(ts::wait_until([&] { return supervisor.status().at(0).pid != 0; }, 10s));
    const int pid = supervisor.status().at(0).pid;
    stop = true;
    runner.join();
    EXPECT_FALSE(ts::process_alive(pid));
}

TEST(SupervisorTest, MissingProgramIsAnError) {
    Supervisor supervisor({});
    supervisor.add({"ghost", {"/nonexistent/program"}, {}});
    std::atomic<bool> stop{false};
    EXPECT_THROW(supervisor.run(stop), std::runtime_error);
}

}  // namespace
}  // namespace digitpipe::framework
