// A whole deployment as threads of this process: the broker and every stage's workers on one
// ZeroMQ context, for inproc:// deployments (`digitpipe up`, and `digitpipe train` / `eval`
// by default). Clients must use context() to reach inproc endpoints.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "digitpipe/deployment.hpp"
#include "digitpipe/host.hpp"
#include "digitpipe/mdp.hpp"

namespace digitpipe::cli {

class InProcessDeployment {
 public:
    // Binds the broker and configures every stage (stages.<name>.replicas workers each) before
    // any thread starts, so a bad config fails with nothing half-running.
    // throws: ConfigError, PluginError, zmq::error_t (as StageHost and Broker do).
    InProcessDeployment(const framework::DeploymentConfig& deployment, bool verbose);
    // Stops and joins every thread.
    ~InProcessDeployment();
    InProcessDeployment(const InProcessDeployment&) = delete;
    InProcessDeployment& operator=(const InProcessDeployment&) = delete;

    // Starts the broker and worker threads; they run until stop() (or `external_stop`).
    void start(const std::atomic<bool>* external_stop = nullptr);
    // Asks every thread to stop and joins them. Idempotent.
    void stop();

    zmq::context_t& context() noexcept { return context_; }
    const std::string& endpoint() const;
    std::size_t worker_count() const noexcept { return hosts_.size(); }

 private:
    zmq::context_t context_{1};
    std::unique_ptr<framework::Broker> broker_;
    std::vector<std::unique_ptr<framework::StageHost>> hosts_;
    std::atomic<bool> stop_{false};
    const std::atomic<bool>* external_stop_ = nullptr;
    std::vector<std::thread> threads_;
    std::thread watcher_;
};

// The plugin folders of a deployment: paths.plugins, else the build's plugin folder.
std::vector<std::filesystem::path> plugin_dirs(const framework::DeploymentConfig& deployment);

}  // namespace digitpipe::cli
