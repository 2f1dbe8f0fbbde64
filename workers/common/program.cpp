// Shared flag handling and exit-code mapping of the digitpipe programs (see program.hpp).
#include "program.hpp"

#include <iostream>

#include "digitpipe/config.hpp"
#include "digitpipe/log.hpp"
#include "digitpipe/plugin.hpp"

namespace po = boost::program_options;

namespace digitpipe::programs {

void add_common_flags(po::options_description& flags, const std::string& default_config) {
    auto config = po::value<std::string>();
    if (default_config.empty()) {
        config->required();
    } else {
        config->default_value(default_config);
    }
    flags.add_options()("help,h", "show this help")("config", config,
                                                    "deployment YAML (configs/*.yaml)")(
        "set", po::value<std::vector<std::string>>()->composing(),
        "override a config value, e.g. --set broker.endpoint=tcp://127.0.0.1:*")(
        "verbose,v", po::bool_switch(), "log every frame and the effective configuration")(
        "insecure", po::bool_switch(),
        "allow plaintext tcp:// links that leave this host (no `security` keys)");
}

std::optional<int> parse_flags(int argc, const char* const* argv,
                               const po::options_description& flags,
                               const po::positional_options_description& positional,
                               po::variables_map& values, std::string_view program) {
    try {
        po::store(po::command_line_parser(argc, argv).options(flags).positional(positional).run(),
                  values);
        if (values.count("help")) {
            std::cout << flags;
            return 0;
        }
        po::notify(values);
    } catch (const po::error& e) {
        std::cerr << program << ": " << e.what() << "\n" << flags;
        return 2;
    }
    return std::nullopt;
}

CommonFlags common_flags(const po::variables_map& values) {
    return {values["config"].as<std::string>(),
            values.count("set") ? values["set"].as<std::vector<std::string>>()
                                : std::vector<std::string>{},
            values["verbose"].as<bool>(), values["insecure"].as<bool>()};
}

framework::DeploymentConfig load_deployment(const CommonFlags& common,
                                            const std::vector<std::string>& overrides) {
    auto deployment = framework::load_deployment(common.config, overrides);
    if (deployment.security.enabled() || common.insecure) return deployment;
    std::vector<framework::ConfigProblem> problems;
    for (const auto& exposed : framework::endpoints_leaving_host(deployment)) {
        problems.push_back(framework::ConfigProblem{
            deployment.file.string(), 0, 0, exposed.key_path,
            "'" + exposed.endpoint +
                "' is not a loopback address, so traffic may leave this host in plaintext: add "
                "a `security` block with CURVE keys (make them with `digitpipe keys NAME`), or "
                "pass --insecure on a network you trust"});
    }
    if (!problems.empty()) throw framework::ConfigError(std::move(problems));
    return deployment;
}

framework::DeploymentConfig load_deployment(const CommonFlags& common) {
    return load_deployment(common, common.overrides);
}

int run_guarded(std::string_view program, const std::function<int()>& body) {
    try {
        return body();
    } catch (const framework::ConfigError& e) {
        std::cerr << program << ": configuration error:\n" << e.what() << "\n";
        return 2;
    } catch (const framework::PluginError& e) {
        std::cerr << program << ": plugin error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        framework::log_event(framework::LogLevel::kError, program, "failed", {{"error", e.what()}});
        std::cerr << program << ": " << e.what() << "\n";
        return 1;
    }
}

}  // namespace digitpipe::programs
