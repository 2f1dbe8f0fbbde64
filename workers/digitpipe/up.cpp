// `digitpipe up`: start a deployment. With tcp:// or ipc:// endpoints every part is a child
// process under the Supervisor (restarted with backoff when it dies); with an inproc:// broker
// endpoint everything runs as threads of this one process, sharing one ZeroMQ context. A
// `gateway` block adds the HTTP gateway (digitpipe-gateway) as one more supervised child.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "commands.hpp"
#include "digitpipe/deployment.hpp"
#include "digitpipe/log.hpp"
#include "digitpipe/mdp.hpp"
#include "digitpipe/plugin.hpp"
#include "digitpipe/supervisor.hpp"
#include "in_process.hpp"

namespace digitpipe::cli {
namespace fw = framework;
namespace {

// A bad --only list: exit 2 like any usage error.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::filesystem::path program_dir() {
    return std::filesystem::canonical("/proc/self/exe").parent_path();
}

// The flags every child gets so it reads the same effective configuration as we did.
std::vector<std::string> shared_flags(const programs::CommonFlags& common) {
    std::vector<std::string> flags{"--config", std::filesystem::absolute(common.config).string()};
    for (const auto& o : common.overrides) {
        flags.push_back("--set");
        flags.push_back(o);
    }
    if (common.verbose) flags.push_back("--verbose");
    if (common.insecure) flags.push_back("--insecure");
    return flags;
}

// The parts --only names, checked against the deployment's.
std::set<std::string> parts_to_run(const std::string& only, const fw::DeploymentConfig& deployment) {
    std::set<std::string> known{"broker"};
    if (deployment.gateway) known.insert("gateway");
    for (const auto& [name, stage] : deployment.stages) known.insert(name);
    if (only.empty()) return known;
    std::set<std::string> chosen;
    std::stringstream list(only);
    std::string part;
    while (std::getline(list, part, ',')) {
        if (part.empty()) continue;
        if (known.count(part) == 0) {
            std::string names;
            for (const auto& name : known) names += (names.empty() ? "" : ", ") + name;
            throw UsageError("--only: no part '" + part + "' in " + deployment.file.string() +
                             " (parts: " + names + ")");
        }
        chosen.insert(part);
    }
    if (chosen.empty()) throw UsageError("--only: give at least one part");
    return chosen;
}

int run_supervised(const programs::CommonFlags& common, const fw::DeploymentConfig& deployment,
                   const std::set<std::string>& parts, const fw::StopSignal& stop) {
    const auto bin = program_dir();
    const auto flags = shared_flags(common);
    fw::Supervisor supervisor(deployment.supervisor);

    if (parts.count("broker")) {
        std::vector<std::string> broker{(bin / "digitpipe-broker").string()};
        broker.insert(broker.end(), flags.begin(), flags.end());
        supervisor.add({"broker", broker, {}});
    }
    for (const auto& [name, stage] : deployment.stages) {
        if (!parts.count(name)) continue;
        for (int replica = 1; replica <= stage.replicas; ++replica) {
            std::vector<std::string> worker{(bin / "digitpipe-worker").string()};
            worker.insert(worker.end(), flags.begin(), flags.end());
            worker.insert(worker.end(), {"--stage", name});
            supervisor.add({"worker." + name + "." + std::to_string(replica), worker, stage.env});
        }
    }
    // The gateway is one more supervised child: it reaches the stages only through the broker.
    if (deployment.gateway && parts.count("gateway")) {
        std::vector<std::string> gateway{(bin / "digitpipe-gateway").string()};
        gateway.insert(gateway.end(), flags.begin(), flags.end());
        supervisor.add({"gateway", gateway, {}});
    }
    std::cout << "digitpipe up: " << (parts.count("broker") ? "broker " : "broker (elsewhere) ")
              << deployment.broker.endpoint;
    for (const auto& [name, stage] : deployment.stages) {
        if (parts.count(name)) std::cout << ", " << name << " x" << stage.replicas;
    }
    if (deployment.security.enabled()) std::cout << ", CURVE on tcp links";
    if (deployment.gateway && parts.count("gateway")) {
        std::cout << ", gateway on http://"
                  << deployment.gateway->get_or<std::string>("listen", "127.0.0.1:8080");
    }
    std::cout << " (Ctrl-C stops everything)" << std::endl;
    supervisor.run(stop.flag());
    std::cout << "digitpipe up: stopped" << std::endl;
    return 0;
}

int run_in_process(const programs::CommonFlags& common, const fw::DeploymentConfig& deployment,
                   const fw::StopSignal& stop) {
    if (deployment.gateway) {
        // The gateway is a process of its own and cannot reach an inproc:// broker.
        fw::Logger("digitpipe")
            .warn(
                "the gateway block is ignored: an inproc:// deployment has no gateway; use tcp:// "
                "or ipc:// endpoints (configs/local.yaml)",
                {{"config", deployment.file.string()}});
    }
    for (const auto& [name, stage] : deployment.stages) {
        if (!stage.env.empty()) {
            fw::Logger("digitpipe")
                .warn("stages." + name + ".env is ignored: an inproc:// deployment is one process",
                      {{"config", deployment.file.string()}});
        }
    }
    InProcessDeployment in_process(deployment, common.verbose);
    in_process.start(&stop.flag());
    std::cout << "digitpipe up: in-process deployment on " << in_process.endpoint() << ", "
              << in_process.worker_count() << " workers (Ctrl-C stops everything)" << std::endl;
    while (!stop.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    in_process.stop();
    std::cout << "digitpipe up: stopped" << std::endl;
    return 0;
}

}  // namespace

int run_up(const programs::CommonFlags& common, const std::string& only,
           const fw::StopSignal& stop) {
    return programs::run_guarded("digitpipe up", [&] {
        const auto deployment = programs::load_deployment(common);
        std::set<std::string> parts;
        try {
            parts = parts_to_run(only, deployment);
        } catch (const UsageError& e) {
            std::cerr << "digitpipe up: " << e.what() << "\n";
            return 2;
        }
        if (deployment.broker.endpoint.starts_with("inproc://")) {
            if (!only.empty()) {
                std::cerr << "digitpipe up: --only needs tcp:// or ipc:// endpoints (an "
                             "inproc:// deployment is one process)\n";
                return 2;
            }
            return run_in_process(common, deployment, stop);
        }
        return run_supervised(common, deployment, parts, stop);
    });
}

}  // namespace digitpipe::cli
