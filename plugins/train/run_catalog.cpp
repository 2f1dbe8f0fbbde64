// Run folders and experiment files as the dashboard sees them (run_catalog.hpp).
#include "run_catalog.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <system_error>
#include <vector>

#include "digitpipe/config.hpp"
#include "digitpipe/training/experiment.hpp"

namespace digitpipe::train {
namespace {

namespace fs = std::filesystem;

// The settings the dashboard offers to change, as experiment key paths.
constexpr const char* kSettingKeys[] = {
    "training.epochs",     "training.batch_size", "optimizer.lr", "data.limit", "seed",
    "augmentation.enabled"};

std::string iso_time(fs::file_time_type time) {
    const auto system = std::chrono::file_clock::to_sys(time);
    const std::time_t t = std::chrono::system_clock::to_time_t(
        std::chrono::time_point_cast<std::chrono::system_clock::duration>(system));
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

// 0.003f as 0.003, not 0.0030000000260770321: the value a person typed.
double shortest(float value) {
    char text[32];
    const auto end = std::to_chars(text, text + sizeof text, value).ptr;
    return std::strtod(std::string(text, end).c_str(), nullptr);
}

nlohmann::json read_json_file(const fs::path& file) {
    std::ifstream in(file);
    if (!in) return nullptr;
    return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

std::vector<nlohmann::json> read_epochs(const fs::path& file) {
    std::vector<nlohmann::json> epochs;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (record.is_object()) epochs.push_back(std::move(record));
    }
    return epochs;
}

}  // namespace

bool write_run_result(const fs::path& run_dir, const nlohmann::json& record) {
    const auto file = run_dir / kRunResultFile;
    const auto temporary = run_dir / (std::string(kRunResultFile) + ".tmp");
    {
        std::ofstream out(temporary);
        out << record.dump(2) << "\n";
        if (!out) return false;
    }
    std::error_code error;
    fs::rename(temporary, file, error);
    return !error;
}

nlohmann::json describe_run(const fs::path& run_dir, bool with_epochs) {
    nlohmann::json job{{"id", run_dir.filename().string()},
                       {"experiment", nullptr},
                       {"state", "interrupted"},
                       {"created", nullptr},
                       {"epochs_planned", nullptr},
                       {"epochs_done", 0},
                       {"test_accuracy", nullptr}};
    const auto config = run_dir / "config.yaml";
    std::error_code error;
    const auto written = fs::last_write_time(config, error);
    if (!error) job["created"] = iso_time(written);
    try {
        const auto node = framework::ConfigNode::load_file(config);
        job["experiment"] = node.get_or<std::string>("name", "");
        job["epochs_planned"] = node.child_or_empty("training").get_or<std::int64_t>("epochs", 1);
    } catch (const std::exception&) {
        // A damaged config.yaml leaves those fields null; the rest is still worth showing.
    }
    const auto epochs = read_epochs(run_dir / "metrics.jsonl");
    job["epochs_done"] = epochs.size();
    if (!epochs.empty() && epochs.back().contains("test_accuracy")) {
        job["test_accuracy"] = epochs.back()["test_accuracy"];
    }
    const auto result = read_json_file(run_dir / kRunResultFile);
    if (result.is_object()) {
        job["state"] = result.value("state", std::string("interrupted"));
        if (result.contains("error")) job["error"] = result["error"];
        if (result.contains("result")) {
            job["result"] = result["result"];
            if (result["result"].contains("test_accuracy")) {
                job["test_accuracy"] = result["result"]["test_accuracy"];
            }
        }
    }
    if (with_epochs) job["epochs"] = epochs;
    return job;
}

nlohmann::json list_runs(const fs::path& runs_dir) {
    std::vector<nlohmann::json> jobs;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(runs_dir, error)) {
        if (entry.is_directory() && fs::exists(entry.path() / "config.yaml")) {
            jobs.push_back(describe_run(entry.path(), /*with_epochs=*/false));
        }
    }
    // Newest first; ISO times sort as text, ids break ties (and order runs without a time).
    std::sort(jobs.begin(), jobs.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
        const auto time = [](const nlohmann::json& j) {
            return j["created"].is_string() ? j["created"].get<std::string>() : std::string();
        };
        if (time(a) != time(b)) return time(a) > time(b);
        return a["id"].get<std::string>() > b["id"].get<std::string>();
    });
    return jobs;
}

nlohmann::json list_experiments(const fs::path& experiments_dir, const fs::path& models_dir) {
    std::vector<fs::path> files;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(experiments_dir, error)) {
        if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    nlohmann::json experiments = nlohmann::json::array();
    for (const auto& file : files) {
        nlohmann::json item{{"name", file.stem().string()}};
        try {
            const auto e =
                training::parse_experiment(framework::ConfigNode::load_file(file), models_dir);
            item["model"] = e.model_name.empty() ? e.model.name : e.model_name;
            item["dataset"] = e.plan.dataset;
            const nlohmann::json values[] = {
                e.epochs, e.plan.batch_size, shortest(e.optimizer.lr), e.plan.limit,
                e.seed,   e.augment};
            nlohmann::json settings = nlohmann::json::object();
            for (std::size_t i = 0; i < std::size(kSettingKeys); ++i) {
                settings[kSettingKeys[i]] = values[i];
            }
            item["settings"] = settings;
        } catch (const std::exception& e) {
            item["error"] = e.what();
        }
        experiments.push_back(std::move(item));
    }
    return experiments;
}

}  // namespace digitpipe::train
