// `digitpipe up`: start a deployment. With tcp:// or ipc:// endpoints every part is a child
// process under the Supervisor (restarted with backoff when it dies); with an inproc:// broker
// endpoint everything runs as threads of this one process, sharing one ZeroMQ context.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "digitpipe/deployment.hpp"
#include "digitpipe/log.hpp"
#include "digitpipe/mdp.hpp"
#include "digitpipe/plugin.hpp"
#include "digitpipe/supervisor.hpp"

namespace digitpipe::cli {
namespace fw = framework;
namespace {

std::filesystem::path program_dir() {
    return std::filesystem::canonical("/proc/self/exe").parent_path();
}

std::vector<std::filesystem::path> plugin_dirs(const fw::DeploymentConfig& deployment) {
    const auto it = deployment.paths.find("plugins");
    return {it != deployment.paths.end() ? it->second
                                         : std::filesystem::path(DIGITPIPE_DEFAULT_PLUGIN_DIR)};
}

// The flags every child gets so it reads the same effective configuration as we did.
std::vector<std::string> shared_flags(const programs::CommonFlags& common) {
    std::vector<std::string> flags{"--config", std::filesystem::absolute(common.config).string()};
    for (const auto& o : common.overrides) {
        flags.push_back("--set");
        flags.push_back(o);
    }
    if (common.verbose) flags.push_back("--verbose");
    return flags;
}

int run_supervised(const programs::CommonFlags& common, const fw::DeploymentConfig& deployment,
                   const fw::StopSignal& stop) {
    const auto bin = program_dir();
    const auto flags = shared_flags(common);
    fw::Supervisor supervisor(deployment.supervisor);

    std::vector<std::string> broker{(bin / "digitpipe-broker").string()};
    broker.insert(broker.end(), flags.begin(), flags.end());
    supervisor.add({"broker", broker});
    for (const auto& [name, stage] : deployment.stages) {
        for (int replica = 1; replica <= stage.replicas; ++replica) {
            std::vector<std::string> worker{(bin / "digitpipe-worker").string()};
            worker.insert(worker.end(), flags.begin(), flags.end());
            worker.insert(worker.end(), {"--stage", name});
            supervisor.add({"worker." + name + "." + std::to_string(replica), worker});
        }
    }
    std::cout << "digitpipe up: broker " << deployment.broker.endpoint;
    for (const auto& [name, stage] : deployment.stages) {
        std::cout << ", " << name << " x" << stage.replicas;
    }
    std::cout << " (Ctrl-C stops everything)" << std::endl;
    supervisor.run(stop.flag());
    std::cout << "digitpipe up: stopped" << std::endl;
    return 0;
}

int run_in_process(const programs::CommonFlags& common, const fw::DeploymentConfig& deployment,
                   const fw::StopSignal& stop) {
    zmq::context_t context(1);
    fw::Broker broker(context, fw::make_broker_options(deployment.broker, common.verbose));
    // Configure every stage before any thread starts, so a bad config fails with nothing
    // half-running.
    std::vector<std::unique_ptr<fw::StageHost>> hosts;
    for (const auto& [name, stage] : deployment.stages) {
        for (int replica = 1; replica <= stage.replicas; ++replica) {
            hosts.push_back(std::make_unique<fw::StageHost>(
                context, deployment, name,
                fw::StageHostOptions{plugin_dirs(deployment), common.verbose}));
        }
    }
    std::vector<std::thread> threads;
    threads.emplace_back([&] { broker.run(stop.flag()); });
    for (auto& host : hosts) threads.emplace_back([&, h = host.get()] { h->run(stop.flag()); });
    std::cout << "digitpipe up: in-process deployment on " << broker.endpoint() << ", "
              << hosts.size() << " workers (Ctrl-C stops everything)" << std::endl;
    for (auto& t : threads) t.join();
    std::cout << "digitpipe up: stopped" << std::endl;
    return 0;
}

}  // namespace

int run_up(const programs::CommonFlags& common, const fw::StopSignal& stop) {
    return programs::run_guarded("digitpipe up", [&] {
        const auto deployment = fw::load_deployment(common.config, common.overrides);
        if (deployment.broker.endpoint.starts_with("inproc://")) {
            return run_in_process(common, deployment, stop);
        }
        return run_supervised(common, deployment, stop);
    });
}

}  // namespace digitpipe::cli
