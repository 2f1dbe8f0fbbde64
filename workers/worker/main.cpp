// digitpipe-worker: the generic worker host. Loads the plugin of one stage from a deployment,
// configures it, and serves that stage's service through the broker until SIGINT/SIGTERM.
// Exit codes: 0 stopped cleanly, 1 runtime failure, 2 usage, configuration or plugin error
// (all of which are found before the worker registers with the broker).
#include <iostream>

#include <boost/program_options.hpp>

#include "digitpipe/deployment.hpp"
#include "digitpipe/host.hpp"
#include "digitpipe/log.hpp"
#include "digitpipe/plugin.hpp"

namespace po = boost::program_options;
namespace fw = digitpipe::framework;

int main(int argc, char** argv) {
    fw::StopSignal stop;
    po::options_description flags("digitpipe-worker --config FILE --stage NAME [options]");
    flags.add_options()("help,h", "show this help")(
        "config", po::value<std::string>()->required(), "deployment YAML (configs/*.yaml)")(
        "stage", po::value<std::string>()->required(), "the stage to serve (a key of `stages`)")(
        "set", po::value<std::vector<std::string>>()->composing(),
        "override a config value, e.g. --set broker.endpoint=ipc:///tmp/b.sock")(
        "verbose,v", po::bool_switch(), "log every frame and the effective configuration");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, flags), vm);
        if (vm.count("help")) {
            std::cout << flags;
            return 0;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "digitpipe-worker: " << e.what() << "\n" << flags;
        return 2;
    }
    const std::string stage = vm["stage"].as<std::string>();
    const fw::Logger log("worker." + stage);
    try {
        const auto overrides =
            vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
        const auto deployment = fw::load_deployment(vm["config"].as<std::string>(), overrides);
        fw::StageHostOptions options;
        const auto plugins = deployment.paths.find("plugins");
        options.plugin_dirs = {plugins != deployment.paths.end()
                                   ? plugins->second
                                   : std::filesystem::path(DIGITPIPE_DEFAULT_PLUGIN_DIR)};
        options.verbose = vm["verbose"].as<bool>();
        zmq::context_t context(1);
        fw::StageHost host(context, deployment, stage, options);
        host.run(stop.flag());
        return 0;
    } catch (const fw::ConfigError& e) {
        std::cerr << "digitpipe-worker: configuration error:\n" << e.what() << "\n";
        return 2;
    } catch (const fw::PluginError& e) {
        std::cerr << "digitpipe-worker: plugin error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        log.error("worker failed", {{"error", e.what()}});
        return 1;
    }
}
