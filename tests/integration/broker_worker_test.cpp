// MDP across real processes: digitpipe-broker and digitpipe-worker (echo plugin) on
// 127.0.0.1 and Unix sockets. Covers round trips, load sharing, SIGKILL failover, worker and
// broker restarts.
#include <signal.h>

#include <set>

#include <gtest/gtest.h>

#include "cluster.hpp"

namespace digitpipe::integration {
namespace {

using namespace std::chrono_literals;

constexpr const char* kService = "digitpipe.echo";

// Parameterized over the transport: "tcp" or "ipc".
class BrokerWorkerTest : public ::testing::TestWithParam<std::string> {
 protected:
    void SetUp() override {
        if (GetParam() == "tcp") {
            config = dir.write(
                "deploy.yaml",
                echo_deployment("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", 2));
        } else {
            const auto p = dir.path().string();
            config = dir.write("deploy.yaml",
                               echo_deployment("ipc://" + p + "/broker", "ipc://" + p + "/ev-in",
                                               "ipc://" + p + "/ev-out", 2));
        }
        broker = std::make_unique<BrokerProcess>(config);
    }

    int worker_pid_of(const fw::Reply& reply) { return reply.header.value("worker_pid", 0); }

    ts::TempDir dir;
    std::filesystem::path config;
    std::unique_ptr<BrokerProcess> broker;
    zmq::context_t context{1};
};

TEST_P(BrokerWorkerTest, RequestReplyRoundTrip) {
    auto worker = start_worker(config, *broker);
    fw::Client client(context, test_client_options(broker->endpoint));
    const auto reply = call(client, kService, "echo", {{"text", "hello"}});
    ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    EXPECT_EQ(reply.header["echo"]["text"], "hello");
    EXPECT_EQ(worker_pid_of(reply), worker->pid());
}

TEST_P(BrokerWorkerTest, TwoWorkersShareLoad) {
    auto a = start_worker(config, *broker);
    auto b = start_worker(config, *broker);
    ASSERT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 2; }, kStartTimeout));
    fw::Client client(context, test_client_options(broker->endpoint));
    std::set<int> served_by;
    for (int i = 0; i < 50; ++i) {
        const auto reply = call(client, kService, "echo", {{"i", i}});
        ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
        EXPECT_EQ(reply.header["echo"]["i"], i);
        served_by.insert(worker_pid_of(reply));
    }
    EXPECT_EQ(served_by, (std::set<int>{a->pid(), b->pid()}));
}

TEST_P(BrokerWorkerTest, KilledWorkerRequestsAnsweredByTheOther) {
    auto a = start_worker(config, *broker);
    auto b = start_worker(config, *broker);
    ASSERT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 2; }, kStartTimeout));
    fw::Client client(context, test_client_options(broker->endpoint));
    // Worker a dies while requests stream through; it may be mid-request or idle.
    std::thread killer([&] {
        std::this_thread::sleep_for(100ms);
        a->signal(SIGKILL);
    });
    int answered = 0;
    std::set<int> served_by;
    for (int i = 0; i < 40; ++i) {
        const auto reply = call(client, kService, "sleep", {{"ms", 20}});
        ASSERT_TRUE(reply.status.is_ok()) << "request " << i << ": " << reply.status.to_string();
        served_by.insert(worker_pid_of(reply));
        ++answered;
    }
    killer.join();
    EXPECT_EQ(answered, 40);
    EXPECT_TRUE(served_by.count(b->pid()));
    // The broker forgets the dead worker within its heartbeat window.
    EXPECT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 1; }, kStartTimeout));
}

