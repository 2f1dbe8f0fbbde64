// Unit tests of load_deployment (framework/src/config/deployment.cpp): defaults, stage services,
// relative paths, streams, broker limits, and that every problem of a deployment comes in one
// ConfigError with its position and key path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "config_test_util.hpp"
#include "digitpipe/deployment.hpp"
#include "digitpipe/mdp.hpp"

namespace digitpipe::framework {
namespace {

using testing::config_error_of;
using ::testing::ElementsAre;
using testing::finish_problems;
using ::testing::HasSubstr;
using testing::paths_of;
using testing::problem_at;
using testing::TempDir;

using std::chrono::milliseconds;

constexpr const char* kMinimal =
    "broker:\n"
    "  endpoint: tcp://127.0.0.1:5555\n"
    "stages:\n"
    "  echo:\n"
    "    plugin: echo\n";

// The problems of loading `text` as a deployment; fails the test when it loads cleanly.
std::vector<ConfigProblem> deployment_problems(const TempDir& dir, const char* text,
                                               const std::vector<std::string>& overrides = {}) {
    const auto file = dir.write("deploy.yaml", text);
    return config_error_of([&] { load_deployment(file, overrides); }).problems();
}

TEST(DeploymentTest, MinimalDeploymentGetsTheDefaults) {
    TempDir dir;
    const auto file = dir.write("deploy.yaml", kMinimal);
    const DeploymentConfig d = load_deployment(file);

    EXPECT_EQ(d.file, file);
    EXPECT_EQ(d.broker.endpoint, "tcp://127.0.0.1:5555");
    EXPECT_EQ(d.broker.events_in, "");
    EXPECT_EQ(d.broker.events_out, "");
    EXPECT_EQ(d.broker.heartbeat, milliseconds(1000));
    EXPECT_EQ(d.broker.liveness, 3);
    EXPECT_EQ(d.broker.max_message_bytes, 16u << 20);
    EXPECT_EQ(d.supervisor.restart_backoff, milliseconds(500));
    EXPECT_EQ(d.supervisor.restart_backoff_max, milliseconds(10000));
    EXPECT_EQ(d.supervisor.stop_grace, milliseconds(5000));
    EXPECT_FALSE(d.gateway.has_value());
    EXPECT_TRUE(d.streams.empty());
    EXPECT_TRUE(d.paths.empty());

    ASSERT_EQ(d.stages.size(), 1u);
    const StageConfig& echo = d.stages.at("echo");
    EXPECT_EQ(echo.name, "echo");
    EXPECT_EQ(echo.plugin, "echo");
    EXPECT_EQ(echo.service, "digitpipe.echo");
    EXPECT_EQ(echo.replicas, 1);
    EXPECT_TRUE(echo.params.is_map());
    EXPECT_TRUE(echo.params.keys().empty());
    EXPECT_EQ(echo.params.path(), "stages.echo.params");
    EXPECT_THAT(d.root.dump(), HasSubstr("plugin: echo"));
}

TEST(DeploymentTest, FullDeploymentIsRead) {
    TempDir dir;
    const auto file = dir.write("configs/deploy.yaml",
                                "broker:\n"
                                "  endpoint: ipc://@digitpipe-broker\n"
                                "  events_in: inproc://events-in\n"
                                "  events_out: inproc://events-out\n"
                                "  heartbeat_ms: 250\n"
                                "  liveness: 5\n"
                                "  max_message_bytes: 4096\n"
                                "stages:\n"
                                "  train:\n"
                                "    plugin: train\n"
                                "    service: digitpipe.trainer\n"
                                "    replicas: 0\n"
                                "    params:\n"
                                "      learning_rate: 0.001\n"
                                "streams:\n"
                                "  augmented: {endpoint: ipc://@augmented, hwm: 16, bind: writer}\n"
                                "  plain: {endpoint: 'tcp://127.0.0.1:*'}\n"
                                "paths: {data: ../data, models: /opt/models, runs: runs/./x}\n"
                                "gateway: {listen: 127.0.0.1:8080, anything: [1, 2]}\n"
                                "supervisor:\n"
                                "  restart_backoff_ms: 100\n"
                                "  restart_backoff_max_ms: 2000\n"
                                "  stop_grace_ms: 0\n");
    const DeploymentConfig d = load_deployment(file);

    EXPECT_EQ(d.broker.endpoint, "ipc://@digitpipe-broker");
    EXPECT_EQ(d.broker.events_in, "inproc://events-in");
    EXPECT_EQ(d.broker.events_out, "inproc://events-out");
    EXPECT_EQ(d.broker.heartbeat, milliseconds(250));
    EXPECT_EQ(d.broker.liveness, 5);
    EXPECT_EQ(d.broker.max_message_bytes, 4096u);

    const StageConfig& train = d.stages.at("train");
    EXPECT_EQ(train.service, "digitpipe.trainer");
    EXPECT_EQ(train.replicas, 0);
    EXPECT_DOUBLE_EQ(train.params.get<double>("learning_rate"), 0.001);
    EXPECT_NO_THROW(train.params.finish());

    ASSERT_EQ(d.streams.size(), 2u);
    EXPECT_EQ(d.streams.at("augmented").endpoint, "ipc://@augmented");
    EXPECT_EQ(d.streams.at("augmented").hwm, 16);
    EXPECT_FALSE(d.streams.at("augmented").reader_binds);
    EXPECT_EQ(d.streams.at("plain").hwm, 8);
    EXPECT_TRUE(d.streams.at("plain").reader_binds);

    ASSERT_TRUE(d.gateway.has_value());
    EXPECT_EQ(d.gateway->get<std::string>("listen"), "127.0.0.1:8080");
    EXPECT_EQ(d.gateway->path(), "gateway");

    EXPECT_EQ(d.supervisor.restart_backoff, milliseconds(100));
    EXPECT_EQ(d.supervisor.restart_backoff_max, milliseconds(2000));
    EXPECT_EQ(d.supervisor.stop_grace, milliseconds(0));
}

TEST(DeploymentTest, RelativePathsAreResolvedAgainstTheFilesFolder) {
    TempDir dir;
    const auto file = dir.write(
        "configs/deploy.yaml",
        std::string(kMinimal) + "paths: {data: ../data, models: /opt/models, runs: runs/./x}\n");
    const DeploymentConfig d = load_deployment(file);
    ASSERT_EQ(d.paths.size(), 3u);
    EXPECT_EQ(d.paths.at("data"), (dir.path() / "data").lexically_normal());
    EXPECT_EQ(d.paths.at("models"), std::filesystem::path("/opt/models"));
    EXPECT_EQ(d.paths.at("runs"), (dir.path() / "configs" / "runs" / "x").lexically_normal());
    for (const auto& [name, path] : d.paths) {
        EXPECT_TRUE(path.is_absolute()) << name;
    }
}

TEST(DeploymentTest, TwoStagesMayNotShareAService) {
    TempDir dir;
    const auto problems = deployment_problems(dir,
                                              "broker: {endpoint: tcp://127.0.0.1:5555}\n"
                                              "stages:\n"
                                              "  echo:\n"
                                              "    plugin: echo\n"
                                              "  echo2:\n"
                                              "    plugin: echo\n"
                                              "    service: digitpipe.echo\n");
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].line, 7);
    EXPECT_EQ(problems[0].column, 14);
    EXPECT_EQ(problems[0].path, "stages.echo2.service");
    EXPECT_THAT(problems[0].message,
                HasSubstr("service 'digitpipe.echo' is already used by stage 'echo'"));
}

