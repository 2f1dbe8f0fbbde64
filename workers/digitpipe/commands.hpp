// The `digitpipe` command's subcommands. Each returns the process exit code:
// 0 success, 1 runtime failure, 2 usage or configuration error (see program.hpp).
#pragma once

#include <string>

#include "digitpipe/host.hpp"
#include "program.hpp"

namespace digitpipe::cli {

// Starts the deployment (broker, workers) and supervises it until SIGINT/SIGTERM.
int run_up(const programs::CommonFlags& common, const framework::StopSignal& stop);

// Prints every service the broker knows with its idle/busy workers and queue depth.
int run_status(const programs::CommonFlags& common, int timeout_ms);

// Sends one request (verb + JSON header) to a service and prints the reply as JSON.
int run_request(const programs::CommonFlags& common, const std::string& service,
                const std::string& verb, const std::string& header_json, int timeout_ms);

}  // namespace digitpipe::cli
