// digitpipe-broker: the Majordomo broker process (and the event proxy) of a deployment.
// Prints one line on stdout once bound, "endpoint=E events_in=E events_out=E", so a caller
// that asked for port 0 (tcp://127.0.0.1:*) learns the real endpoints.
#include <cstdio>

#include "digitpipe/deployment.hpp"
#include "digitpipe/host.hpp"
#include "digitpipe/log.hpp"
#include "digitpipe/mdp.hpp"
#include "program.hpp"

namespace fw = digitpipe::framework;
namespace po = boost::program_options;
namespace programs = digitpipe::programs;

int main(int argc, char** argv) {
    fw::StopSignal stop;  // first, before any thread
    po::options_description flags("digitpipe-broker --config FILE [options]");
    programs::add_common_flags(flags);
    po::variables_map values;
    if (const auto exit =
            programs::parse_flags(argc, argv, flags, {}, values, "digitpipe-broker")) {
        return *exit;
    }
    const auto common = programs::common_flags(values);
    return programs::run_guarded("digitpipe-broker", [&] {
        const auto deployment = programs::load_deployment(common);
        zmq::context_t context(1);
        fw::Broker broker(context, fw::make_broker_options(deployment.broker, common.verbose, deployment.security));
        std::printf("endpoint=%s events_in=%s events_out=%s\n", broker.endpoint().c_str(),
                    broker.events_in().c_str(), broker.events_out().c_str());
        std::fflush(stdout);
        const fw::Logger log("broker");
        log.info("broker ready", {{"endpoint", broker.endpoint()},
                                  {"events_in", broker.events_in()},
                                  {"events_out", broker.events_out()}});
        broker.run(stop.flag());
        log.info("broker stopped");
        return 0;
    });
}
