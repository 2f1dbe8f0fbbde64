// digitpipe-gateway: the HTTP gateway process. Serves web/API.md and the built dashboard on
// one address, reaching the stages only through the broker. Once listening it prints exactly
// one line on stdout, "gateway listening on http://HOST:PORT" (the real port when the config
// asked for 0), so tests and `digitpipe up` can read it. SIGINT/SIGTERM: answers what it holds
// (503), shuts Pistache down, exits 0. Exit 1 on a runtime failure, 2 on a usage or
// configuration error.
#include <cstdio>
#include <thread>

#include "digitpipe/deployment.hpp"
#include "digitpipe/host.hpp"
#include "digitpipe/log.hpp"
#include "program.hpp"
#include "security.hpp"
#include "server.hpp"

namespace fw = digitpipe::framework;
namespace gw = digitpipe::gateway;
namespace po = boost::program_options;
namespace programs = digitpipe::programs;

namespace {

// How often main() looks at the stop flag while Pistache and the bridge run on their threads.
constexpr auto kStopPoll = std::chrono::milliseconds(100);

// Applies the flags that override the deployment. throws ConfigError for a bad --listen.
void apply_flags(const po::variables_map& values, gw::GatewayConfig& config) {
    if (values.count("listen")) {
        const auto text = values["listen"].as<std::string>();
        auto listen = gw::parse_listen_address(text);
        if (!listen) {
            throw fw::ConfigError(
                {fw::ConfigProblem{"--listen", 0, 0, "gateway.listen", listen.status().message()}});
        }
        config.listen = *listen;
    }
    if (values.count("broker")) config.broker_endpoint = values["broker"].as<std::string>();
    if (values.count("events")) config.events_out = values["events"].as<std::string>();
    if (values.count("dashboard")) {
        config.dashboard = std::filesystem::absolute(values["dashboard"].as<std::string>());
    }
}

}  // namespace

int main(int argc, char** argv) {
    fw::StopSignal stop;  // first, before any thread
    po::options_description flags("digitpipe-gateway --config FILE [options]");
    programs::add_common_flags(flags);
    flags.add_options()("listen", po::value<std::string>(),
                        "HOST:PORT to listen on (overrides gateway.listen; port 0 = any)")(
        "broker", po::value<std::string>(), "broker endpoint (overrides broker.endpoint)")(
        "events", po::value<std::string>(), "event proxy XPUB (overrides broker.events_out)")(
        "dashboard", po::value<std::string>(),
        "built dashboard folder (overrides "
        "gateway.dashboard)");
    po::variables_map values;
    if (const auto exit =
            programs::parse_flags(argc, argv, flags, {}, values, "digitpipe-gateway")) {
        return *exit;
    }
    const auto common = programs::common_flags(values);
    return programs::run_guarded("digitpipe-gateway", [&] {
        const auto deployment = programs::load_deployment(common);
        auto config = gw::load_gateway_config(deployment);
        apply_flags(values, config);
        config.verbose = common.verbose;
        if (config.broker_endpoint.empty()) {
            throw fw::ConfigError(
                {fw::ConfigProblem{deployment.file.string(), 0, 0, "broker.endpoint",
                                   "the gateway needs a broker endpoint"}});
        }
        // After the flags: --listen may move a loopback config onto the network.
        if (const auto secure = gw::check_listen_security(config); !secure.is_ok()) {
            throw fw::ConfigError({fw::ConfigProblem{deployment.file.string(), 0, 0,
                                                     "gateway.token_file", secure.message()}});
        }
        const fw::Logger log("gateway");
        if (common.verbose) {
            log.info("effective configuration",
                     {{"listen", config.listen.to_string()},
                      {"broker", config.broker_endpoint},
                      {"events", config.events_out},
                      {"dashboard", config.dashboard.string()},
                      {"threads", std::to_string(config.threads)},
                      {"max_body_bytes", std::to_string(config.max_body_bytes)},
                      {"request_timeout_ms", std::to_string(config.request_timeout.count())},
                      {"max_pending", std::to_string(config.max_pending)},
                      {"token", config.token.empty() ? "none" : config.token_file.string()},
                      {"cors_origins", std::to_string(config.cors_origins.size())},
                      {"services", config.infer_service + "," + config.train_service}});
        }
        zmq::context_t context(1);
        gw::GatewayServer server(context, config);
        const auto port = server.start();
        gw::ListenAddress bound = config.listen;
        bound.port = port;
        std::printf("gateway listening on http://%s\n", bound.to_string().c_str());
        std::fflush(stdout);
        while (!stop.stop_requested()) std::this_thread::sleep_for(kStopPoll);
        log.info("stopping", {{"signal", std::to_string(stop.signal_number())}});
        server.stop();
        return 0;
    });
}
