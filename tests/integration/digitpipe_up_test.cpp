// `digitpipe up` as a user runs it: starts broker and workers as supervised processes,
// answers requests, restarts a SIGKILLed worker, and stops everything on SIGTERM/SIGINT
// leaving no process behind. Also `digitpipe status` and `digitpipe request`, and bad configs.
#include <signal.h>

#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "cluster.hpp"

namespace digitpipe::integration {
namespace {

using namespace std::chrono_literals;

constexpr const char* kService = "digitpipe.echo";

class DigitpipeUpTest : public ::testing::Test {
 protected:
    void SetUp() override {
        const auto p = dir.path().string();
        endpoint = "ipc://" + p + "/broker";
        config = dir.write("deploy.yaml", echo_deployment(endpoint, "ipc://" + p + "/ev-in",
                                                          "ipc://" + p + "/ev-out", 2));
    }

    std::unique_ptr<ts::Process> up() {
        return std::make_unique<ts::Process>(
            kBinDir / "digitpipe", std::vector<std::string>{"up", "--config", config.string()});
    }

    ts::TempDir dir;
    std::string endpoint;
    std::filesystem::path config;
    zmq::context_t context{1};
};

TEST_F(DigitpipeUpTest, ServesSurvivesWorkerKillAndStopsCleanly) {
    auto deployment = up();
    ASSERT_TRUE(ts::wait_until([&] { return live_workers(context, endpoint, kService) == 2; },
                               kStartTimeout));
    const auto children = children_of(deployment->pid());
    ASSERT_EQ(children.size(), 3u);  // broker + 2 workers

    fw::Client client(context, test_client_options(endpoint));
    auto reply = call(client, kService, "echo", {{"n", 1}});
    ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    const int victim = reply.header.value("worker_pid", 0);
    ASSERT_TRUE(children.count(victim));

    ::kill(victim, SIGKILL);
    for (int i = 0; i < 20; ++i) {  // service continues while the victim is down
        reply = call(client, kService, "echo", {{"n", i}});
        ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
        EXPECT_NE(reply.header.value("worker_pid", 0), victim);
    }
    // The supervisor restarts it: two live workers again, with a new pid among the children.
    ASSERT_TRUE(ts::wait_until(
        [&] {
            const auto now = children_of(deployment->pid());
            return now.size() == 3 && !now.count(victim) &&
                   live_workers(context, endpoint, kService) == 2;
        },
        kStartTimeout));

    const auto final_children = children_of(deployment->pid());
    deployment->signal(SIGTERM);
    EXPECT_EQ(deployment->wait_for(15s), 0);
    for (const int pid : final_children) {
        EXPECT_TRUE(ts::wait_until([&] { return !ts::process_alive(pid); }, 5s))
            << "orphan process " << pid;
    }
}

TEST_F(DigitpipeUpTest, StatusAndRequestCommandsTalkToTheDeployment) {
    auto deployment = up();
    ASSERT_TRUE(ts::wait_until([&] { return live_workers(context, endpoint, kService) == 2; },
                               kStartTimeout));
    ts::Process status(kBinDir / "digitpipe", {"status", "--config", config.string()}, true);
    std::string output;
    while (auto line = status.read_line(10s)) output += *line + "\n";
    EXPECT_EQ(status.wait_for(10s), 0);
    EXPECT_NE(output.find("digitpipe.echo"), std::string::npos) << output;
    EXPECT_NE(output.find("     2"), std::string::npos) << output;  // two idle workers

    ts::Process request(kBinDir / "digitpipe",
                        {"request", "digitpipe.echo", "echo", "--header", R"({"word":"ping"})",
                         "--config", config.string()},
                        true);
    output.clear();
    while (auto line = request.read_line(10s)) output += *line + "\n";
    EXPECT_EQ(request.wait_for(10s), 0);
    const auto json = nlohmann::json::parse(output);
    EXPECT_EQ(json["status"], "OK");
    EXPECT_EQ(json["header"]["echo"]["word"], "ping");

    deployment->signal(SIGINT);
    EXPECT_EQ(deployment->wait_for(15s), 0);
}

TEST_F(DigitpipeUpTest, InprocDeploymentRunsInOneProcess) {
    // The same stage over inproc://: threads of one process. We can only reach it from
    // inside, so check that it starts, stays up, and stops cleanly on SIGTERM.
    const auto inproc = dir.write(
        "inproc.yaml", echo_deployment("inproc://broker", "inproc://in", "inproc://out", 2));
    ts::Process deployment(kBinDir / "digitpipe", {"up", "--config", inproc.string()}, true);
    const auto banner = deployment.read_line(kStartTimeout);
    ASSERT_TRUE(banner.has_value());
    EXPECT_NE(banner->find("in-process"), std::string::npos) << *banner;
    EXPECT_TRUE(children_of(deployment.pid()).empty());
    deployment.signal(SIGTERM);
    EXPECT_EQ(deployment.wait_for(15s), 0);
}

TEST_F(DigitpipeUpTest, ConfigErrorExitsTwoNamingFileLineAndKey) {
    const auto bad = dir.write("bad.yaml",
                               "broker:\n  endpoint: tcp://127.0.0.1:1\n"
                               "  heartbeat_ms: fast\nstages: {}\nbogus: 1\n");
    ts::Process deployment(kBinDir / "digitpipe", {"up", "--config", bad.string()});
    EXPECT_EQ(deployment.wait_for(15s), 2);
}

TEST_F(DigitpipeUpTest, UnknownCommandIsUsageError) {
    ts::Process command(kBinDir / "digitpipe", {"frobnicate"});
    EXPECT_EQ(command.wait_for(10s), 2);
}

}  // namespace
}  // namespace digitpipe::integration
