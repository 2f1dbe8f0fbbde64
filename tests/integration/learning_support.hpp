// Helpers for tests that run the learning pipeline through the `digitpipe` command: temporary
// deployments with absolute paths into the source tree, experiments on a slice of real MNIST,
// and running the command to completion with its output captured.
#pragma once

#include <fstream>
#include <iterator>
#include <sstream>

#include <gtest/gtest.h>

#include "cluster.hpp"

namespace digitpipe::integration {

using namespace std::chrono_literals;

inline const std::filesystem::path kSource = DIGITPIPE_SOURCE_DIR;

inline std::string paths_block(const std::filesystem::path& runs) {
    return "paths:\n  plugins: " + std::string(DIGITPIPE_PLUGIN_DIR) +
           "\n  data: " + (kSource / "data").string() +
           "\n  models: " + (kSource / "models").string() + "\n  runs: " + runs.string() + "\n";
}

inline std::string in_process_deployment(const std::filesystem::path& runs) {
    return "broker:\n  endpoint: inproc://broker\n  events_in: inproc://events-in\n"
           "  events_out: inproc://events-out\n"
           "stages:\n  train: {plugin: train}\n  augment: {plugin: augment, replicas: 2}\n"
           "  evaluate: {plugin: evaluate}\n"
           "streams:\n  augmented: {endpoint: inproc://augmented, hwm: 4}\n" +
           paths_block(runs);
}

// Real MNIST, 6,400 training images, augmented: enough to learn, seconds per epoch.
inline std::string slice_experiment(int epochs) {
    return "name: itest\nseed: 3\nmodel: quick\n"
           "data: {dataset: mnist, limit: 6400}\n"
           "augmentation: {enabled: true}\n"
           "training: {epochs: " +
           std::to_string(epochs) +
           ", batch_size: 64, precision: fp32}\n"
           "optimizer: {type: adam, lr: 0.002}\n";
}

inline std::string slurp(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

struct Outcome {
    int exit_code = -1;
    std::string output;  // stdout and stderr
};

// Runs `digitpipe ARGS` to completion with stderr folded into the captured stdout.
inline Outcome digitpipe(const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = 300s) {
    std::string command = "exec " + (kBinDir / "digitpipe").string();
    for (const auto& a : args) command += " '" + a + "'";
    command += " 2>&1";
    ts::Process process("/bin/sh", {"-c", command}, true);
    Outcome out;
    while (auto line = process.read_line(timeout)) out.output += *line + "\n";
    const auto code = process.wait_for(10s);
    out.exit_code = code.value_or(-999);
    return out;
}

// Starts `digitpipe train EXPERIMENT --config CONFIG` with stderr folded into the captured
// stdout, for tests that signal it or its deployment while it runs.
inline std::unique_ptr<ts::Process> start_training(const std::filesystem::path& experiment,
                                                   const std::filesystem::path& config) {
    return std::make_unique<ts::Process>(
        "/bin/sh",
        std::vector<std::string>{"-c", "exec " + (kBinDir / "digitpipe").string() + " train '" +
                                           experiment.string() + "' --config '" + config.string() +
                                           "' 2>&1"},
        true);
}

// The JSON object in `output` (what `digitpipe eval --json` printed among other lines).
inline nlohmann::json json_in(const std::string& output) {
    const auto begin = output.find("{\n");
    const auto end = output.rfind("\n}");
    if (begin == std::string::npos || end == std::string::npos) return nullptr;
    return nlohmann::json::parse(output.substr(begin, end + 2 - begin));
}

// The pid of the child of `parent` started as `digitpipe-worker ... --stage <stage>`, or 0.
inline int worker_pid(int parent, const std::string& stage) {
    for (const int pid : children_of(parent)) {
        std::ifstream cmdline_file("/proc/" + std::to_string(pid) + "/cmdline");
        const std::string cmdline((std::istreambuf_iterator<char>(cmdline_file)),
                                  std::istreambuf_iterator<char>());
        if (cmdline.find(std::string("--stage\0", 8) + stage + '\0') != std::string::npos) {
            return pid;
        }
    }
    return 0;
}

// The single run folder under `runs`.
inline std::filesystem::path only_run(const std::filesystem::path& runs) {
    std::vector<std::filesystem::path> found;
    for (const auto& entry : std::filesystem::directory_iterator(runs))
        found.push_back(entry.path());
    EXPECT_EQ(found.size(), 1u);
    return found.empty() ? std::filesystem::path() : found.front();
}

// Waits until the one run under `runs` has written its first checkpoint (an epoch ended).
inline bool wait_for_first_checkpoint(const std::filesystem::path& runs) {
    return ts::wait_until(
        [&] {
            return std::filesystem::exists(runs) && !std::filesystem::is_empty(runs) &&
                   std::filesystem::exists(only_run(runs) / "checkpoint.safetensors");
        },
        300s);
}

}  // namespace digitpipe::integration
