// What every digitpipe program shares: the common flags (--config, --set, --verbose,
// --insecure, --help), loading the deployment with the transport-security rule,
// flag parsing with usage errors, and one mapping from failures to exit codes:
// 0 success, 1 runtime failure, 2 usage, configuration or plugin error.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "digitpipe/deployment.hpp"

namespace digitpipe::programs {

struct CommonFlags {
    std::string config;                  // deployment YAML
    std::vector<std::string> overrides;  // --set a.b=c, in order
    bool verbose = false;
    bool insecure = false;  // allow plaintext tcp:// links that leave this host
};

// Adds --help, --config (required when default_config is empty), --set, --verbose and
// --insecure.
void add_common_flags(boost::program_options::options_description& flags,
                      const std::string& default_config = "");

// Parses argv into `values`. Returns an exit code when the program should stop now: 0 after
// printing --help, 2 after printing a usage error; nullopt to go on.
std::optional<int> parse_flags(
    int argc, const char* const* argv, const boost::program_options::options_description& flags,
    const boost::program_options::positional_options_description& positional,
    boost::program_options::variables_map& values, std::string_view program);

CommonFlags common_flags(const boost::program_options::variables_map& values);

// Loads the deployment (common.config with `overrides`) and applies the transport-security
// rule: a tcp:// endpoint that leaves this host (framework::endpoints_leaving_host) needs the
// deployment's `security` keys, unless common.insecure.
// throws: ConfigError naming each such endpoint and both ways out (keys or --insecure).
framework::DeploymentConfig load_deployment(const CommonFlags& common,
                                            const std::vector<std::string>& overrides);
// The same with common.overrides.
framework::DeploymentConfig load_deployment(const CommonFlags& common);

// Runs `body` and returns its exit code; a ConfigError or PluginError becomes 2 and any other
// exception 1, each with a message on stderr that names the program.
int run_guarded(std::string_view program, const std::function<int()>& body);

}  // namespace digitpipe::programs
