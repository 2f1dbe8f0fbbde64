// InProcessDeployment (see in_process.hpp).
#include "in_process.hpp"

#include <chrono>

namespace digitpipe::cli {
namespace fw = framework;

std::vector<std::filesystem::path> plugin_dirs(const fw::DeploymentConfig& deployment) {
    const auto it = deployment.paths.find("plugins");
    return {it != deployment.paths.end() ? it->second
                                         : std::filesystem::path(DIGITPIPE_DEFAULT_PLUGIN_DIR)};
}

InProcessDeployment::InProcessDeployment(const fw::DeploymentConfig& deployment, bool verbose) {
    broker_ =
        std::make_unique<fw::Broker>(context_, fw::make_broker_options(deployment.broker, verbose));
    for (const auto& [name, stage] : deployment.stages) {
        for (int replica = 1; replica <= stage.replicas; ++replica) {
            hosts_.push_back(std::make_unique<fw::StageHost>(
                context_, deployment, name,
                fw::StageHostOptions{plugin_dirs(deployment), verbose}));
        }
    }
}

InProcessDeployment::~InProcessDeployment() {
    stop();
}

const std::string& InProcessDeployment::endpoint() const {
    return broker_->endpoint();
}

void InProcessDeployment::start(const std::atomic<bool>* external_stop) {
    external_stop_ = external_stop;
    threads_.emplace_back([this] { broker_->run(stop_); });
    for (auto& host : hosts_) {
        threads_.emplace_back([this, h = host.get()] { h->run(stop_); });
    }
    if (external_stop_ != nullptr) {
        // Hosts and broker watch one flag; this relays the signal flag into it.
        watcher_ = std::thread([this] {
            while (!stop_.load() && !external_stop_->load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            stop_.store(true);
        });
    }
}

void InProcessDeployment::stop() {
    stop_.store(true);
    if (watcher_.joinable()) watcher_.join();
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    threads_.clear();
}

}  // namespace digitpipe::cli