TEST(DeploymentTest, DefaultServiceCountsAsUsed) {
    TempDir dir;
    const auto problems = deployment_problems(dir,
                                              "broker: {endpoint: tcp://127.0.0.1:5555}\n"
                                              "stages:\n"
                                              "  a: {plugin: a, service: digitpipe.b}\n"
                                              "  b: {plugin: b}\n");
    EXPECT_THAT(paths_of(problems), ElementsAre("stages.b.service"));
}

TEST(DeploymentTest, StreamProblemsAreReportedTogether) {
    TempDir dir;
    const auto problems = deployment_problems(dir,
                                              "broker: {endpoint: tcp://127.0.0.1:5555}\n"
                                              "streams:\n"
                                              "  a: {hwm: 0, bind: both}\n"
                                              "  b: {endpoint: 'udp://127.0.0.1:1'}\n"
                                              "  c: {endpoint: tcp://127.0.0.1:5555}\n");
    EXPECT_THAT(paths_of(problems), ElementsAre("streams.a", "streams.a.hwm", "streams.a.bind",
                                                "streams.b.endpoint", "streams.c.endpoint"));
    EXPECT_EQ(problems[0].message, "missing required key 'endpoint'");
    EXPECT_EQ(problems[1].message, "must be >= 1, got 0");
    EXPECT_EQ(problems[2].message, "expected 'reader' or 'writer', got 'both'");
    EXPECT_THAT(problems[3].message, HasSubstr("inproc://, ipc:// or tcp://"));
    EXPECT_THAT(problems[4].message, HasSubstr("already used by broker.endpoint"));
}

