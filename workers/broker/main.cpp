// digitpipe-broker: the Majordomo broker process (and the event proxy) of a deployment.
// Prints one line on stdout once bound, "endpoint=E events_in=E events_out=E", so a caller
// that asked for port 0 (tcp://127.0.0.1:*) learns the real endpoints.
#include <cstdio>
#include <iostream>

#include <boost/program_options.hpp>

#include "digitpipe/deployment.hpp"
#include "digitpipe/host.hpp"
#include "digitpipe/log.hpp"
#include "digitpipe/mdp.hpp"

namespace po = boost::program_options;
namespace fw = digitpipe::framework;

int main(int argc, char** argv) {
    fw::StopSignal stop;
    po::options_description flags("digitpipe-broker --config FILE [options]");
    flags.add_options()("help,h", "show this help")(
        "config", po::value<std::string>()->required(), "deployment YAML (configs/*.yaml)")(
        "set", po::value<std::vector<std::string>>()->composing(),
        "override a config value, e.g. --set broker.endpoint=tcp://127.0.0.1:*")(
        "verbose,v", po::bool_switch(), "log every frame");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, flags), vm);
        if (vm.count("help")) {
            std::cout << flags;
            return 0;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "digitpipe-broker: " << e.what() << "\n" << flags;
        return 2;
    }
    const fw::Logger log("broker");
    try {
        const auto overrides =
            vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
        const auto deployment = fw::load_deployment(vm["config"].as<std::string>(), overrides);
        zmq::context_t context(1);
        fw::Broker broker(context,
                          fw::make_broker_options(deployment.broker, vm["verbose"].as<bool>()));
        std::printf("endpoint=%s events_in=%s events_out=%s\n", broker.endpoint().c_str(),
                    broker.events_in().c_str(), broker.events_out().c_str());
        std::fflush(stdout);
        log.info("broker ready", {{"endpoint", broker.endpoint()},
                                  {"events_in", broker.events_in()},
                                  {"events_out", broker.events_out()}});
        broker.run(stop.flag());
        log.info("broker stopped");
        return 0;
    } catch (const fw::ConfigError& e) {
        std::cerr << "digitpipe-broker: configuration error:\n" << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        log.error("broker failed", {{"error", e.what()}});
        return 1;
    }
}
