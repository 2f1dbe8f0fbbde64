// Internals of the config area: the document every ConfigNode of one load shares, key-path
// helpers, YAML 1.2 core scalar decoding and --set overrides. Not installed; only
// framework/src/config/*.cpp include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "digitpipe/config.hpp"

namespace digitpipe::framework::detail {

// One loaded YAML tree with everything the views over it share. Owned by shared_ptr from
// every ConfigNode made from it; single-threaded like ConfigNode.
struct ConfigDocument {
    std::filesystem::path file;
    std::string file_label;  // file.string(), the `file` of problems about the text
    YAML::Node root;
    std::vector<ConfigProblem> problems;  // in the order recorded
    std::set<std::string, std::less<>> reads;     // key paths some getter looked at
    std::set<std::string, std::less<>> subtrees;  // mark_read(): finish() from above skips them
    // Paths standing in for a block that was missing or of the wrong kind: a problem was
    // already recorded, so missing keys inside them are not reported again.
    std::set<std::string, std::less<>> stand_ins;
    // (key path, "--set text"): values under the path came from that override. Later entries
    // win, as later overrides do.
    std::vector<std::pair<std::string, std::string>> overrides;

    // A problem shown at `display_path`, positioned at `mark`, unless `origin_path` lies under
    // an override: then it names the override with line 0.
    ConfigProblem make_problem(std::string_view display_path, std::string_view origin_path,
                               const YAML::Mark& mark, std::string message) const;
    void add_problem(std::string_view display_path, std::string_view origin_path,
                     const YAML::Mark& mark, std::string message);
    bool is_stand_in(std::string_view path) const;
};

// True when `path` is `ancestor` or lies under it ("a.b" under "a"; "a[0]" under "a").
bool path_within(std::string_view path, std::string_view ancestor);
// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string join_key(std::string_view parent, std::string_view key);
// "a" + 2 -> "a[2]".
std::string join_index(std::string_view parent, std::size_t index);

// How a value reads in a message: "'abc'", "'3' (quoted, so a string)", "a map", "a list",
// "nothing".
std::string describe(const YAML::Node& node);

// Decoders: nullopt and `out` set on success, else the message ("expected an integer, got
// 'abc'"); `out` is untouched on failure.
std::optional<std::string> decode_scalar(const YAML::Node& node, bool& out);
std::optional<std::string> decode_scalar(const YAML::Node& node, int& out);
std::optional<std::string> decode_scalar(const YAML::Node& node, std::int64_t& out);
std::optional<std::string> decode_scalar(const YAML::Node& node, std::uint64_t& out);
std::optional<std::string> decode_scalar(const YAML::Node& node, double& out);
std::optional<std::string> decode_scalar(const YAML::Node& node, std::string& out);

// Applies "a.b[0].c=value" overrides to doc.root in order and records which paths they own.
// throws: ConfigError listing every override that is malformed or cannot be applied.
void apply_overrides(ConfigDocument& doc, const std::vector<std::string>& overrides);

// The most map entries and list elements a document may hold with its aliases expanded. Real
// configurations hold hundreds; aliases of aliases can make a few hundred bytes expand to
// billions, which any walk of the tree would take hours over. The check itself walks up to
// this many (milliseconds; under the fuzzers' sanitizers well under a second).
inline constexpr std::size_t kMaxExpandedNodes = 20000;
// The deepest nesting of maps and lists a document may have. Real configurations nest a few
// levels; an alias inside its own anchor nests forever.
inline constexpr std::size_t kMaxDepth = 256;

// Records a problem for every repeated key in every map under `node` (yaml-cpp keeps both).
// throws: ConfigError when the tree under `node` holds more than kMaxExpandedNodes map entries
//         and list elements once aliases are expanded (one walk of it would not end), or nests
//         deeper than kMaxDepth (a cycle: an alias inside its own anchor).
void report_duplicate_keys(ConfigDocument& doc, const YAML::Node& node, const std::string& path);

}  // namespace digitpipe::framework::detail
