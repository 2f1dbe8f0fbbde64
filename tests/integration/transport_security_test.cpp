// Transport security as an operator meets it: `digitpipe keys` makes key pairs and tokens;
// a deployment whose tcp endpoints leave the host refuses to start without keys unless told
// --insecure; with keys, the real broker, worker and `digitpipe request` talk over CURVE and a
// client whose key is not on the broker's allow-list gets no answer; `digitpipe up --only`
// refuses parts the deployment does not have.
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cluster.hpp"
#include "digitpipe/key_files.hpp"

namespace digitpipe::integration {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

struct CommandResult {
    int exit = -1;
    std::string output;  // stdout and stderr together
};

// Runs a program to its end (bounded), with stderr folded into stdout.
CommandResult run(const std::filesystem::path& program, const std::vector<std::string>& args,
                  std::chrono::milliseconds timeout = 60s) {
    std::string command = "exec '" + program.string() + "'";
    for (const auto& arg : args) command += " '" + arg + "'";
    command += " 2>&1";
    ts::Process process("/bin/sh", {"-c", command}, /*capture_stdout=*/true);
    CommandResult result;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        const auto line = process.read_line(1s);
        if (line) {
            result.output += *line + "\n";
        } else if (!process.running()) {
            break;
        }
    }
    result.exit = process.wait_for(5s).value_or(-999);
    return result;
}

