// Configuration: YAML documents as path-aware nodes that collect every problem.
//
// A ConfigNode is a view of one node in a loaded YAML document that remembers its file and
// key path ("stages.train.params"). Typed getters never throw on a bad value: they record a
// problem (with file:line:col and key path) in the document's shared problem list and return
// a fallback, so one pass reports every problem. finish() then throws one ConfigError listing
// them all, plus every map key under the node that nobody read (a typo fails loudly).
// Thread-safety: none; a document is read by one thread during startup.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace digitpipe::framework {

// One thing wrong with a configuration. line/column are 1-based; 0 when unknown (for example
// a value that came from a --set override, which `file` then names).
struct ConfigProblem {
    std::string file;
    int line = 0;
    int column = 0;
    std::string path;     // "stages.train.params.learning_rate"; empty for the document
    std::string message;  // "must be > 0, got -0.1"

    // "configs/x.yaml:14:7: stages.train.params.learning_rate: must be > 0, got -0.1"
    std::string to_string() const;
};

// Every problem found, in document order; what() lists them one per line.
class ConfigError : public std::runtime_error {
 public:
    explicit ConfigError(std::vector<ConfigProblem> problems);
    const std::vector<ConfigProblem>& problems() const noexcept { return problems_; }

 private:
    std::vector<ConfigProblem> problems_;
};

namespace detail {
struct ConfigDocument;  // the loaded tree, its file name, problems and read keys
}

class ConfigNode {
 public:
    // Loads a YAML file and applies `overrides` ("a.b.c=value"; value parsed as YAML, so
    // "3" is a number and "[1, 2]" a list; missing intermediate maps are created).
    // throws: ConfigError for an unreadable file, a syntax error (with its position), or a
    //         malformed override (naming it).
    static ConfigNode load_file(const std::filesystem::path& file,
                                const std::vector<std::string>& overrides = {});
    // Same from text; `file_label` stands in for the file name in messages.
    static ConfigNode parse(std::string_view text, std::string file_label,
                            const std::vector<std::string>& overrides = {});

    // ---- typed access; T is bool, int, std::int64_t, std::uint64_t, double, std::string,
    //      std::vector<int>, std::vector<double> or std::vector<std::string>.
    // A required value: records "missing key" (at this node's position) or "expected T, got
    // ..." (at the value's position) and returns T{} when absent or wrong.
    template <typename T>
    T get(std::string_view key) const;
    // An optional value: `fallback` when absent; a present value of the wrong type is still
    // a problem.
    template <typename T>
    T get_or(std::string_view key, T fallback) const;

    // True when the key is present (and not null). Counts as reading it.
    bool has(std::string_view key) const;
    // A required child map or sequence. When missing, records a problem and returns a view
    // of an empty map so callers can go on.
    ConfigNode child(std::string_view key) const;
    // An optional child; nullopt when absent.
    std::optional<ConfigNode> find(std::string_view key) const;
    // Map keys in document order (not counted as reads). Empty unless a map.
    std::vector<std::string> keys() const;
    // Sequence elements as nodes with paths "x[0]", "x[1]", ... Empty unless a sequence.
    std::vector<ConfigNode> elements() const;

    // Records a problem about `key` (or this node when key is empty), at its position.
    void report(std::string_view key, std::string message) const;
    // report(key, message) when !ok. Returns ok.
    bool check(bool ok, std::string_view key, std::string message) const;
    // Marks a key (and everything under it) as read, for blocks validated elsewhere.
    void mark_read(std::string_view key) const;

    // Throws ConfigError if any problem was recorded anywhere in the document, or if any map
    // key under this node was never read ("unknown key 'lerning_rate'"). No-op otherwise.
    void finish() const;
    // All problems recorded so far in the document (unread keys not included).
    std::vector<ConfigProblem> problems() const;

    bool is_map() const;
    bool is_sequence() const;
    bool is_scalar() const;
    const std::string& path() const noexcept { return path_; }
    const std::filesystem::path& file() const noexcept;
    // "file:line:col" of this node (without the path).
    std::string position() const;
    // The node as YAML text (the effective configuration, after overrides).
    std::string dump() const;
    const YAML::Node& yaml() const noexcept { return node_; }

 private:
    ConfigNode(std::shared_ptr<detail::ConfigDocument> doc, YAML::Node node, std::string path);
    std::string child_path(std::string_view key) const;

    std::shared_ptr<detail::ConfigDocument> doc_;
    YAML::Node node_;
    std::string path_;
};

}  // namespace digitpipe::framework
