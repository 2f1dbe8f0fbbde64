// Helpers for the config unit tests: a temporary folder for small inline YAML files (removed
// when the test ends) and ways to get at the problems a ConfigError carries.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "digitpipe/config.hpp"

namespace digitpipe::framework::testing {

// A fresh folder under the system temp folder, removed with everything in it on destruction.
class TempDir {
 public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "digitpipe-config-test-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;  // best effort: a leftover temp folder fails no test
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    // Writes `text` to `name` (folders created as needed) and returns its path.
    std::filesystem::path write(const std::filesystem::path& name, std::string_view text) const {
        std::filesystem::path file = path_ / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream out(file, std::ios::binary);
        out << text;
        if (!out) {
            throw std::runtime_error("cannot write " + file.string());
        }
        return file;
    }
    const std::filesystem::path& path() const noexcept { return path_; }

 private:
    std::filesystem::path path_;
};

// The problems finish() throws; empty when it does not throw.
inline std::vector<ConfigProblem> finish_problems(const ConfigNode& node) {
    try {
        node.finish();
    } catch (const ConfigError& error) {
        return error.problems();
    }
    return {};
}

// The ConfigError `action` throws; records a test failure when it throws none.
template <typename Action>
ConfigError config_error_of(Action&& action) {
    try {
        action();
    } catch (const ConfigError& error) {
        return error;
    }
    ADD_FAILURE() << "expected a ConfigError";
    return ConfigError({});
}

// The first problem at `path`, if any.
inline std::optional<ConfigProblem> problem_at(const std::vector<ConfigProblem>& problems,
                                               std::string_view path) {
    for (const auto& problem : problems) {
        if (problem.path == path) {
            return problem;
        }
    }
    return std::nullopt;
}

// The paths of `problems`, in order, for one-line comparisons.
inline std::vector<std::string> paths_of(const std::vector<ConfigProblem>& problems) {
    std::vector<std::string> paths;
    for (const auto& problem : problems) {
        paths.push_back(problem.path);
    }
    return paths;
}

}  // namespace digitpipe::framework::testing
