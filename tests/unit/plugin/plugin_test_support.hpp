// Helpers for the plugin loader and echo stage tests: a StageContext and a MetricSink that
// record what a stage does with them, a scratch directory, and a "is this library mapped?"
// probe for the lifetime tests.
#pragma once

#include <dlfcn.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "digitpipe/config.hpp"
#include "digitpipe/stage.hpp"

namespace digitpipe::framework::testing {

// A StageContext with no deployment behind it: no paths, no streams, events recorded.
class FakeStageContext final : public StageContext {
 public:
    explicit FakeStageContext(std::string stage_name = "echo_test")
        : stage_name_(std::move(stage_name)), service_name_("digitpipe." + stage_name_),
          logger_("test." + stage_name_) {}

    const std::string& stage_name() const override { return stage_name_; }
    const std::string& service_name() const override { return service_name_; }
    const Logger& logger() const override { return logger_; }

    std::filesystem::path path(std::string_view key) const override {
        throw ConfigError({ConfigProblem{"fake", 0, 0, "paths." + std::string(key),
                                         "not configured in the fake context"}});
    }
    void publish(std::string_view topic, const nlohmann::json& event) override {
        events.emplace_back(std::string(topic), event);
    }
    std::unique_ptr<StreamWriter> open_stream_writer(std::string_view name) override {
        throw ConfigError({ConfigProblem{"fake", 0, 0, "streams." + std::string(name),
                                         "no streams in the fake context"}});
    }
    std::unique_ptr<StreamReader> open_stream_reader(std::string_view name) override {
        throw ConfigError({ConfigProblem{"fake", 0, 0, "streams." + std::string(name),
                                         "no streams in the fake context"}});
    }
    Result<Reply> call(std::string_view service, const Request&) override {
        return unavailable("no broker in the fake context (service " + std::string(service) +
                           ")");
    }

    void subscribe(std::string_view topic_prefix, EventCallback callback) override {
        subscriptions.emplace_back(std::string(topic_prefix), std::move(callback));
    }

    std::vector<std::pair<std::string, nlohmann::json>> events;
    std::vector<std::pair<std::string, EventCallback>> subscriptions;

 private:
    std::string stage_name_;
    std::string service_name_;
    Logger logger_;
};

// Remembers the last value reported under each name.
class RecordingMetricSink final : public MetricSink {
 public:
    void counter(std::string_view name, double value, std::string_view) override {
        counters[std::string(name)] = value;
    }
    void gauge(std::string_view name, double value, std::string_view) override {
        gauges[std::string(name)] = value;
    }
    std::map<std::string, double> counters;
    std::map<std::string, double> gauges;
};

// A fresh directory under the system temp folder, removed with everything in it.
class ScratchDir {
 public:
    ScratchDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "dp_plugin_XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;  // best effort: a leftover temp dir must not fail a test
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }

    // Creates `name` (and its folders) holding `content`; returns its path.
    std::filesystem::path write(const std::filesystem::path& name, std::string_view content) {
        const auto file = path_ / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << content;
        return file;
    }

 private:
    std::filesystem::path path_;
};

// True when `file` is currently mapped into this process. RTLD_NOLOAD never loads; when the
// library is loaded it bumps the reference count, which we give straight back.
inline bool is_library_loaded(const std::filesystem::path& file) {
    void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) return false;
    ::dlclose(handle);
    return true;
}

inline std::filesystem::path fixture_plugin(std::string_view name) {
    return std::filesystem::path(DIGITPIPE_FIXTURE_PLUGIN_DIR) /
           ("libdigitpipe_stage_" + std::string(name) + ".so");
}

}  // namespace digitpipe::framework::testing
