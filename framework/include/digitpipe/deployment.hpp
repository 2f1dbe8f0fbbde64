// A deployment: which broker, which stages with how many workers, which streams and paths.
// Parsed once at startup from one YAML file (configs/*.yaml) into typed structs; every problem
// is reported together before any process connects anywhere.
//
//   broker:
//     endpoint: tcp://127.0.0.1:5555     # MDP ROUTER (inproc://, ipc:// or tcp://)
//     events_in: tcp://127.0.0.1:5556    # XSUB: stages publish here
//     events_out: tcp://127.0.0.1:5557   # XPUB: the gateway and `digitpipe` subscribe here
//     heartbeat_ms: 1000
//     liveness: 3                        # a peer silent for heartbeat_ms x liveness is dead
//     max_message_bytes: 16777216        # ZMQ_MAXMSGSIZE on every socket that faces peers
//   stages:
//     echo:                              # stage name (the worker's --stage)
//       plugin: echo                     # loads libdigitpipe_stage_echo.so
//       service: digitpipe.echo          # default: digitpipe.<stage name>
//       replicas: 2                      # workers `digitpipe up` starts
//       prefetch: 1                      # requests the broker may send each worker ahead
//                                        # (1..1024; 1 = plain 7/MDP, see mdp.hpp)
//       env: {OMP_NUM_THREADS: "1"}      # set in its worker processes' environment
//       batch: {max_size: 16, max_wait_ms: 0}  # requests handed to Stage::process_batch
//                                        # together: those waiting, up to max_size, after
//                                        # gathering arrivals for max_wait_ms (max_size <=
//                                        # prefetch; default 1 = one at a time)
//       params: {...}                    # validated by the stage itself
//   streams:
//     augmented: {endpoint: ipc://@digitpipe-augmented, hwm: 8, bind: reader}
//   paths: {plugins: ../build/plugins, data: ../data, models: ../models, runs: ../runs}
//   gateway: {...}                       # validated by the gateway
//   supervisor: {restart_backoff_ms: 500, restart_backoff_max_ms: 10000, stop_grace_ms: 5000}
//   security:                            # CURVE on every tcp:// link (transport_security.hpp)
//     key: keys/hub.key                  # this process's key pair (`digitpipe keys hub`)
//     broker_public_key: keys/hub.pub    # the broker's public key
//     allowed_clients: [keys/clients]    # .pub files or folders of them: whom binding
//                                        # sockets (broker, stream readers) admit
//   streams.<name>.server_public_key: F  # the binding side's public key when it is not the
//                                        # broker's (default: security.broker_public_key)
// Relative paths are resolved against the file's folder. A tcp:// endpoint that leaves this
// host without `security` is refused by the programs unless they get --insecure
// (endpoints_leaving_host below).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "digitpipe/config.hpp"
#include "digitpipe/transport_security.hpp"

namespace digitpipe::framework {

struct BrokerConfig {
    std::string endpoint;
    std::string events_in;
    std::string events_out;
    std::chrono::milliseconds heartbeat{1000};
    int liveness = 3;
    std::size_t max_message_bytes = 16u << 20;
};

struct StageConfig {
    std::string name;     // key under `stages`
    std::string plugin;   // plugin name: libdigitpipe_stage_<plugin>.so
    std::string service;  // MDP service name
    int replicas = 1;
    // Requests the broker may hand each worker of this stage before the first is answered
    // (digitpipe's MDP prefetch extension), 1..1024. More hides the broker round trip between
    // requests, and lets requests that arrive together be batched (below).
    int prefetch = 1;
    // Requests the host hands to Stage::process_batch at once (1..prefetch) and how long the
    // worker gathers arrivals for a batch that is not full (0: only requests already waiting).
    int batch_max_size = 1;
    std::chrono::microseconds batch_max_wait{0};
    // Environment variables for this stage's worker processes (`digitpipe up` sets them;
    // inproc deployments, one process, cannot). E.g. OMP_NUM_THREADS: oneDNN workers that
    // share cores must not each spin up one OpenMP thread per core.
    std::map<std::string, std::string> env;
    ConfigNode params;  // the stage's own block, checked by Stage::configure
};

struct StreamConfig {
    std::string name;
    std::string endpoint;
    int hwm = 8;               // messages queued per peer before the writer blocks
    bool reader_binds = true;  // `bind: reader` (default; many writers, one reader) or `writer`
    // The binding side's CURVE public key (Z85), used by the connecting side when security
    // is enabled; defaults to security.broker_public_key.
    std::string server_public_key;
};

struct SupervisorConfig {
    std::chrono::milliseconds restart_backoff{500};
    std::chrono::milliseconds restart_backoff_max{10000};
    std::chrono::milliseconds stop_grace{5000};
};

struct DeploymentConfig {
    std::filesystem::path file;  // the YAML it came from
    BrokerConfig broker;
    std::map<std::string, StageConfig> stages;
    std::map<std::string, StreamConfig> streams;
    std::map<std::string, std::filesystem::path> paths;  // absolute, resolved against file's folder
    SupervisorConfig supervisor;
    SecurityConfig security{};          // keys read from the files the block names
    std::optional<ConfigNode> gateway;  // present when the deployment has a gateway
    ConfigNode root;                    // the whole effective document
};

// Loads and validates a deployment. Stage params and the gateway block are left for their
// owners to check (they are marked read here).
// throws: ConfigError listing every problem with file:line:col and key path.
DeploymentConfig load_deployment(const std::filesystem::path& file,
                                 const std::vector<std::string>& overrides = {});

// One tcp:// endpoint of a deployment that is not a loopback address ("tcp://10.0.0.1:5555",
// "tcp://*:5555", "tcp://broker:5555"): traffic on it may leave this machine.
struct ExposedEndpoint {
    std::string key_path;  // "broker.endpoint", "streams.augmented.endpoint"
    std::string endpoint;
};

// The deployment's tcp endpoints whose host is not 127.0.0.0/8, ::1 or localhost, in key
// order. Programs refuse to start when this is not empty and security is not enabled,
// unless told --insecure.
std::vector<ExposedEndpoint> endpoints_leaving_host(const DeploymentConfig& deployment);

// True for hosts only this machine can reach: 127.0.0.0/8 in dotted-quad form, "localhost"
// and "::1". Everything else (0.0.0.0, *, ::, a LAN address, another name such as
// "127.example.com") is beyond loopback.
bool is_loopback_host(std::string_view host) noexcept;

// True for a tcp:// endpoint whose host (after an optional "source;" part; IPv6 in brackets)
// is_loopback_host; false for every other endpoint, wildcards included.
bool is_loopback_tcp(std::string_view endpoint);

}  // namespace digitpipe::framework
