// The learning pipeline as a user runs it: `digitpipe train` starts broker, train, augment and
// evaluate stages in one process, trains on real MNIST (a slice, for speed) with batches
// streamed from two augment workers, and writes the run folder; `digitpipe eval` reproduces
// the run's test accuracy; a SIGKILLed training resumes with `--resume` to exactly the result
// of an uninterrupted run; bad experiments and bad model files are refused by name. A
// multi-process variant runs the same stages as separate workers under `digitpipe up`.
#include <signal.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "digitpipe/deployment.hpp"
#include "digitpipe/host.hpp"
#include "learning_support.hpp"

namespace digitpipe::integration {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class LearningTest : public ::testing::Test {
 protected:
    void SetUp() override {
        if (!std::filesystem::exists(kSource / "data/mnist/train-images-idx3-ubyte")) {
            GTEST_FAIL() << "MNIST missing under data/: run deploy/setup.sh (or deploy/test.sh)";
        }
    }
    // evaluation.json of an uninterrupted in-process run of `experiment`; null if it failed.
    nlohmann::json uninterrupted_evaluation(const std::filesystem::path& experiment) {
        const auto runs = dir.path() / "straight";
        const auto straight =
            digitpipe({"train", experiment.string(), "--config", deployment(runs).string()});
        EXPECT_EQ(straight.exit_code, 0) << straight.output;
        if (straight.exit_code != 0) return nullptr;
        return nlohmann::json::parse(slurp(only_run(runs) / "evaluation.json"));
    }
    std::filesystem::path deployment(const std::filesystem::path& runs) {
        return dir.write("pipeline.yaml", in_process_deployment(runs));
    }
    ts::TempDir dir;
};

TEST_F(LearningTest, TrainWritesTheRunFolderAndEvalReproducesIt) {
    const auto runs = dir.path() / "runs";
    const auto config = deployment(runs);
    const auto experiment = dir.write("itest.yaml", slice_experiment(2));
    const auto trained = digitpipe({"train", experiment.string(), "--config", config.string()});
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    EXPECT_NE(trained.output.find("epoch 2/2"), std::string::npos) << trained.output;
    EXPECT_NE(trained.output.find("finished: test accuracy"), std::string::npos);

    const auto run = only_run(runs);
    for (const auto* name : {"config.yaml", "metrics.jsonl", "checkpoint.safetensors",
                             "model.safetensors", "evaluation.json"}) {
        EXPECT_TRUE(std::filesystem::exists(run / name)) << name;
    }
    const auto evaluation = json::parse(slurp(run / "evaluation.json"));
    EXPECT_GT(evaluation["accuracy"].get<double>(), 0.8)
        << "2 epochs of 6,400 images: far above chance";
    EXPECT_EQ(evaluation["confusion"].size(), 10u);

    const auto evaluated = digitpipe(
        {"eval", (run / "model.safetensors").string(), "--config", config.string(), "--json"});
    ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
    const auto reply = json_in(evaluated.output);
    EXPECT_EQ(reply["correct"], evaluation["correct"]);
    EXPECT_EQ(reply["confusion"], evaluation["confusion"]);
    EXPECT_EQ(reply["classes"].size(), 10u);

    const auto table =
        digitpipe({"eval", (run / "model.safetensors").string(), "--config", config.string()});
    ASSERT_EQ(table.exit_code, 0) << table.output;
    EXPECT_NE(table.output.find("confusion matrix"), std::string::npos) << table.output;
    EXPECT_NE(table.output.find("precision"), std::string::npos);
}

TEST_F(LearningTest, KilledTrainingResumesToTheUninterruptedResult) {
    const auto experiment = dir.write("itest.yaml", slice_experiment(4));
    const auto expected = uninterrupted_evaluation(experiment);
    ASSERT_FALSE(expected.is_null());

    const auto runs = dir.path() / "killed";
    const auto config = dir.write("killed.yaml", in_process_deployment(runs));
    {
        ts::Process training(kBinDir / "digitpipe",
                             {"train", experiment.string(), "--config", config.string()});
        ASSERT_TRUE(wait_for_first_checkpoint(runs));
        training.signal(SIGKILL);
        training.wait_for(10s);
    }
    const auto run = only_run(runs);
    ASSERT_FALSE(std::filesystem::exists(run / "model.safetensors"))
        << "the run finished before it was killed; the test proves nothing";
    const auto resumed =
        digitpipe({"train", "--resume", run.filename().string(), "--config", config.string()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("resumed"), std::string::npos) << resumed.output;
    const auto actual = json::parse(slurp(run / "evaluation.json"));
    EXPECT_EQ(actual["correct"], expected["correct"]);
    EXPECT_EQ(actual["confusion"], expected["confusion"]);
    EXPECT_DOUBLE_EQ(actual["loss"].get<double>(), expected["loss"].get<double>());
}

// Ctrl-C cancels the run after its current step (the in-process broker and stages stay up
// until it has), says how to resume, and --resume finishes the run.
TEST_F(LearningTest, InterruptCancelsTheRunAndResumeFinishesIt) {
    const auto experiment = dir.write("itest.yaml", slice_experiment(3));
    const auto runs = dir.path() / "runs";
    const auto config = deployment(runs);
    auto training = start_training(experiment, config);
    ASSERT_TRUE(wait_for_first_checkpoint(runs));
    training->signal(SIGINT);
    std::string output;
    while (auto line = training->read_line(120s)) output += *line + "\n";
    const auto run = only_run(runs);
    if (std::filesystem::exists(run / "model.safetensors")) {
        GTEST_SKIP() << "the run finished before the signal arrived";
    }
    EXPECT_EQ(training->wait_for(10s), 130) << output;
    EXPECT_NE(output.find("cancelled"), std::string::npos) << output;
    EXPECT_NE(output.find("digitpipe train --resume " + run.filename().string()), std::string::npos)
        << output;
    const auto resumed =
        digitpipe({"train", "--resume", run.filename().string(), "--config", config.string()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    std::ifstream metrics(run / "metrics.jsonl");
    int lines = 0;
    for (std::string line; std::getline(metrics, line);) ++lines;
    EXPECT_EQ(lines, 3);
}

// The dashboard starts runs by experiment name: the train stage reads
// paths.experiments/<name>.yaml, refuses names that are not plain, and says which are missing.
// It lists experiments with their main settings, and runs (live and past) as Jobs.
TEST_F(LearningTest, TrainStageStartsExperimentsByName) {
    const auto experiments = dir.path() / "experiments";
    std::filesystem::create_directories(experiments);
    std::ofstream(experiments / "tiny.yaml") << slice_experiment(1);
    std::ofstream(experiments / "broken.yaml") << "name: broken\ntraining: {epochs: -1}\n";
    const auto file = dir.write(
        "stage.yaml",
        "broker:\n  endpoint: inproc://unused\n"
        "stages:\n  train: {plugin: train, params: {augmentation: local}}\n" +
            paths_block(dir.path() / "runs") + "  experiments: " + experiments.string() + "\n");
    zmq::context_t context(1);
    const auto deployment = fw::load_deployment(file);
    fw::StageHost host(context, deployment, "train", {{DIGITPIPE_PLUGIN_DIR}, false});
    const auto call = [&](const std::string& verb, json header) {
        fw::Request request;
        request.verb = verb;
        request.correlation_id = fw::make_correlation_id();
        request.header = std::move(header);
        return fw::decode_reply(host.handle(fw::encode_request(request)))->reply;
    };
    const auto listed = call("train.experiments", json::object()).header["experiments"];
    ASSERT_EQ(listed.size(), 2u) << listed.dump();
    EXPECT_EQ(listed[0]["name"], "broken");
    EXPECT_NE(listed[0]["error"].get<std::string>().find("epochs"), std::string::npos);
    EXPECT_EQ(listed[1]["name"], "tiny");
    EXPECT_EQ(listed[1]["model"], "quick");
    EXPECT_EQ(listed[1]["settings"]["training.epochs"], 1);
    EXPECT_EQ(listed[1]["settings"]["data.limit"], 6400);
    EXPECT_EQ(listed[1]["settings"]["optimizer.lr"], 0.002);
    EXPECT_EQ(listed[1]["settings"]["augmentation.enabled"], true);
    EXPECT_EQ(call("train.runs", json::object()).header["jobs"], json::array());

    EXPECT_EQ(call("train.start", {{"experiment_name", "nope"}}).status.code(),
              fw::StatusCode::kNotFound);
    EXPECT_EQ(call("train.start", {{"experiment_name", "../tiny"}}).status.code(),
              fw::StatusCode::kInvalidArgument);
    const auto started = call(
        "train.start", {{"experiment_name", "tiny"}, {"overrides", {"training.batch_size=128"}}});
    ASSERT_TRUE(started.status.is_ok()) << started.status.message();
    EXPECT_TRUE(started.header["run"].get<std::string>().starts_with("itest-"));
    const auto run = started.header["run"].get<std::string>();
    EXPECT_EQ(started.header["id"], run);
    EXPECT_EQ(started.header["state"], "running");
    EXPECT_EQ(started.header["epochs_planned"], 1);
    EXPECT_EQ(call("train.start", {{"experiment_name", "tiny"}}).status.code(),
              fw::StatusCode::kFailedPrecondition)
        << "one run at a time";
    const auto jobs = call("train.runs", json::object()).header["jobs"];
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0]["id"], run);
    EXPECT_EQ(jobs[0]["experiment"], "itest");
    EXPECT_EQ(call("train.cancel", {{"run", "nope"}}).status.code(), fw::StatusCode::kNotFound);
    EXPECT_EQ(call("train.cancel", {{"run", "../x"}}).status.code(),
              fw::StatusCode::kInvalidArgument);
    EXPECT_EQ(call("train.run", {{"run", "nope"}}).status.code(), fw::StatusCode::kNotFound);
    json status;
    ASSERT_TRUE(ts::wait_until(
        [&] {
            status = call("train.status", json::object()).header;
            return status["state"] != "running";
        },
        300s, 200ms));
    EXPECT_EQ(status["state"], "finished") << status.dump();
    EXPECT_GT(status["result"]["test_accuracy"].get<double>(), 0.7);
    // The finished run as the dashboard lists it, and in detail with its epoch records.
    const auto finished = call("train.runs", json::object()).header["jobs"][0];
    EXPECT_EQ(finished["state"], "finished") << finished.dump();
    EXPECT_EQ(finished["epochs_done"], 1);
    EXPECT_EQ(finished["test_accuracy"], status["result"]["test_accuracy"]);
    const auto detail = call("train.run", {{"run", run}});
    ASSERT_TRUE(detail.status.is_ok()) << detail.status.message();
    ASSERT_EQ(detail.header["epochs"].size(), 1u);
    EXPECT_TRUE(detail.header["epochs"][0].contains("test_loss"));
    EXPECT_EQ(call("train.cancel", {{"run", run}}).status.code(),
              fw::StatusCode::kFailedPrecondition)
        << "a finished run cannot be cancelled";
    // A run folder left without a result (its worker died) reads as interrupted.
    std::filesystem::remove(dir.path() / "runs" / run / "result.json");
    EXPECT_EQ(call("train.run", {{"run", run}}).header["state"], "interrupted");
}

TEST_F(LearningTest, BadExperimentsAndModelsAreRefusedByName) {
    const auto runs = dir.path() / "runs";
    const auto config = deployment(runs);
    const auto experiment = dir.write("itest.yaml", slice_experiment(1));
    const auto bad = digitpipe({"train", experiment.string(), "--config", config.string(), "--set",
                                "training.epochs=0", "--set", "optimizer.typo=1"});
    EXPECT_EQ(bad.exit_code, 2) << bad.output;
    EXPECT_NE(bad.output.find("training.epochs: must be >= 1"), std::string::npos) << bad.output;
    EXPECT_NE(bad.output.find("typo"), std::string::npos) << bad.output;

    const auto missing =
        digitpipe({"train", "--resume", "no-such-run", "--config", config.string()});
    EXPECT_EQ(missing.exit_code, 2) << missing.output;
    EXPECT_NE(missing.output.find("no run 'no-such-run'"), std::string::npos) << missing.output;

    const auto garbage = dir.write("garbage.safetensors", "this is not a model");
    const auto refused = digitpipe({"eval", garbage.string(), "--config", config.string()});
    EXPECT_EQ(refused.exit_code, 2) << refused.output;
    EXPECT_NE(refused.output.find("garbage.safetensors"), std::string::npos) << refused.output;
}

// The same stages as separate processes: one train worker and two augment workers under
// `digitpipe up`, reached with `digitpipe train --config`. The train worker is SIGKILLed
// mid-run; `digitpipe up` restarts it, `digitpipe train` resumes the run from its checkpoint,
// and the result equals an uninterrupted in-process run of the same experiment.
TEST_F(LearningTest, TrainWorkerCrashAcrossProcessesResumesToTheSameResult) {
    const auto experiment = dir.write("itest.yaml", slice_experiment(3));
    const auto expected = uninterrupted_evaluation(experiment);
    ASSERT_FALSE(expected.is_null());

    const auto runs = dir.path() / "runs";
    const auto p = dir.path().string();
    const auto config = dir.write(
        "deploy.yaml",
        "broker:\n  endpoint: ipc://" + p + "/broker\n  events_in: ipc://" + p +
            "/ev-in\n  events_out: ipc://" + p +
            "/ev-out\n"
            "stages:\n  train: {plugin: train}\n  augment: {plugin: augment, replicas: 2}\n"
            "streams:\n  augmented: {endpoint: 'ipc://" +
            p +
            "/augmented', hwm: 4}\n"
            "supervisor: {restart_backoff_ms: 100}\n" +
            paths_block(runs));
    ts::Process up(kBinDir / "digitpipe", {"up", "--config", config.string()});
    auto training = start_training(experiment, config);
    ASSERT_TRUE(wait_for_first_checkpoint(runs));
    const int train_worker = worker_pid(up.pid(), "train");
    ASSERT_GT(train_worker, 0);
    ASSERT_EQ(::kill(train_worker, SIGKILL), 0);
    std::string output;
    while (auto line = training->read_line(300s)) output += *line + "\n";
    ASSERT_EQ(training->wait_for(10s), 0) << output;
    EXPECT_NE(output.find("resuming"), std::string::npos) << output;
    const auto actual = json::parse(slurp(only_run(runs) / "evaluation.json"));
    EXPECT_EQ(actual["correct"], expected["correct"]) << output;
    EXPECT_EQ(actual["confusion"], expected["confusion"]);
    up.signal(SIGTERM);
    EXPECT_EQ(up.wait_for(20s), 0);
}

}  // namespace
}  // namespace digitpipe::integration
