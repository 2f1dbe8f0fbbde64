// `digitpipe status` and `digitpipe request`: one-shot clients of a running deployment.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "digitpipe/deployment.hpp"
#include "digitpipe/envelope.hpp"
#include "digitpipe/mdp.hpp"

namespace digitpipe::cli {
namespace fw = framework;
namespace {

fw::ClientOptions client_options(const fw::DeploymentConfig& deployment, int timeout_ms) {
    fw::ClientOptions options;
    options.broker_endpoint = deployment.broker.endpoint;
    options.attempt_timeout = std::chrono::milliseconds(timeout_ms);
    options.attempts = 1;  // a person is waiting: say "no answer" rather than retry silently
    options.max_message_bytes = deployment.broker.max_message_bytes;
    options.security = deployment.security;
    return options;
}

}  // namespace

int run_status(const programs::CommonFlags& common, int timeout_ms) {
    return programs::run_guarded("digitpipe status", [&] {
        const auto deployment = programs::load_deployment(common);
        zmq::context_t context(1);
        fw::Client client(context, client_options(deployment, timeout_ms));
        const auto services = client.services();
        if (!services) {
            std::cerr << "digitpipe status: broker " << deployment.broker.endpoint
                      << " did not answer: " << services.status().message() << "\n";
            return 1;
        }
        std::printf("broker %s\n%-28s %6s %6s %7s %9s\n", deployment.broker.endpoint.c_str(),
                    "SERVICE", "IDLE", "BUSY", "QUEUED", "IN_FLIGHT");
        for (const auto& [name, stats] : *services) {
            std::printf("%-28s %6zu %6zu %7zu %9zu\n", name.c_str(), stats.workers_idle,
                        stats.workers_busy, stats.queued, stats.in_flight);
        }
        // The broker's own counters (digitpipe's mmi.broker), one line after the table so the
        // lines above keep their shape. An older broker without the service says so instead.
        const auto counters = client.broker_stats();
        if (counters) {
            using Count = unsigned long long;  // %llu on every platform
            std::printf(
                "broker: requests %llu replies %llu malformed %llu requeued %llu expired %llu "
                "dropped %llu unroutable %llu\n",
                Count{counters->requests}, Count{counters->replies}, Count{counters->malformed},
                Count{counters->requeued}, Count{counters->workers_expired},
                Count{counters->dropped}, Count{counters->unroutable});
        } else {
            std::printf("broker: counters unavailable (%s)\n",
                        counters.status().message().c_str());
        }
        return 0;
    });
}

int run_request(const programs::CommonFlags& common, const std::string& service,
                const std::string& verb, const std::string& header_json, int timeout_ms) {
    fw::Request request;
    request.verb = verb;
    request.correlation_id = fw::make_correlation_id();
    request.header = nlohmann::json::parse(header_json, nullptr, /*allow_exceptions=*/false);
    if (!request.header.is_object()) {
        std::cerr << "digitpipe request: --header must be a JSON object, got: " << header_json
                  << "\n";
        return 2;
    }
    return programs::run_guarded("digitpipe request", [&] {
        const auto deployment = programs::load_deployment(common);
        zmq::context_t context(1);
        fw::Client client(context, client_options(deployment, timeout_ms));
        const auto reply_body = client.request(service, fw::encode_request(request));
        if (!reply_body) {
            std::cerr << "digitpipe request: " << service << " " << verb << ": "
                      << reply_body.status().to_string() << "\n";
            return 1;
        }
        const auto decoded = fw::decode_reply(*reply_body);
        if (!decoded) {
            std::cerr << "digitpipe request: malformed reply: " << decoded.status().message()
                      << "\n";
            return 1;
        }
        const fw::Reply& reply = decoded->reply;
        nlohmann::json out{{"status", fw::status_code_name(reply.status.code())},
                           {"header", reply.header}};
        for (const auto& p : reply.payloads) {
            out["payloads"].push_back({{"name", p.name},
                                       {"dtype", p.dtype},
                                       {"shape", p.shape},
                                       {"bytes", p.bytes.size()}});
        }
        std::cout << out.dump(2) << std::endl;
        return reply.status.is_ok() ? 0 : 1;
    });
}

}  // namespace digitpipe::cli
