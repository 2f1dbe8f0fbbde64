// digitpipe: the command that starts a deployment and talks to it.
//   digitpipe up      [--config FILE] [--set k=v]...   start and supervise everything
//   digitpipe status  [--config FILE]                  services, workers, queues
//   digitpipe request SERVICE VERB [--header JSON]     one request, reply printed as JSON
#include <iostream>

#include <boost/program_options.hpp>

#include "commands.hpp"
#include "digitpipe/host.hpp"

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage =
    "usage: digitpipe <command> [options]\n"
    "commands:\n"
    "  up                      start the deployment's broker and workers; Ctrl-C stops all\n"
    "  status                  list services, live workers and queue depth\n"
    "  request SERVICE VERB    send one request, print the reply\n"
    "run 'digitpipe <command> --help' for its options\n";

}  // namespace

int main(int argc, char** argv) {
    // Before any thread: turns SIGINT/SIGTERM into a flag for the whole process.
    digitpipe::framework::StopSignal stop_signal;
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::cout << kUsage;
        return argc < 2 ? 2 : 0;
    }
    const std::string command = argv[1];

    po::options_description common("options");
    common.add_options()("help,h", "show this help")(
        "config", po::value<std::string>()->default_value("configs/local.yaml"),
        "deployment YAML")("set", po::value<std::vector<std::string>>()->composing(),
                           "override a config value, e.g. --set stages.echo.replicas=3")(
        "verbose,v", po::bool_switch(), "log every frame");
    po::options_description specific;
    po::positional_options_description positional;
    if (command == "status" || command == "request") {
        specific.add_options()("timeout-ms", po::value<int>()->default_value(3000),
                               "how long to wait for the broker");
    }
    if (command == "request") {
        specific.add_options()("service", po::value<std::string>()->required(), "service name")(
            "verb", po::value<std::string>()->required(), "verb")(
            "header", po::value<std::string>()->default_value("{}"), "request header (JSON)");
        positional.add("service", 1).add("verb", 1);
    }
    if (command != "up" && command != "status" && command != "request") {
        std::cerr << "digitpipe: unknown command '" << command << "'\n" << kUsage;
        return 2;
    }
    po::options_description all("digitpipe " + command + " options");
    all.add(common).add(specific);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc - 1, argv + 1)
                      .options(all)
                      .positional(positional)
                      .run(),
                  vm);
        if (vm.count("help")) {
            std::cout << all;
            return 0;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "digitpipe " << command << ": " << e.what() << "\n" << all;
        return 2;
    }
    digitpipe::cli::CommonOptions options{
        vm["config"].as<std::string>(),
        vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{},
        vm["verbose"].as<bool>()};
    if (command == "up") return digitpipe::cli::run_up(options, stop_signal);
    if (command == "status") return digitpipe::cli::run_status(options, vm["timeout-ms"].as<int>());
    return digitpipe::cli::run_request(options, vm["service"].as<std::string>(),
                                       vm["verb"].as<std::string>(),
                                       vm["header"].as<std::string>(), vm["timeout-ms"].as<int>());
}
