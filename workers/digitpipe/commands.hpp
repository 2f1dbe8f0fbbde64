// The `digitpipe` command's subcommands. Each returns the process exit code:
// 0 success, 1 runtime failure, 2 usage or configuration error (see program.hpp).
#pragma once

#include <string>

#include "digitpipe/host.hpp"
#include "program.hpp"

namespace digitpipe::cli {

// Starts the deployment (broker, workers, gateway) and supervises it until SIGINT/SIGTERM.
// `only` (from --only, comma-separated) limits it to some parts, "broker", "gateway" and stage
// names, so each host of a multi-host deployment runs its share of one deployment file;
// empty = every part. An unknown part is a usage error (2) naming the known ones.
int run_up(const programs::CommonFlags& common, const std::string& only,
           const framework::StopSignal& stop);

// Writes a CURVE key pair DIR/NAME.key (secret, mode 600) and DIR/NAME.pub, or with `token`
// a random bearer token file for the gateway (gateway.token_file). Refuses to overwrite.
int run_keys(const std::string& name, const std::string& dir, const std::string& token_file);

// Prints every service the broker knows with its idle/busy workers and queue depth.
int run_status(const programs::CommonFlags& common, int timeout_ms);

// Sends one request (verb + JSON header) to a service and prints the reply as JSON.
int run_request(const programs::CommonFlags& common, const std::string& service,
                const std::string& verb, const std::string& header_json, int timeout_ms);

// Runs an experiment (or resumes run `resume`) on the deployment's train stage, showing its
// progress; common.overrides apply to the experiment. Exit 0 finished, 1 failed, 2 a bad
// experiment, 130 cancelled (Ctrl-C).
int run_train(const programs::CommonFlags& common, const std::string& experiment_file,
              const std::string& resume, const framework::StopSignal& stop);

// Evaluates a model file on the evaluate stage and prints accuracy, per-class metrics, the
// confusion matrix and the most confidently wrong examples (or the reply's JSON).
int run_eval(const programs::CommonFlags& common, const std::string& model,
             const std::string& dataset, bool as_json, const framework::StopSignal& stop);

}  // namespace digitpipe::cli
