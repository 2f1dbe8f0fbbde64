// What every digitpipe program shares: the common flags (--config, --set, --verbose, --help),
// flag parsing with usage errors, and one mapping from failures to exit codes:
// 0 success, 1 runtime failure, 2 usage, configuration or plugin error.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

namespace digitpipe::programs {

struct CommonFlags {
    std::string config;                  // deployment YAML
    std::vector<std::string> overrides;  // --set a.b=c, in order
    bool verbose = false;
};

// Adds --help, --config (required when default_config is empty), --set and --verbose.
void add_common_flags(boost::program_options::options_description& flags,
                      const std::string& default_config = "");

// Parses argv into `values`. Returns an exit code when the program should stop now: 0 after
// printing --help, 2 after printing a usage error; nullopt to go on.
std::optional<int> parse_flags(
    int argc, const char* const* argv, const boost::program_options::options_description& flags,
    const boost::program_options::positional_options_description& positional,
    boost::program_options::variables_map& values, std::string_view program);

CommonFlags common_flags(const boost::program_options::variables_map& values);

// Runs `body` and returns its exit code; a ConfigError or PluginError becomes 2 and any other
// exception 1, each with a message on stderr that names the program.
int run_guarded(std::string_view program, const std::function<int()>& body);

}  // namespace digitpipe::programs
