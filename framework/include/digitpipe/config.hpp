// Configuration: YAML documents as path-aware nodes that collect every problem.
//
// A ConfigNode is a view of one node in a loaded YAML document that remembers its file and
// key path ("stages.train.params"). Typed getters never throw on a bad value: they record a
// problem (with file:line:col and key path) in the document's shared problem list and return
// a fallback, so one pass reports every problem. finish() then throws one ConfigError listing
// them all, plus every map key under the node that nobody read (a typo fails loudly).
// Reads are tracked by key path in the shared document: has(), get(), get_or(), child(),
// find() and child_or_empty() read their key; keys() and elements() do not. mark_read() hides
// a whole subtree from finish() calls made above it, so a block handed to its owner (a stage's
// `params`) is checked by the owner's own finish() on it.
// Scalars follow the YAML 1.2 core schema: integers are decimal, 0x hex or 0o octal; bool is
// true/false only (also True/TRUE, False/FALSE; never yes/no/on/off); numbers and bools must be
// plain (a quoted "3" is a string). A key whose value is null (`key:` or `key: ~`) counts as
// absent for has(), get() and get_or(), and as an empty map for child(), find() and
// child_or_empty().
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

    // "configs/x.yaml:14:7: stages.train.params.learning_rate: must be > 0, got -0.1";
    // without ":line:col" when line is 0, without "path: " when path is empty.
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
    // An empty map document labelled "<none>", so structs holding a ConfigNode can be
    // default-constructed.
    ConfigNode();
    // Copies share the document. Assignment rebinds the view and never writes into the YAML
    // tree (YAML::Node's own operator= would overwrite the node it points at). A moved-from
    // node may only be assigned to or destroyed.
    ConfigNode(const ConfigNode& other) = default;
    ConfigNode(ConfigNode&& other) noexcept;
    ConfigNode& operator=(const ConfigNode& other);
    ConfigNode& operator=(ConfigNode&& other) noexcept;
    ~ConfigNode() = default;

    // Loads a YAML file and applies `overrides` ("a.b.c=value" or "a.b[0].c=value"; value
    // parsed as YAML, so "3" is a number and "[1, 2]" a list; missing intermediate maps are
    // created; an index may name an existing element or append one). Overrides apply in order.
    // A problem about a value an override set or created names the override as its file
    // ("--set a.b.c=3") with line 0. Duplicate map keys are recorded as problems (finish()).
    // throws: ConfigError for an unreadable file (naming it and the errno text), a syntax error
    //         (with its position), or an override that is malformed or cannot be applied
    //         (a.b=1 where a is a string), naming the override.
    static ConfigNode load_file(const std::filesystem::path& file,
                                const std::vector<std::string>& overrides = {});
    // Same from text; `file_label` stands in for the file name in messages.
    static ConfigNode parse(std::string_view text, std::string file_label,
                            const std::vector<std::string>& overrides = {});

    // ---- typed access; T is bool, int, std::int64_t, std::uint64_t, double, std::string,
    //      std::vector<int>, std::vector<double> or std::vector<std::string>.
    // A required value: records "missing required key" (at this node's position), "has no
    // value" (at the key, for `key:` alone) or "expected T, got ..." (at the value's position)
    // and returns T{} when absent or wrong. A list records every bad element ("x[1]: ...").
    template <typename T>
    T get(std::string_view key) const;
    // An optional value: `fallback` when absent; a present value of the wrong type is still
    // a problem.
    template <typename T>
    T get_or(std::string_view key, T fallback) const;

    // True when the key is present (and not null). Counts as reading it.
    bool has(std::string_view key) const;
    // A required child map or sequence. When missing, records a problem and returns a view
    // of an empty map so callers can go on (missing keys inside it are not reported again).
    // A scalar child is a problem too, answered the same way.
    ConfigNode child(std::string_view key) const;
    // An optional child; nullopt when absent. A scalar child is a problem (as for child()).
    std::optional<ConfigNode> find(std::string_view key) const;
    // An optional child block: the child when present, else a view of an empty map at the
    // key's path (no problem recorded), so its owner can still report missing keys in it.
    ConfigNode child_or_empty(std::string_view key) const;
    // Map keys in document order (not counted as reads). Empty unless a map.
    std::vector<std::string> keys() const;
    // Sequence elements as nodes with paths "x[0]", "x[1]", ... Empty unless a sequence.
    std::vector<ConfigNode> elements() const;

    // Records a problem about `key` (or this node when key is empty), at its position.
    void report(std::string_view key, std::string message) const;
    // report(key, message) when !ok. Returns ok.
    bool check(bool ok, std::string_view key, std::string message) const;
    // Marks a key (this node when key is empty) and everything under it as read, for blocks
    // validated elsewhere: finish() on an ancestor skips them; finish() on the block itself
    // still checks what was read inside it.
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
    // "file:line:col" of this node (without the path); just the override ("--set a=1") for a
    // node an override set.
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
    // Where problems about this node point: node_.Mark(), or for a stand-in (an empty map for
    // a missing or null block, which has no mark of its own) the nearest real position.
    YAML::Mark mark_;
};

}  // namespace digitpipe::framework
