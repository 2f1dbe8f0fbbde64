// load_deployment: the schema of a deployment file (configs/*.yaml, documented in
// deployment.hpp) checked in one pass over a ConfigNode, so the broker, the workers and the
// `digitpipe` command all refuse a bad deployment with every problem listed, before anything
// binds or connects. Stage params and the gateway block are left to their owners.
#include "digitpipe/deployment.hpp"

#include "digitpipe/key_files.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace digitpipe::framework {
namespace {

// Transports an endpoint may name: one process, one machine, many machines.
constexpr std::array<std::string_view, 3> kEndpointSchemes = {"inproc://", "ipc://", "tcp://"};
// A stage's service unless it names one: digitpipe.<stage>.
constexpr std::string_view kServicePrefix = "digitpipe.";
// 8/MMI reserves this prefix for the broker's own services.
constexpr std::string_view kReservedServicePrefix = "mmi.";
// The most workers one stage may ask `digitpipe up` for; more is a typo on one machine.
constexpr int kReplicasMax = 64;
// The largest prefetch credit: kMaxPrefetch in digitpipe/mdp.hpp (not included here, so the
// config library does not depend on ZeroMQ; deployment_test checks that they agree).
constexpr int kPrefetchMax = 1024;
// Below this no envelope with its JSON header fits in a message.
constexpr std::uint64_t kMaxMessageBytesMin = 1024;
static_assert(sizeof(std::size_t) >= sizeof(std::uint64_t),
              "max_message_bytes is read as 64 bits and stored as size_t");

// Plugin, stage and stream names: they become file names, flags and service names.
bool is_name(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

bool is_endpoint(std::string_view text) {
    return std::any_of(kEndpointSchemes.begin(), kEndpointSchemes.end(),
                       [&](std::string_view scheme) {
                           return text.starts_with(scheme) && text.size() > scheme.size();
                       });
}

// A tcp port of * or 0 asks the system for a free one, so two of them never collide.
bool is_wildcard(std::string_view endpoint) {
    return endpoint.starts_with("tcp://") && (endpoint.ends_with(":*") || endpoint.ends_with(":0"));
}

bool is_service_name(std::string_view text) {
    return !text.empty() && !text.starts_with(kReservedServicePrefix) &&
           std::none_of(text.begin(), text.end(),
                        [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// One endpoint a deployment binds or connects to, to catch two sockets on one address.
struct EndpointUse {
    ConfigNode block;
    std::string key;
    std::string endpoint;
};

// A string that decoded cleanly, or nullopt when absent or already reported (a check on a
// value that failed to decode would only repeat the first problem).
std::optional<std::string> read_string(const ConfigNode& block, std::string_view key,
                                       bool required) {
    const std::size_t before = block.problems().size();
    std::string value =
        required ? block.get<std::string>(key) : block.get_or<std::string>(key, std::string());
    if (block.problems().size() != before || !block.has(key)) {
        return std::nullopt;
    }
    return value;
}

std::string read_endpoint(const ConfigNode& block, std::string_view key, bool required,
                          std::vector<EndpointUse>& uses) {
    auto value = read_string(block, key, required);
    if (!value) {
        return {};
    }
    if (!is_endpoint(*value)) {
        block.report(key, "expected an endpoint starting with inproc://, ipc:// or tcp://, got '" +
                              *value + "'");
    } else {
        uses.push_back(EndpointUse{block, std::string(key), *value});
    }
    return *value;
}

// True when the block is a map. A scalar block was already reported (and replaced by an empty
// map) by find()/child(); a list is reported here.
bool require_map(const ConfigNode& block, std::string_view what) {
    if (block.is_sequence()) {
        block.report("", "expected " + std::string(what) + ", got a list");
        return false;
    }
    return block.is_map();
}

// Map keys once each: a duplicate key is already a problem of its own.
std::vector<std::string> unique_keys(const ConfigNode& block) {
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (auto& name : block.keys()) {
        if (seen.insert(name).second) {
            names.push_back(std::move(name));
        }
    }
    return names;
}

void read_broker(const ConfigNode& broker, BrokerConfig& out, std::vector<EndpointUse>& uses) {
    const BrokerConfig defaults;
    out.endpoint = read_endpoint(broker, "endpoint", /*required=*/true, uses);
    out.events_in = read_endpoint(broker, "events_in", /*required=*/false, uses);
    out.events_out = read_endpoint(broker, "events_out", /*required=*/false, uses);
    const bool has_in = broker.has("events_in");
    const bool has_out = broker.has("events_out");
    if (has_in != has_out) {
        // The event proxy has two sides; one alone would leave publishers or subscribers
        // with nothing to talk to.
        broker.report(has_in ? "events_in" : "events_out",
                      std::string("events_in and events_out go together: ") +
                          (has_in ? "events_out" : "events_in") + " is missing");
    }

    const auto heartbeat_ms = broker.get_or<std::int64_t>(
        "heartbeat_ms", static_cast<std::int64_t>(defaults.heartbeat.count()));
    if (broker.check(heartbeat_ms > 0, "heartbeat_ms",
                     "must be > 0, got " + std::to_string(heartbeat_ms))) {
        out.heartbeat = std::chrono::milliseconds(heartbeat_ms);
    }
    const int liveness = broker.get_or<int>("liveness", defaults.liveness);
    if (broker.check(liveness >= 1, "liveness", "must be >= 1, got " + std::to_string(liveness))) {
        out.liveness = liveness;
    }
    const auto max_bytes = broker.get_or<std::uint64_t>(
        "max_message_bytes", static_cast<std::uint64_t>(defaults.max_message_bytes));
    if (broker.check(max_bytes >= kMaxMessageBytesMin, "max_message_bytes",
                     "must be >= " + std::to_string(kMaxMessageBytesMin) + ", got " +
                         std::to_string(max_bytes))) {
        out.max_message_bytes = static_cast<std::size_t>(max_bytes);
    }
}

void read_stages(const ConfigNode& root, std::map<std::string, StageConfig>& out) {
    auto stages = root.find("stages");
    if (!stages) {
        return;
    }
    if (!require_map(*stages, "a map of stage name to stage block")) {
        root.mark_read("stages");
        return;
    }
    std::map<std::string, std::string> service_owners;  // service -> stage
    for (const auto& name : unique_keys(*stages)) {
        ConfigNode stage = stages->child(name);
        if (!is_name(name)) {
            stage.report("", "stage name must match [a-z0-9_]+, got '" + name + "'");
        }
        if (!require_map(
                stage, "a stage block (plugin, service, replicas, prefetch, batch, env, params)")) {
            stages->mark_read(name);
            continue;
        }
        StageConfig config;
        config.name = name;
        if (auto plugin = read_string(stage, "plugin", /*required=*/true)) {
            stage.check(is_name(*plugin), "plugin",
                        "expected a plugin name matching [a-z0-9_]+, got '" + *plugin + "'");
            config.plugin = *plugin;
        }
        config.service = std::string(kServicePrefix) + name;
        if (auto service = read_string(stage, "service", /*required=*/false)) {
            stage.check(is_service_name(*service), "service",
                        "expected a service name without spaces and not starting with '" +
                            std::string(kReservedServicePrefix) + "', got '" + *service + "'");
            config.service = *service;
        }
        auto [owner, inserted] = service_owners.emplace(config.service, name);
        if (!inserted) {
            stage.report("service", "service '" + config.service + "' is already used by stage '" +
                                        owner->second + "'; each stage needs its own service");
        }
        const int replicas = stage.get_or<int>("replicas", config.replicas);
        if (stage.check(replicas >= 0 && replicas <= kReplicasMax, "replicas",
                        "must be in 0.." + std::to_string(kReplicasMax) + ", got " +
                            std::to_string(replicas))) {
            config.replicas = replicas;
        }
        const int prefetch = stage.get_or<int>("prefetch", config.prefetch);
        if (stage.check(prefetch >= 1 && prefetch <= kPrefetchMax, "prefetch",
                        "must be in 1.." + std::to_string(kPrefetchMax) + ", got " +
                            std::to_string(prefetch))) {
            config.prefetch = prefetch;
        }
        if (auto batch = stage.find("batch")) {
            if (require_map(*batch, "a map {max_size, max_wait_ms}")) {
                const int max_size = batch->get_or<int>("max_size", config.batch_max_size);
                if (batch->check(max_size >= 1 && max_size <= config.prefetch, "max_size",
                                 "must be in 1..prefetch (" + std::to_string(config.prefetch) +
                                     "): a worker can only batch requests it holds, got " +
                                     std::to_string(max_size))) {
                    config.batch_max_size = max_size;
                }
                const double wait_ms = batch->get_or<double>("max_wait_ms", 0.0);
                if (batch->check(wait_ms >= 0.0 && wait_ms <= 1000.0, "max_wait_ms",
                                 "must be in [0, 1000]")) {
                    config.batch_max_wait = std::chrono::microseconds(
                        static_cast<std::int64_t>(wait_ms * 1000.0 + 0.5));
                }
            } else {
                stage.mark_read("batch");
            }
        }
        if (auto env = stage.find("env")) {
            if (require_map(*env, "a map of environment variable name to value")) {
                for (const auto& key : env->keys()) {
                    const bool name_ok =
                        !key.empty() &&
                        (std::isupper(static_cast<unsigned char>(key[0])) || key[0] == '_') &&
                        std::all_of(key.begin(), key.end(), [](char c) {
                            return std::isupper(static_cast<unsigned char>(c)) ||
                                   std::isdigit(static_cast<unsigned char>(c)) || c == '_';
                        });
                    if (!env->check(name_ok, key,
                                    "environment variable names are [A-Z_][A-Z0-9_]*")) {
                        env->mark_read(key);
                        continue;
                    }
                    if (const auto value = read_string(*env, key, /*required=*/true)) {
                        config.env[key] = *value;
                    }
                }
            } else {
                stage.mark_read("env");
            }
        }
        // The stage validates its own params in Stage::configure (and finish()es them there).
        ConfigNode params = stage.child_or_empty("params");
        require_map(params, "a map");
        stage.mark_read("params");
        config.params = params;
        out.emplace(name, std::move(config));
    }
}

// Relative paths in a deployment mean "next to this file", wherever the command runs from.
std::filesystem::path base_folder(const std::filesystem::path& file) {
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(file, error);
    return (error ? file : absolute).parent_path();
}

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& text) {
    const std::filesystem::path path(text);
    return (path.is_absolute() ? path : base / path).lexically_normal();
}

// The key file `text` names (relative to `base`), or nullopt with the problem reported at key.
std::optional<KeyFile> read_keys(const ConfigNode& block, std::string_view key,
                                 const std::filesystem::path& base, const std::string& text,
                                 bool need_secret) {
    if (!block.check(!text.empty(), key, "expected a key file, got ''")) return std::nullopt;
    auto keys = read_key_file(resolve(base, text), need_secret);
    if (!keys) {
        block.report(key, keys.status().message());
        return std::nullopt;
    }
    return *keys;
}

// The public keys in `entry`: one .pub (or .key) file, or every *.pub file in a folder.
void read_allowed(const ConfigNode& list, const std::string& key, const std::filesystem::path& base,
                  const std::string& entry, std::vector<std::string>& out) {
    const auto path = resolve(base, entry);
    std::error_code error;
    if (!std::filesystem::is_directory(path, error)) {
        if (auto keys = read_keys(list, key, base, entry, false)) out.push_back(keys->public_key);
        return;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& item : std::filesystem::directory_iterator(path, error)) {
        if (item.path().extension() == ".pub") files.push_back(item.path());
    }
    std::sort(files.begin(), files.end());  // a stable order for logs and tests
    if (!list.check(!error && !files.empty(), key,
                    "folder " + path.string() + " holds no .pub files" +
                        (error ? " (" + error.message() + ")" : std::string()))) {
        return;
    }
    for (const auto& file : files) {
        if (auto keys = read_keys(list, key, base, file.string(), false)) {
            out.push_back(keys->public_key);
        }
    }
}

void read_security(const ConfigNode& root, const std::filesystem::path& base,
                   SecurityConfig& out) {
    auto security = root.find("security");
    if (!security) return;
    if (!require_map(*security, "a map {key, broker_public_key, allowed_clients}")) {
        root.mark_read("security");
        return;
    }
    if (auto file = read_string(*security, "key", /*required=*/true)) {
        if (auto keys = read_keys(*security, "key", base, *file, /*need_secret=*/true)) {
            out.public_key = keys->public_key;
            out.secret_key = keys->secret_key;
        }
    }
    if (auto file = read_string(*security, "broker_public_key", /*required=*/true)) {
        if (auto keys = read_keys(*security, "broker_public_key", base, *file, false)) {
            out.broker_public_key = keys->public_key;
        }
    }
    // Optional: only processes that bind (the broker, stream readers) consult it, and they
    // refuse to start with an empty one (curve.hpp).
    if (auto list = security->find("allowed_clients")) {
        if (!list->is_sequence()) {
            security->report("allowed_clients", "expected a list of .pub files or folders");
            return;
        }
        for (const auto& element : list->elements()) {
            if (!element.check(element.is_scalar(), "", "expected a .pub file or a folder")) {
                continue;
            }
            read_allowed(element, "", base, element.yaml().Scalar(), out.allowed_clients);
        }
    }
}

void read_streams(const ConfigNode& root, const std::filesystem::path& base,
                  std::map<std::string, StreamConfig>& out, std::vector<EndpointUse>& uses) {
    auto streams = root.find("streams");
    if (!streams) {
        return;
    }
    if (!require_map(*streams, "a map of stream name to stream block")) {
        root.mark_read("streams");
        return;
    }
    for (const auto& name : unique_keys(*streams)) {
        ConfigNode stream = streams->child(name);
        if (!is_name(name)) {
            stream.report("", "stream name must match [a-z0-9_]+, got '" + name + "'");
        }
        if (!require_map(stream, "a stream block (endpoint, hwm, bind)")) {
            streams->mark_read(name);
            continue;
        }
        StreamConfig config;
        config.name = name;
        config.endpoint = read_endpoint(stream, "endpoint", /*required=*/true, uses);
        const int hwm = stream.get_or<int>("hwm", config.hwm);
        if (stream.check(hwm >= 1, "hwm", "must be >= 1, got " + std::to_string(hwm))) {
            config.hwm = hwm;
        }
        if (auto bind = read_string(stream, "bind", /*required=*/false)) {
            if (stream.check(*bind == "reader" || *bind == "writer", "bind",
                             "expected 'reader' or 'writer', got '" + *bind + "'")) {
                config.reader_binds = *bind == "reader";
            }
        }
        if (auto key_file = read_string(stream, "server_public_key", /*required=*/false)) {
            if (auto keys = read_keys(stream, "server_public_key", base, *key_file, false)) {
                config.server_public_key = keys->public_key;
            }
        }
        out.emplace(name, std::move(config));
    }
}

void read_paths(const ConfigNode& root, const std::filesystem::path& base,
                std::map<std::string, std::filesystem::path>& out) {
    auto paths = root.find("paths");
    if (!paths) {
        return;
    }
    if (!require_map(*paths, "a map of name to path")) {
        root.mark_read("paths");
        return;
    }
    for (const auto& name : unique_keys(*paths)) {
        auto text = read_string(*paths, name, /*required=*/true);
        if (!text) {
            continue;
        }
        if (!paths->check(!text->empty(), name, "expected a path, got ''")) {
            continue;
        }
        out[name] = resolve(base, *text);
    }
}

void read_supervisor(const ConfigNode& root, SupervisorConfig& out) {
    auto supervisor = root.find("supervisor");
    if (!supervisor) {
        return;
    }
    if (!require_map(*supervisor, "a map")) {
        root.mark_read("supervisor");
        return;
    }
    const SupervisorConfig defaults;
    const auto backoff_ms = supervisor->get_or<std::int64_t>(
        "restart_backoff_ms", static_cast<std::int64_t>(defaults.restart_backoff.count()));
    if (supervisor->check(backoff_ms > 0, "restart_backoff_ms",
                          "must be > 0, got " + std::to_string(backoff_ms))) {
        out.restart_backoff = std::chrono::milliseconds(backoff_ms);
    }
    // The cap defaults to at least the first delay, so raising only restart_backoff_ms is valid.
    const auto backoff_max_ms = supervisor->get_or<std::int64_t>(
        "restart_backoff_max_ms",
        static_cast<std::int64_t>(
            std::max(defaults.restart_backoff_max, out.restart_backoff).count()));
    if (supervisor->check(backoff_max_ms >= out.restart_backoff.count(), "restart_backoff_max_ms",
                          "must be >= restart_backoff_ms (" +
                              std::to_string(out.restart_backoff.count()) + "), got " +
                              std::to_string(backoff_max_ms))) {
        out.restart_backoff_max = std::chrono::milliseconds(backoff_max_ms);
    }
    const auto grace_ms = supervisor->get_or<std::int64_t>(
        "stop_grace_ms", static_cast<std::int64_t>(defaults.stop_grace.count()));
    if (supervisor->check(grace_ms >= 0, "stop_grace_ms",
                          "must be >= 0, got " + std::to_string(grace_ms))) {
        out.stop_grace = std::chrono::milliseconds(grace_ms);
    }
}

// Two sockets binding one address fail at run time with EADDRINUSE far from the config.
void report_shared_endpoints(const std::vector<EndpointUse>& uses) {
    std::map<std::string, std::string> first_use;  // endpoint -> key path
    for (const auto& use : uses) {
        if (is_wildcard(use.endpoint)) {
            continue;
        }
        const std::string path =
            use.block.path().empty() ? use.key : use.block.path() + "." + use.key;
        auto [first, inserted] = first_use.emplace(use.endpoint, path);
        if (!inserted) {
            use.block.report(use.key,
                             "endpoint '" + use.endpoint + "' is already used by " + first->second);
        }
    }
}

}  // namespace

DeploymentConfig load_deployment(const std::filesystem::path& file,
                                 const std::vector<std::string>& overrides) {
    DeploymentConfig deployment;
    deployment.file = file;
    deployment.root = ConfigNode::load_file(file, overrides);
    const ConfigNode& root = deployment.root;
    std::vector<EndpointUse> endpoints;

    const auto base = base_folder(file);
    read_broker(root.child("broker"), deployment.broker, endpoints);
    read_stages(root, deployment.stages);
    read_streams(root, base, deployment.streams, endpoints);
    read_paths(root, base, deployment.paths);
    read_security(root, base, deployment.security);
    for (auto& [name, stream] : deployment.streams) {
        if (stream.server_public_key.empty()) {
            stream.server_public_key = deployment.security.broker_public_key;
        }
    }
    read_supervisor(root, deployment.supervisor);
    if (auto gateway = root.find("gateway")) {
        require_map(*gateway, "a map");
        root.mark_read("gateway");  // the gateway validates its own block
        deployment.gateway = *gateway;
    }
    report_shared_endpoints(endpoints);

    root.finish();
    return deployment;
}

bool is_loopback_host(std::string_view host) noexcept {
    if (host == "localhost" || host == "::1") return true;
    // "127.a.b.c", each part a decimal 0..255 without sign.
    int parts = 0;
    unsigned first = 0;
    while (true) {
        const auto dot = host.find('.');
        const auto piece = host.substr(0, dot);
        unsigned value = 0;
        const auto [end, error] = std::from_chars(piece.data(), piece.data() + piece.size(), value);
        if (piece.empty() || piece.size() > 3 || error != std::errc() ||
            end != piece.data() + piece.size() || value > 255) {
            return false;
        }
        if (parts++ == 0) first = value;
        if (dot == std::string_view::npos) break;
        host.remove_prefix(dot + 1);
    }
    return parts == 4 && first == 127;
}

bool is_loopback_tcp(std::string_view endpoint) {
    constexpr std::string_view kTcp = "tcp://";
    if (!endpoint.starts_with(kTcp)) return false;
    std::string_view address = endpoint.substr(kTcp.size());
    if (const auto semicolon = address.find(';'); semicolon != std::string_view::npos) {
        address = address.substr(semicolon + 1);  // "source;destination": where it goes
    }
    const auto colon = address.rfind(':');
    std::string_view host = address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    return is_loopback_host(host);
}

std::vector<ExposedEndpoint> endpoints_leaving_host(const DeploymentConfig& deployment) {
    std::vector<ExposedEndpoint> exposed;
    const auto note = [&](const std::string& key_path, const std::string& endpoint) {
        if (endpoint.starts_with("tcp://") && !is_loopback_tcp(endpoint)) {
            exposed.push_back({key_path, endpoint});
        }
    };
    note("broker.endpoint", deployment.broker.endpoint);
    note("broker.events_in", deployment.broker.events_in);
    note("broker.events_out", deployment.broker.events_out);
    for (const auto& [name, stream] : deployment.streams) {
        note("streams." + name + ".endpoint", stream.endpoint);
    }
    return exposed;
}

}  // namespace digitpipe::framework
