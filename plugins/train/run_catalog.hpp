// What the train stage can tell about runs and experiments on disk, for `train.runs`,
// `train.run` and `train.experiments` (the dashboard's run list, run detail and experiment
// picker). Reads only: the run folders the trainer writes (config.yaml, metrics.jsonl,
// result.json, model.safetensors) and the experiments folder. The job the stage is running
// now is overlaid by the stage itself; these functions know nothing of it.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace digitpipe::train {

// The file a finished, failed or cancelled job leaves in its run folder:
// {state, error?, result?}. A folder without it (and without a running job) was interrupted.
inline constexpr const char* kRunResultFile = "result.json";

// Writes `record` ({state, ...}) as run_dir/result.json (temporary file, then rename).
// Best-effort: returns false when it cannot write.
bool write_run_result(const std::filesystem::path& run_dir, const nlohmann::json& record);

// The web/API.md `Job` for one run folder: id, experiment, state (from result.json, else
// "interrupted"), created (config.yaml's time, UTC), epochs_planned, epochs_done,
// test_accuracy, result, error; with `with_epochs`, also `epochs` (the metrics.jsonl records).
// Unreadable parts come out null rather than failing the whole answer.
nlohmann::json describe_run(const std::filesystem::path& run_dir, bool with_epochs);

// describe_run (without epochs) of every run folder under runs_dir, newest first.
nlohmann::json list_runs(const std::filesystem::path& runs_dir);

// Every experiments_dir/*.yaml that parses, by name, with its main settings (the override keys
// the dashboard offers) and their values; files that do not parse are listed with `error`.
nlohmann::json list_experiments(const std::filesystem::path& experiments_dir,
                                const std::filesystem::path& models_dir);

}  // namespace digitpipe::train
