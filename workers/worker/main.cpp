// digitpipe-worker: the generic worker host. Loads the plugin of one stage from a deployment,
// configures it, and serves that stage's service through the broker until SIGINT/SIGTERM.
// Configuration and plugin errors (exit 2) are found before the worker registers.
#include "digitpipe/deployment.hpp"
#include "digitpipe/host.hpp"
#include "program.hpp"

namespace fw = digitpipe::framework;
namespace po = boost::program_options;
namespace programs = digitpipe::programs;

int main(int argc, char** argv) {
    fw::StopSignal stop;  // first, before any thread
    po::options_description flags("digitpipe-worker --config FILE --stage NAME [options]");
    programs::add_common_flags(flags);
    flags.add_options()("stage", po::value<std::string>()->required(),
                        "the stage to serve (a key of `stages`)");
    po::variables_map values;
    if (const auto exit =
            programs::parse_flags(argc, argv, flags, {}, values, "digitpipe-worker")) {
        return *exit;
    }
    const auto common = programs::common_flags(values);
    return programs::run_guarded("digitpipe-worker", [&] {
        const auto deployment = programs::load_deployment(common);
        const auto plugins = deployment.paths.find("plugins");
        fw::StageHostOptions options{{plugins != deployment.paths.end()
                                          ? plugins->second
                                          : std::filesystem::path(DIGITPIPE_DEFAULT_PLUGIN_DIR)},
                                     common.verbose};
        zmq::context_t context(1);
        fw::StageHost host(context, deployment, values["stage"].as<std::string>(), options);
        host.run(stop.flag());
        return 0;
    });
}