TEST_P(BrokerWorkerTest, RequestOfWorkerKilledMidRequestIsRequeuedByBroker) {
    auto a = start_worker(config, *broker);
    ASSERT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 1; }, kStartTimeout));
    // The async client never resends: only the broker's requeue can deliver this reply.
    fw::AsyncClient async(context, broker->endpoint);
    fw::Request request;
    request.verb = "sleep";
    request.correlation_id = fw::make_correlation_id();
    request.header = {{"ms", 1500}};
    async.send(kService, fw::encode_request(request));
    fw::Client probe(context, test_client_options(broker->endpoint));
    ASSERT_TRUE(ts::wait_until(
        [&] {
            const auto services = probe.services();
            return services && services->count(kService) &&
                   services->at(kService).workers_busy == 1;
        },
        kStartTimeout));
    auto b = start_worker(config, *broker);
    ASSERT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 2; }, kStartTimeout));
    a->signal(SIGKILL);
    const auto reply = async.receive(std::chrono::milliseconds(15000));
    ASSERT_TRUE(reply.has_value());
    const auto decoded = fw::decode_reply(reply->second);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->correlation_id, request.correlation_id);
    ASSERT_TRUE(decoded->reply.status.is_ok()) << decoded->reply.status.to_string();
    EXPECT_EQ(decoded->reply.header.value("worker_pid", 0), b->pid());
}

TEST_P(BrokerWorkerTest, RestartedWorkerReRegisters) {
    auto a = start_worker(config, *broker);
    ASSERT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 1; }, kStartTimeout));
    a->signal(SIGKILL);
    a->wait_for(5s);
    ASSERT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 0; }, kStartTimeout));
    auto again = start_worker(config, *broker);
    ASSERT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 1; }, kStartTimeout));
    fw::Client client(context, test_client_options(broker->endpoint));
    const auto reply = call(client, kService, "echo");
    ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    EXPECT_EQ(worker_pid_of(reply), again->pid());
}

TEST_P(BrokerWorkerTest, RestartedBrokerIsRejoinedByWorkersAndClients) {
    auto worker = start_worker(config, *broker);
    fw::Client client(context, test_client_options(broker->endpoint));
    ASSERT_TRUE(call(client, kService, "echo").status.is_ok());

    const std::string endpoint = broker->endpoint;  // the same port or socket path again
    broker->process->signal(SIGKILL);
    broker->process->wait_for(5s);
    const auto same_endpoints = broker->endpoint_overrides();
    broker.reset();
    broker = std::make_unique<BrokerProcess>(config, same_endpoints);
    ASSERT_EQ(broker->endpoint, endpoint);
    // The same client object keeps working: its DEALER reconnects and it resends.
    const auto reply = call(client, kService, "echo", {{"after", "restart"}});
    ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    EXPECT_EQ(reply.header["echo"]["after"], "restart");
    EXPECT_EQ(worker_pid_of(reply), worker->pid());
}

TEST_P(BrokerWorkerTest, WorkerStopsCleanlyOnSigterm) {
    auto worker = start_worker(config, *broker);
    ASSERT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 1; }, kStartTimeout));
    worker->signal(SIGTERM);
    EXPECT_EQ(worker->wait_for(10s), 0);
    // DISCONNECT lets the broker forget it at once (no need to wait for heartbeat expiry,
    // but polling is how we observe it).
    EXPECT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker->endpoint, kService) == 0; }, kStartTimeout));
}

INSTANTIATE_TEST_SUITE_P(Transports, BrokerWorkerTest, ::testing::Values("tcp", "ipc"),
                         [](const auto& info) { return info.param; });

TEST(WorkerStartupTest, UnknownStageExitsWithConfigError) {
    ts::TempDir dir;
    const auto config =
        dir.write("d.yaml", echo_deployment("ipc://" + dir.path().string() + "/b",
                                            "ipc://" + dir.path().string() + "/i",
                                            "ipc://" + dir.path().string() + "/o", 1));
    ts::Process worker(kBinDir / "digitpipe-worker",
                       {"--config", config.string(), "--stage", "nope"});
    EXPECT_EQ(worker.wait_for(10s), 2);
}

TEST(WorkerStartupTest, MissingPluginExitsWithPluginError) {
    ts::TempDir dir;
    auto text = echo_deployment("ipc://" + dir.path().string() + "/b",
                                "ipc://" + dir.path().string() + "/i",
                                "ipc://" + dir.path().string() + "/o", 1);
    text.replace(text.find("plugin: echo"), 12, "plugin: nosuchplugin");
    const auto config = dir.write("d.yaml", text);
    ts::Process worker(kBinDir / "digitpipe-worker",
                       {"--config", config.string(), "--stage", "echo"});
    EXPECT_EQ(worker.wait_for(10s), 2);
}

}  // namespace
}  // namespace digitpipe::integration
