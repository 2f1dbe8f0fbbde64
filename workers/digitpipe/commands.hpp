// The `digitpipe` command's subcommands. Each returns the process exit code:
// 0 success, 1 runtime failure, 2 usage or configuration error.
#pragma once

#include <string>
#include <vector>

#include "digitpipe/host.hpp"

namespace digitpipe::cli {

// Options every subcommand shares.
struct CommonOptions {
    std::string config;                  // deployment YAML
    std::vector<std::string> overrides;  // --set a.b=c
    bool verbose = false;
};

// Starts the deployment (broker, workers, gateway) and supervises it until SIGINT/SIGTERM.
int run_up(const CommonOptions& common, const framework::StopSignal& stop);

// Prints every service the broker knows with its idle/busy workers and queue depth.
int run_status(const CommonOptions& common, int timeout_ms);

// Sends one request (verb + JSON header) to a service and prints the reply as JSON.
int run_request(const CommonOptions& common, const std::string& service, const std::string& verb,
                const std::string& header_json, int timeout_ms);

}  // namespace digitpipe::cli