TEST(DeploymentTest, BrokerProblemsAndUnknownKeysAreReportedTogether) {
    TempDir dir;
    const auto file = dir.write("deploy.yaml",
                                "broker:\n"
                                "  endpoint: localhost:5555\n"
                                "  events_in: tcp://127.0.0.1:5556\n"
                                "  heartbeat_ms: 0\n"
                                "  liveness: 0\n"
                                "  max_message_bytes: 100\n"
                                "  heartbeat: 5\n"
                                "extra: 1\n");
    const ConfigError error = config_error_of([&] { load_deployment(file); });
    const auto& problems = error.problems();
    EXPECT_THAT(paths_of(problems),
                ElementsAre("broker.endpoint", "broker.events_in", "broker.heartbeat_ms",
                            "broker.liveness", "broker.max_message_bytes", "broker", ""));
    EXPECT_EQ(problems[0].to_string(),
              file.string() +
                  ":2:13: broker.endpoint: expected an endpoint starting with inproc://, ipc:// "
                  "or tcp://, got 'localhost:5555'");
    EXPECT_THAT(problems[1].message, HasSubstr("events_out is missing"));
    EXPECT_EQ(problems[4].message, "must be >= 1024, got 100");
    EXPECT_EQ(problems[5].to_string(), file.string() + ":7:3: broker: unknown key 'heartbeat'");
    EXPECT_EQ(problems[6].to_string(), file.string() + ":8:1: unknown key 'extra'");
}

TEST(DeploymentTest, MissingBrokerIsOneProblem) {
    TempDir dir;
    const auto problems = deployment_problems(dir, "stages: {}\n");
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].message, "missing required key 'broker'");
}

TEST(DeploymentTest, StageProblemsAreReportedTogether) {
    TempDir dir;
    const auto problems = deployment_problems(dir,
                                              "broker: {endpoint: tcp://127.0.0.1:5555}\n"
                                              "stages:\n"
                                              "  a: {plugin: Echo}\n"
                                              "  b: {plugin: b, replicas: 65}\n"
                                              "  c: {plugin: c, params: [1]}\n"
                                              "  d: {replicas: 2, plugn: d}\n"
                                              "  Bad-Name: {plugin: x}\n"
                                              "  e: echo\n");
    EXPECT_THAT(paths_of(problems),
                ElementsAre("stages.a.plugin", "stages.b.replicas", "stages.c.params", "stages.d",
                            "stages.d", "stages.Bad-Name", "stages.e"));
    EXPECT_EQ(problems[1].line, 4);
    EXPECT_EQ(problems[1].column, 28);
    EXPECT_EQ(problems[1].message, "must be in 0..64, got 65");
    EXPECT_EQ(problems[3].message, "missing required key 'plugin'");
    EXPECT_EQ(problems[4].message, "unknown key 'plugn'");
}

TEST(DeploymentTest, ParamsAreLeftToTheStage) {
    TempDir dir;
    const auto file = dir.write("deploy.yaml",
                                "broker: {endpoint: tcp://127.0.0.1:5555}\n"
                                "stages:\n"
                                "  train:\n"
                                "    plugin: train\n"
                                "    params:\n"
                                "      learning_rate: 0.1\n"
                                "gateway:\n"
                                "  listen: 0.0.0.0:8080\n");
    const DeploymentConfig d = load_deployment(file);
    const ConfigNode& params = d.stages.at("train").params;
    const auto problems = finish_problems(params);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(),
              file.string() + ":6:7: stages.train.params: unknown key 'learning_rate'");
    // The stage's own missing keys point at its block.
    params.get<int>("epochs");
    const auto again = finish_problems(params);
    ASSERT_TRUE(problem_at(again, "stages.train.params").has_value());
    EXPECT_THAT(paths_of(again), ElementsAre("stages.train.params", "stages.train.params"));
}

TEST(DeploymentTest, OverridesApplyAndNameThemselvesInProblems) {
    TempDir dir;
    const auto file = dir.write("deploy.yaml", kMinimal);
    const DeploymentConfig d =
        load_deployment(file, {"broker.endpoint=tcp://127.0.0.1:6000", "stages.echo.replicas=3",
                               "stages.extra.plugin=echo"});
    EXPECT_EQ(d.broker.endpoint, "tcp://127.0.0.1:6000");
    EXPECT_EQ(d.stages.at("echo").replicas, 3);
    EXPECT_EQ(d.stages.at("extra").service, "digitpipe.extra");

    const auto problems = deployment_problems(dir, kMinimal, {"stages.echo.replicas=100"});
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(),
              "--set stages.echo.replicas=100: stages.echo.replicas: must be in 0..64, got 100");
}