std::string read_all(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

unsigned mode_of(const std::filesystem::path& file) {
    struct stat info {};
    ::stat(file.c_str(), &info);
    return info.st_mode & 0777u;
}

TEST(KeysCommandTest, WritesAKeyPairAndATokenAndNeverOverwrites) {
    ts::TempDir dir;
    const auto keys = dir.path() / "keys";
    const auto made = run(kBinDir / "digitpipe", {"keys", "hub", "--dir", keys.string()});
    ASSERT_EQ(made.exit, 0) << made.output;
    EXPECT_THAT(made.output, HasSubstr("public key "));
    const auto pair = fw::read_key_file(keys / "hub.key", /*need_secret=*/true);
    ASSERT_TRUE(pair.is_ok()) << pair.status().message();
    const auto pub = fw::read_key_file(keys / "hub.pub", false);
    ASSERT_TRUE(pub.is_ok()) << pub.status().message();
    EXPECT_EQ(pub->public_key, pair->public_key);
    EXPECT_TRUE(pub->secret_key.empty());
    EXPECT_EQ(mode_of(keys / "hub.key"), 0600u);
    EXPECT_THAT(made.output, HasSubstr(pair->public_key));

    const auto again = run(kBinDir / "digitpipe", {"keys", "hub", "--dir", keys.string()});
    EXPECT_EQ(again.exit, 1);
    EXPECT_THAT(again.output, HasSubstr("already exists"));
    EXPECT_EQ(fw::read_key_file(keys / "hub.key", true)->secret_key, pair->secret_key);

    const auto token = run(kBinDir / "digitpipe", {"keys", "--token", (dir.path() / "t").string()});
    ASSERT_EQ(token.exit, 0) << token.output;
    const auto text = read_all(dir.path() / "t");
    EXPECT_EQ(text.size(), 65u);  // 64 hex digits and a newline
    EXPECT_EQ(text.find_first_not_of("0123456789abcdef\n"), std::string::npos);
    EXPECT_EQ(mode_of(dir.path() / "t"), 0600u);

    const auto bad = run(kBinDir / "digitpipe", {"keys", "../evil", "--dir", keys.string()});
    EXPECT_EQ(bad.exit, 2);
    EXPECT_THAT(bad.output, HasSubstr("NAME must be"));
}

TEST(InsecureFlagTest, AnEndpointLeavingTheHostNeedsKeysOrInsecure) {
    ts::TempDir dir;
    const auto config = dir.write(
        "deploy.yaml", echo_deployment("tcp://0.0.0.0:*", "tcp://127.0.0.1:*",
                                       "tcp://127.0.0.1:*", 1));
    const auto refused = run(kBinDir / "digitpipe-broker", {"--config", config.string()});
    EXPECT_EQ(refused.exit, 2) << refused.output;
    EXPECT_THAT(refused.output, HasSubstr("broker.endpoint"));
    EXPECT_THAT(refused.output, HasSubstr("tcp://0.0.0.0:*"));
    EXPECT_THAT(refused.output, HasSubstr("digitpipe keys"));
    EXPECT_THAT(refused.output, HasSubstr("--insecure"));
    // The same refusal from every program that would use the link.
    const auto worker = run(kBinDir / "digitpipe-worker",
                            {"--config", config.string(), "--stage", "echo"});
    EXPECT_EQ(worker.exit, 2) << worker.output;
    EXPECT_THAT(worker.output, HasSubstr("broker.endpoint"));
    const auto up = run(kBinDir / "digitpipe", {"up", "--config", config.string()});
    EXPECT_EQ(up.exit, 2) << up.output;

    // With --insecure the operator takes the risk, and it starts.
    ts::Process insecure(kBinDir / "digitpipe-broker",
                         {"--config", config.string(), "--insecure"}, /*capture_stdout=*/true);
    const auto line = insecure.read_line(kStartTimeout);
    ASSERT_TRUE(line.has_value());
    EXPECT_THAT(*line, HasSubstr("endpoint=tcp://0.0.0.0:"));
}

class CurveDeploymentTest : public ::testing::Test {
 protected:
    void SetUp() override {
        for (const auto* name : {"hub", "worker", "client", "stranger"}) {
            const auto made =
                run(kBinDir / "digitpipe", {"keys", name, "--dir", (dir.path() / "keys").string()});
            ASSERT_EQ(made.exit, 0) << made.output;
        }
        ASSERT_TRUE(std::filesystem::create_directories(dir.path() / "keys/allowed"));
        for (const auto* name : {"worker", "client"}) {
            std::filesystem::copy_file(dir.path() / "keys" / (std::string(name) + ".pub"),
                                       dir.path() / "keys/allowed" / (std::string(name) + ".pub"));
        }
        const auto base = echo_deployment("tcp://127.0.0.1:*", "tcp://127.0.0.1:*",
                                          "tcp://127.0.0.1:*", 1);
        config = dir.write("deploy.yaml", base +
                                              "security:\n"
                                              "  key: keys/hub.key\n"
                                              "  broker_public_key: keys/hub.pub\n"
                                              "  allowed_clients: [keys/allowed]\n");
    }

    // --set flags that make a program of `who` (a key name) talk to the running broker.
    std::vector<std::string> as(const std::string& who, const BrokerProcess& broker) const {
        std::vector<std::string> args{"--config", config.string(), "--set",
                                      "security.key=keys/" + who + ".key"};
        for (const auto& o : broker.endpoint_overrides()) args.insert(args.end(), {"--set", o});
        return args;
    }

    ts::TempDir dir;
    std::filesystem::path config;
};

TEST_F(CurveDeploymentTest, ProgramsTalkOverCurveAndAStrangerGetsNoAnswer) {
    BrokerProcess broker(config);
    auto worker_args = as("worker", broker);
    worker_args.insert(worker_args.end(), {"--stage", "echo"});
    ts::Process worker(kBinDir / "digitpipe-worker", worker_args);

    auto request = as("client", broker);
    request.insert(request.begin(), {"request", "digitpipe.echo", "echo"});
    request.insert(request.end(), {"--header", "{\"text\": \"over curve\"}", "--timeout-ms", "3000"});
    CommandResult answered;
    ASSERT_TRUE(ts::wait_until(
        [&] {
            answered = run(kBinDir / "digitpipe", request);
            return answered.exit == 0;
        },
        kStartTimeout, 200ms))
        << answered.output;
    EXPECT_THAT(answered.output, HasSubstr("over curve"));

    auto stranger = as("stranger", broker);
    stranger.insert(stranger.begin(), {"request", "digitpipe.echo", "echo"});
    stranger.insert(stranger.end(), {"--timeout-ms", "1500"});
    const auto refused = run(kBinDir / "digitpipe", stranger);
    EXPECT_EQ(refused.exit, 1) << refused.output;
    EXPECT_THAT(refused.output, HasSubstr("no reply"));
    EXPECT_THAT(refused.output, ::testing::Not(HasSubstr("over curve")));

    // A plaintext client (no security block at all) gets nothing either.
    auto plaintext = std::vector<std::string>{"request", "digitpipe.echo", "echo",
                                              "--config",
                                              dir.write("plain.yaml",
                                                        echo_deployment(broker.endpoint,
                                                                        broker.events_in,
                                                                        broker.events_out, 1))
                                                  .string(),
                                              "--timeout-ms", "1500"};
    EXPECT_EQ(run(kBinDir / "digitpipe", plaintext).exit, 1);
    EXPECT_TRUE(worker.running());
}

TEST(UpOnlyTest, AnUnknownPartIsAUsageErrorNamingTheParts) {
    ts::TempDir dir;
    const auto config = dir.write("deploy.yaml",
                                  echo_deployment("ipc://" + dir.path().string() + "/b",
                                                  "ipc://" + dir.path().string() + "/i",
                                                  "ipc://" + dir.path().string() + "/o", 1));
    const auto result =
        run(kBinDir / "digitpipe", {"up", "--config", config.string(), "--only", "broker,nope"});
    EXPECT_EQ(result.exit, 2) << result.output;
    EXPECT_THAT(result.output, HasSubstr("no part 'nope'"));
    EXPECT_THAT(result.output, HasSubstr("broker, echo"));
}

}  // namespace
}  // namespace digitpipe::integration
