// MDP throughput: requests per second through a real digitpipe-broker process to N real
// digitpipe-worker processes serving the echo plugin, lock-step (one request in flight) or
// pipelined (a window of requests in flight), over tcp (127.0.0.1) or ipc, with the workers'
// prefetch credit (digitpipe's MDP extension; 1 = plain 7/MDP) set by --prefetch.
// Prints one Markdown table row. bench/run_mdp.sh runs the whole matrix.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>

#include <boost/program_options.hpp>

#include "digitpipe/envelope.hpp"
#include "digitpipe/mdp.hpp"
#include "support/process.hpp"

namespace fw = digitpipe::framework;
namespace ts = digitpipe::test_support;
namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kService = "digitpipe.echo";

std::size_t live_workers(zmq::context_t& context, const std::string& endpoint) {
    fw::Client client(context, {endpoint, std::chrono::milliseconds(500), 1});
    const auto services = client.services();
    if (!services || !services->count(kService)) return 0;
    const auto& s = services->at(kService);
    return s.workers_idle + s.workers_busy;
}

fw::Frames make_request(std::size_t payload_bytes) {
    fw::Request request;
    request.verb = "echo";
    request.correlation_id = fw::make_correlation_id();
    if (payload_bytes > 0) {
        request.payloads.push_back({"data", "bytes", {}, std::string(payload_bytes, 'x')});
    }
    return fw::encode_request(request);
}

}  // namespace

int main(int argc, char** argv) {
    po::options_description flags("digitpipe_bench_mdp [options]");
    flags.add_options()("help,h", "show this help")(
        "transport", po::value<std::string>()->default_value("ipc"), "tcp or ipc")(
        "workers", po::value<int>()->default_value(1), "echo worker processes")(
        "mode", po::value<std::string>()->default_value("pipelined"), "lockstep or pipelined")(
        "window", po::value<int>()->default_value(1000), "requests in flight (pipelined)")(
        "seconds", po::value<double>()->default_value(5.0), "measuring time")(
        "payload-bytes", po::value<std::size_t>()->default_value(16), "payload per request")(
        "prefetch", po::value<int>()->default_value(1),
        "requests each worker may hold (stages.echo.prefetch, 1..1024)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, flags), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "digitpipe_bench_mdp: " << e.what() << "\n" << flags;
        return 2;
    }
    if (vm.count("help")) {
        std::cout << flags;
        return 0;
    }
    const auto transport = vm["transport"].as<std::string>();
    const auto mode = vm["mode"].as<std::string>();
    const int workers = vm["workers"].as<int>();
    const int window = vm["window"].as<int>();
    const auto payload = vm["payload-bytes"].as<std::size_t>();
    const int prefetch = vm["prefetch"].as<int>();
    const auto measure = std::chrono::duration<double>(vm["seconds"].as<double>());
    if ((transport != "tcp" && transport != "ipc") || (mode != "lockstep" && mode != "pipelined") ||
        workers < 1 || window < 1 || prefetch < 1 || prefetch > fw::kMaxPrefetch) {
        std::cerr << "digitpipe_bench_mdp: bad flag value\n" << flags;
        return 2;
    }

    ts::TempDir dir;
    const std::string base = transport == "tcp" ? "tcp://127.0.0.1:*" : "ipc://" + dir.path().string();
    const auto config = dir.write(
        "bench.yaml",
        "broker:\n  endpoint: " + (transport == "tcp" ? base : base + "/broker") +
            "\nstages:\n  echo:\n    plugin: echo\npaths:\n  plugins: " DIGITPIPE_PLUGIN_DIR "\n");
    ts::Process broker(std::filesystem::path(DIGITPIPE_BIN_DIR) / "digitpipe-broker",
                       {"--config", config.string()}, true);
    const auto line = broker.read_line(std::chrono::seconds(20));
    if (!line) {
        std::cerr << "broker did not start\n";
        return 1;
    }
    const std::string endpoint = line->substr(9, line->find(' ') - 9);
    std::vector<std::unique_ptr<ts::Process>> worker_processes;
    for (int i = 0; i < workers; ++i) {
        worker_processes.push_back(std::make_unique<ts::Process>(
            std::filesystem::path(DIGITPIPE_BIN_DIR) / "digitpipe-worker",
            std::vector<std::string>{"--config", config.string(), "--stage", "echo", "--set",
                                     "broker.endpoint=" + endpoint, "--set",
                                     "stages.echo.prefetch=" + std::to_string(prefetch)}));
    }
    zmq::context_t context(1);
    if (!ts::wait_until([&] { return live_workers(context, endpoint) == std::size_t(workers); },
                        std::chrono::seconds(20))) {
        std::cerr << "workers did not register\n";
        return 1;
    }

    const fw::Frames body = make_request(payload);
    std::uint64_t done = 0;
    const auto start = Clock::now();
    Clock::time_point end;
    if (mode == "lockstep") {
        fw::Client client(context, {endpoint, std::chrono::milliseconds(5000), 1});
        while (Clock::now() - start < measure) {
            if (!client.request(kService, body)) {
                std::cerr << "request failed\n";
                return 1;
            }
            ++done;
        }
        end = Clock::now();
    } else {
        fw::AsyncClient client(context, endpoint);
        // A request that was not queued would never be answered and the window would shrink
        // silently, measuring less than it claims: a refused send ends the run.
        const auto send = [&] {
            const fw::Status status = client.send(kService, body);
            if (!status.is_ok()) std::cerr << "send failed: " << status.to_string() << "\n";
            return status.is_ok();
        };
        int in_flight = 0;
        for (; in_flight < window; ++in_flight) {
            if (!send()) return 1;
        }
        while (Clock::now() - start < measure) {
            if (!client.receive(std::chrono::milliseconds(5000))) {
                std::cerr << "reply timed out\n";
                return 1;
            }
            ++done;
            if (!send()) return 1;
        }
        end = Clock::now();
        while (--in_flight >= 0 && client.receive(std::chrono::milliseconds(5000))) {
        }
    }
    const double seconds = std::chrono::duration<double>(end - start).count();
    std::printf("| %s | %s | %d | %d | %zu | %.0f | %.1f |\n", transport.c_str(), mode.c_str(),
                workers, prefetch, payload, done / seconds, seconds * 1e6 / double(done));
    for (auto& w : worker_processes) w->signal(SIGTERM);
    broker.signal(SIGTERM);
    return 0;
}
