// Fuzzes configuration loading: YAML text through ConfigNode (typed getters, walks, dump,
// finish) and through load_deployment, both with --set overrides.
// Input: the YAML text, then optionally a NUL byte and the overrides, one per line
// ("broker.liveness=3\nstages.echo.replicas=2"). load_deployment only reads files, so the text
// is written to a file in a private temporary folder (removed at exit).
// Properties: only ConfigError escapes; a deployment that loads satisfies the limits
// load_deployment documents and enforces.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "digitpipe/config.hpp"
#include "digitpipe/deployment.hpp"
#include "fuzz_common.hpp"

namespace {

namespace dp = digitpipe::framework;

// Bounds the walk below, so a document of aliases pointing at each other (a tree of
// exponential size in a few bytes) costs the fuzzer nothing; the code under test gets no
// such allowance.
constexpr int kMaxWalkNodes = 2000;
constexpr int kMaxWalkDepth = 32;

// The deployment file, in a folder of this process's own.
const std::filesystem::path& deployment_file() {
    static const std::filesystem::path file = [] {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "digitpipe-fuzz-config-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            std::perror("fuzz_config: mkdtemp");
            std::abort();
        }
        static const std::filesystem::path folder = pattern;
        std::atexit([] {
            std::error_code ignored;
            std::filesystem::remove_all(folder, ignored);
        });
        return folder / "deployment.yaml";
    }();
    return file;
}

// Reads every key of every map with every getter type, as stages and programs do.
void walk(const dp::ConfigNode& node, int depth, int& budget) {
    if (--budget < 0 || depth > kMaxWalkDepth) return;
    (void)node.position();
    for (const auto& key : node.keys()) {
        (void)node.has(key);
        (void)node.get_or<bool>(key, false);
        (void)node.get_or<int>(key, 0);
        (void)node.get_or<std::int64_t>(key, 0);
        (void)node.get_or<std::uint64_t>(key, 0);
        (void)node.get_or<double>(key, 0.0);
        (void)node.get_or<std::string>(key, "");
        (void)node.get_or<std::vector<int>>(key, {});
        (void)node.get_or<std::vector<double>>(key, {});
        (void)node.get_or<std::vector<std::string>>(key, {});
        if (auto child = node.find(key)) walk(*child, depth + 1, budget);
        (void)node.child_or_empty(key);
    }
    for (const auto& element : node.elements()) walk(element, depth + 1, budget);
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        const auto end = text.find('\n');
        lines.emplace_back(text.substr(0, end));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return lines;
}

void check_deployment(const dp::DeploymentConfig& deployment) {
    DIGITPIPE_FUZZ_CHECK(!deployment.broker.endpoint.empty());
    DIGITPIPE_FUZZ_CHECK(deployment.broker.heartbeat.count() > 0);
    DIGITPIPE_FUZZ_CHECK(deployment.broker.liveness >= 1);
    DIGITPIPE_FUZZ_CHECK(deployment.broker.max_message_bytes >= 1024);
    for (const auto& [name, stage] : deployment.stages) {
        DIGITPIPE_FUZZ_CHECK(name == stage.name && !name.empty());
        DIGITPIPE_FUZZ_CHECK(!stage.plugin.empty() && !stage.service.empty());
        DIGITPIPE_FUZZ_CHECK(stage.replicas >= 0 && stage.replicas <= 64);
        DIGITPIPE_FUZZ_CHECK(stage.prefetch >= 1 && stage.prefetch <= 1024);
        DIGITPIPE_FUZZ_CHECK(stage.batch_max_size >= 1 && stage.batch_max_size <= stage.prefetch);
        DIGITPIPE_FUZZ_CHECK(stage.batch_max_wait.count() >= 0 &&
                             stage.batch_max_wait.count() <= 1'000'000);
    }
    for (const auto& [name, stream] : deployment.streams) {
        DIGITPIPE_FUZZ_CHECK(!stream.endpoint.empty() && stream.hwm >= 1);
    }
    for (const auto& [name, path] : deployment.paths) DIGITPIPE_FUZZ_CHECK(path.is_absolute());
    DIGITPIPE_FUZZ_CHECK(deployment.supervisor.restart_backoff.count() > 0);
    DIGITPIPE_FUZZ_CHECK(deployment.supervisor.restart_backoff_max >=
                         deployment.supervisor.restart_backoff);
    DIGITPIPE_FUZZ_CHECK(deployment.supervisor.stop_grace.count() >= 0);
    (void)deployment.root.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nul = input.find('\0');
    const std::string_view text = input.substr(0, nul);
    const std::vector<std::string> overrides = nul == std::string_view::npos
                                                   ? std::vector<std::string>{}
                                                   : split_lines(input.substr(nul + 1));

    try {
        const dp::ConfigNode root = dp::ConfigNode::parse(text, "fuzz.yaml", overrides);
        int budget = kMaxWalkNodes;
        walk(root, 0, budget);
        (void)root.dump();
        for (const auto& problem : root.problems()) (void)problem.to_string();
        root.finish();
    } catch (const dp::ConfigError& error) {
        DIGITPIPE_FUZZ_CHECK(!error.problems().empty());
        DIGITPIPE_FUZZ_CHECK(error.what()[0] != '\0');
    }

    {
        std::ofstream out(deployment_file(), std::ios::binary | std::ios::trunc);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        DIGITPIPE_FUZZ_CHECK(out.good());
    }
    try {
        check_deployment(dp::load_deployment(deployment_file(), overrides));
    } catch (const dp::ConfigError& error) {
        DIGITPIPE_FUZZ_CHECK(!error.problems().empty());
        DIGITPIPE_FUZZ_CHECK(error.what()[0] != '\0');
    }
    return 0;
}
