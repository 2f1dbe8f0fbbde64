// digitpipe: the command that starts a deployment and talks to it.
//   digitpipe up      [--config FILE] [--set k=v]... [--only PARTS]   start and supervise
//   digitpipe status  [--config FILE]                  services, workers, queues
//   digitpipe request SERVICE VERB [--header JSON]     one request, reply printed as JSON
//   digitpipe train   EXPERIMENT [--set k=v]... | --resume RUN   run an experiment
//   digitpipe eval    MODEL [--dataset mnist|fashion]  accuracy, per-class metrics, confusion
//   digitpipe keys    NAME [--dir DIR] | --token FILE  CURVE key pair, or a gateway token
#include <cstdlib>
#include <iostream>

#include "commands.hpp"

namespace po = boost::program_options;
namespace programs = digitpipe::programs;

namespace {

constexpr const char* kUsage =
    "usage: digitpipe <command> [options]\n"
    "commands:\n"
    "  up                      start the deployment's broker, workers and gateway (or --only\n"
    "                          some of them, for one host of several); Ctrl-C stops all\n"
    "  status                  list services, live workers and queue depth\n"
    "  request SERVICE VERB    send one request, print the reply\n"
    "  train EXPERIMENT        run an experiment (configs/experiments/*.yaml), live progress\n"
    "  eval MODEL              evaluate a model file: accuracy, per-class metrics, confusion\n"
    "  keys NAME               make a CURVE key pair (NAME.key, NAME.pub) for `security`;\n"
    "                          keys --token FILE makes a gateway bearer token\n"
    "run 'digitpipe <command> --help' for its options\n";

}  // namespace

int main(int argc, char** argv) {
    digitpipe::framework::StopSignal stop;  // first, before any thread
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::cout << kUsage;
        return argc < 2 ? 2 : 0;
    }
    const std::string command = argv[1];
    const bool learning = command == "train" || command == "eval";
    if (command != "up" && command != "status" && command != "request" && command != "keys" &&
        !learning) {
        std::cerr << "digitpipe: unknown command '" << command << "'\n" << kUsage;
        return 2;
    }
    if (command == "keys") {
        po::options_description flags("digitpipe keys NAME [--dir DIR] | --token FILE");
        flags.add_options()("help,h", "show this help")(
            "name", po::value<std::string>()->default_value(""),
            "key pair name (writes NAME.key and NAME.pub)")(
            "dir", po::value<std::string>()->default_value("keys"), "folder for the key files")(
            "token", po::value<std::string>()->default_value(""),
            "write a random bearer token to this file instead (gateway.token_file)");
        po::positional_options_description positional;
        positional.add("name", 1);
        po::variables_map values;
        if (const auto exit = programs::parse_flags(argc - 1, argv + 1, flags, positional, values,
                                                    "digitpipe keys")) {
            return *exit;
        }
        const auto name = values["name"].as<std::string>();
        const auto token = values["token"].as<std::string>();
        if (name.empty() == token.empty()) {
            std::cerr << "digitpipe keys: give either a key pair NAME or --token FILE\n" << flags;
            return 2;
        }
        return programs::run_guarded("digitpipe keys", [&] {
            return digitpipe::cli::run_keys(name, values["dir"].as<std::string>(), token);
        });
    }
    po::options_description flags("digitpipe " + command + " [options]");
    programs::add_common_flags(flags, learning ? "configs/pipeline.yaml" : "configs/local.yaml");
    po::positional_options_description positional;
    if (command == "train") {
        flags.add_options()("experiment", po::value<std::string>(),
                            "experiment YAML (--set overrides apply to it)")(
            "resume", po::value<std::string>()->default_value(""),
            "resume run RUN (a folder in runs/) from its last checkpoint");
        positional.add("experiment", 1);
    } else if (command == "eval") {
        flags.add_options()("model", po::value<std::string>()->required(),
                            "model file (.safetensors)")(
            "dataset", po::value<std::string>()->default_value(""),
            "mnist or fashion (default: the model's own)")("json", "print the reply as JSON");
        positional.add("model", 1);
    } else if (command == "up") {
        flags.add_options()("only", po::value<std::string>()->default_value(""),
                            "run only these parts, comma-separated: broker, gateway, stage "
                            "names (one host's share of a multi-host deployment)");
    } else {
        flags.add_options()("timeout-ms", po::value<int>()->default_value(3000),
                            "how long to wait for an answer");
    }
    if (command == "request") {
        flags.add_options()("service", po::value<std::string>()->required(), "service name")(
            "verb", po::value<std::string>()->required(), "verb")(
            "header", po::value<std::string>()->default_value("{}"), "request header (JSON)");
        positional.add("service", 1).add("verb", 1);
    }
    po::variables_map values;
    const std::string program = "digitpipe " + command;
    if (const auto exit =
            programs::parse_flags(argc - 1, argv + 1, flags, positional, values, program)) {
        return *exit;
    }
    const auto common = programs::common_flags(values);
    if (learning && !common.verbose) {
        // train and eval run their deployment in this process by default: its workers'
        // info lines would bury the progress display. Warnings and errors still show.
        ::setenv("DIGITPIPE_LOG_LEVEL", "warn", /*overwrite=*/0);
    }
    if (command == "train") {
        const auto resume = values["resume"].as<std::string>();
        if ((values.count("experiment") > 0) == !resume.empty()) {
            std::cerr << "digitpipe train: give either an experiment file or --resume RUN\n";
            return 2;
        }
        return digitpipe::cli::run_train(
            common, values.count("experiment") ? values["experiment"].as<std::string>() : "",
            resume, stop);
    }
    if (command == "eval") {
        return digitpipe::cli::run_eval(common, values["model"].as<std::string>(),
                                        values["dataset"].as<std::string>(),
                                        values.count("json") > 0, stop);
    }
    if (command == "up") {
        return digitpipe::cli::run_up(common, values["only"].as<std::string>(), stop);
    }
    if (command == "status")
        return digitpipe::cli::run_status(common, values["timeout-ms"].as<int>());
    return digitpipe::cli::run_request(
        common, values["service"].as<std::string>(), values["verb"].as<std::string>(),
        values["header"].as<std::string>(), values["timeout-ms"].as<int>());
}