TEST(DeploymentTest, PrefetchDefaultsToOneAndIsBoundedLikeTheWorkers) {
    TempDir dir;
    const auto file = dir.write("deploy.yaml", kMinimal);
    EXPECT_EQ(load_deployment(file).stages.at("echo").prefetch, 1);
    // The bound is WorkerOptions' (kMaxPrefetch): a valid deployment never fails in the worker.
    const std::string max = std::to_string(kMaxPrefetch);
    EXPECT_EQ(load_deployment(file, {"stages.echo.prefetch=" + max}).stages.at("echo").prefetch,
              kMaxPrefetch);

    const auto problems = deployment_problems(dir,
                                              "broker: {endpoint: tcp://127.0.0.1:5555}\n"
                                              "stages:\n"
                                              "  a: {plugin: a, prefetch: 0}\n"
                                              "  b: {plugin: b, prefetch: 1025}\n"
                                              "  c: {plugin: c, prefetch: many}\n"
                                              "  d: {plugin: d, prefetch: 16}\n");
    EXPECT_THAT(paths_of(problems),
                ElementsAre("stages.a.prefetch", "stages.b.prefetch", "stages.c.prefetch"));
    EXPECT_EQ(problems[0].message, "must be in 1.." + max + ", got 0");
    EXPECT_EQ(problems[1].message, "must be in 1.." + max + ", got 1025");
    EXPECT_EQ(problems[1].line, 4);
}

TEST(DeploymentTest, BatchIsOffByDefaultAndBoundedByThePrefetchCredit) {
    TempDir dir;
    const auto file = dir.write("deploy.yaml", kMinimal);
    const auto plain = load_deployment(file).stages.at("echo");
    EXPECT_EQ(plain.batch_max_size, 1);
    EXPECT_EQ(plain.batch_max_wait, std::chrono::microseconds(0));
    const auto batched =
        load_deployment(file, {"stages.echo.prefetch=16", "stages.echo.batch.max_size=8",
                               "stages.echo.batch.max_wait_ms=1.5"})
            .stages.at("echo");
    EXPECT_EQ(batched.batch_max_size, 8);
    EXPECT_EQ(batched.batch_max_wait, std::chrono::microseconds(1500));

    const auto problems =
        deployment_problems(dir,
                            "broker: {endpoint: tcp://127.0.0.1:5555}\n"
                            "stages:\n"
                            "  a: {plugin: a, prefetch: 4, batch: {max_size: 5}}\n"
                            "  b: {plugin: b, batch: {max_wait_ms: -1}}\n"
                            "  c: {plugin: c, batch: {size: 2}}\n"
                            "  d: {plugin: d, batch: 3}\n");
    EXPECT_THAT(paths_of(problems),
                ElementsAre("stages.a.batch.max_size", "stages.b.batch.max_wait_ms",
                            "stages.c.batch", "stages.d.batch"));
    EXPECT_THAT(problems[0].message, HasSubstr("must be in 1..prefetch (4)"));
    EXPECT_THAT(problems[2].message, HasSubstr("size"));
}

TEST(DeploymentTest, StageEnvironmentIsAMapOfVariableNamesToStrings) {
    TempDir dir;
    const auto file = dir.write("deploy.yaml", kMinimal);
    EXPECT_TRUE(load_deployment(file).stages.at("echo").env.empty());
    const auto set = load_deployment(file, {"stages.echo.env.OMP_NUM_THREADS=1"});
    EXPECT_EQ(set.stages.at("echo").env,
              (std::map<std::string, std::string>{{"OMP_NUM_THREADS", "1"}}));

    const auto problems = deployment_problems(dir,
                                              "broker: {endpoint: tcp://127.0.0.1:5555}\n"
                                              "stages:\n"
                                              "  a: {plugin: a, env: {omp: 1}}\n"
                                              "  b: {plugin: b, env: [X]}\n");
    EXPECT_THAT(paths_of(problems), ElementsAre("stages.a.env.omp", "stages.b.env"));
}

TEST(DeploymentTest, UnreadableDeploymentNamesTheFile) {
    TempDir dir;
    const auto missing = dir.path() / "nope.yaml";
    const ConfigError error = config_error_of([&] { load_deployment(missing); });
    EXPECT_THAT(error.what(), HasSubstr(missing.string()));
    EXPECT_THAT(error.what(), HasSubstr("No such file or directory"));
}

}  // namespace
}  // namespace digitpipe::framework
