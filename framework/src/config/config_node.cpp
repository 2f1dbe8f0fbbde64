// ConfigNode: path-aware views over one loaded YAML document, the problems they collect and
// the reads they track for finish(). Loading (file, text, overrides, duplicate keys) starts
// here too; the deployment schema (deployment.cpp) and every stage read their config through it.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <system_error>
#include <tuple>

#include "config/document.hpp"

namespace digitpipe::framework {

using detail::ConfigDocument;

namespace {

// The file label of a default-constructed node, which no file stands behind.
constexpr std::string_view kNoFileLabel = "<none>";
// Bytes read per fread() call when loading a file.
constexpr std::size_t kReadChunkBytes = 64 * 1024;

// One map entry: the key node (for its position) and the value.
struct Entry {
    YAML::Node key;
    YAML::Node value;
};

// Looks a key up by walking the map: yaml-cpp's const operator[] throws on scalars and its
// non-const one inserts the key. With duplicate keys the first wins, as in yaml-cpp.
std::optional<Entry> find_entry(const YAML::Node& map, std::string_view key) {
    if (!map.IsMap()) {
        return std::nullopt;
    }
    for (auto it = map.begin(); it != map.end(); ++it) {
        if (it->first.IsScalar() && it->first.Scalar() == key) {
            return Entry{it->first, it->second};
        }
    }
    return std::nullopt;
}

// Where to point at an entry. A null value's mark is the next token's (often the next line),
// so point at its key instead.
YAML::Mark entry_mark(const Entry& entry) {
    if (entry.value.IsNull() || entry.value.Mark().is_null()) {
        return entry.key.Mark();
    }
    return entry.value.Mark();
}

std::string key_text(const YAML::Node& key) {
    return key.IsScalar() ? key.Scalar() : YAML::Dump(key);
}

// Sort key of a problem: (0, line, column) in the file, (1, override index, 0) for an override.
std::tuple<int, int, int> problem_rank(const ConfigProblem& problem, const ConfigDocument& doc) {
    if (problem.file == doc.file_label) {
        return {0, problem.line, problem.column};
    }
    for (std::size_t i = 0; i < doc.overrides.size(); ++i) {
        if (doc.overrides[i].second == problem.file) {
            return {1, static_cast<int>(i), 0};
        }
    }
    return {2, 0, 0};
}

// Drops repeats (a getter called twice on one bad value) and orders problems as the document
// reads: the file's by position, then those naming overrides in the order the overrides were
// given, then any others, as recorded.
std::vector<ConfigProblem> normalize(std::vector<ConfigProblem> problems,
                                     const ConfigDocument& doc) {
    std::vector<ConfigProblem> unique;
    std::set<std::tuple<std::string, int, int, std::string, std::string>> seen;
    for (auto& problem : problems) {
        if (seen.emplace(problem.file, problem.line, problem.column, problem.path,
                         problem.message)
                .second) {
            unique.push_back(std::move(problem));
        }
    }
    std::stable_sort(unique.begin(), unique.end(),
                     [&](const ConfigProblem& a, const ConfigProblem& b) {
                         return problem_rank(a, doc) < problem_rank(b, doc);
                     });
    return unique;
}

std::shared_ptr<ConfigDocument> make_document(YAML::Node root, std::filesystem::path file) {
    auto doc = std::make_shared<ConfigDocument>();
    doc->file = std::move(file);
    doc->file_label = doc->file.string();
    // An empty document is an empty map, so every lookup and override works on it.
    if (!root.IsDefined() || root.IsNull()) {
        root.reset(YAML::Node(YAML::NodeType::Map));
    }
    doc->root.reset(root);
    return doc;
}

std::shared_ptr<ConfigDocument> load_document(const std::string& text,
                                              const std::filesystem::path& file,
                                              const std::vector<std::string>& overrides) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& error) {
        ConfigDocument scratch;
        scratch.file_label = file.string();
        throw ConfigError(
            {scratch.make_problem("", "", error.mark, "YAML syntax error: " + error.msg)});
    }
    auto doc = make_document(root, file);
    detail::apply_overrides(*doc, overrides);
    detail::report_duplicate_keys(*doc, doc->root, "");
    return doc;
}

// Appends an "unknown key" problem for every key under `node` that nobody read. mark_read()
// subtrees are skipped; an unread key's children are not listed (the key itself is the typo).
void collect_unread(const ConfigDocument& doc, const YAML::Node& node, const std::string& path,
                    std::vector<ConfigProblem>& out) {
    if (node.IsMap()) {
        std::set<std::string, std::less<>> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
            std::string name = key_text(it->first);
            if (!seen.insert(name).second) {
                continue;  // a duplicate key, reported as such at load
            }
            std::string key_path = detail::join_key(path, name);
            if (doc.subtrees.contains(key_path)) {
                continue;
            }
            if (!doc.reads.contains(key_path)) {
                out.push_back(doc.make_problem(path, key_path, it->first.Mark(),
                                               "unknown key '" + name + "'"));
                continue;
            }
            collect_unread(doc, it->second, key_path, out);
        }
    } else if (node.IsSequence()) {
        for (std::size_t i = 0; i < node.size(); ++i) {
            std::string element_path = detail::join_index(path, i);
            if (!doc.subtrees.contains(element_path)) {
                collect_unread(doc, node[i], element_path, out);
            }
        }
    }
}

// What a lookup of one key found.
enum class Lookup { kFound, kAbsent, kNotAMap };

// Finds `key` under a node; a node that is neither a map nor null is a problem of its own.
Lookup lookup(ConfigDocument& doc, const YAML::Node& node, const std::string& path,
              const YAML::Mark& mark, std::string_view key, std::optional<Entry>& entry) {
    if (!node.IsMap() && node.IsDefined() && !node.IsNull()) {
        doc.add_problem(path, path, mark, "expected a map, got " + detail::describe(node));
        return Lookup::kNotAMap;
    }
    entry = find_entry(node, key);
    return entry ? Lookup::kFound : Lookup::kAbsent;
}

template <typename T>
struct ListTraits {
    static constexpr bool kIsList = false;
};
template <typename E>
struct ListTraits<std::vector<E>> {
    static constexpr bool kIsList = true;
    using Element = E;
};

std::string list_name(const std::vector<int>*) { return "a list of integers"; }
std::string list_name(const std::vector<double>*) { return "a list of numbers"; }
std::string list_name(const std::vector<std::string>*) { return "a list of strings"; }

// Decodes `value` (at `path`) into `out`, recording every problem; `out` is untouched unless
// all of it decoded.
template <typename T>
bool decode(ConfigDocument& doc, const YAML::Node& value, const std::string& path, T& out) {
    if constexpr (ListTraits<T>::kIsList) {
        if (!value.IsSequence()) {
            doc.add_problem(path, path, value.Mark(),
                            "expected " + list_name(static_cast<T*>(nullptr)) + ", got " +
                                detail::describe(value));
            return false;
        }
        T elements;
        bool ok = true;
        for (std::size_t i = 0; i < value.size(); ++i) {
            typename ListTraits<T>::Element element{};
            ok = decode(doc, value[i], detail::join_index(path, i), element) && ok;
            elements.push_back(std::move(element));
        }
        if (ok) {
            out = std::move(elements);
        }
        return ok;
    } else {
        if (auto message = detail::decode_scalar(value, out)) {
            doc.add_problem(path, path, value.Mark(), std::move(*message));
            return false;
        }
        return true;
    }
}

// The shared body of get() and get_or(): `out` keeps its fallback unless a value decoded.
template <typename T>
void read_value(ConfigDocument& doc, const YAML::Node& node, const std::string& path,
                const YAML::Mark& mark, std::string_view key, bool required, T& out) {
    std::string key_path = detail::join_key(path, key);
    doc.reads.insert(key_path);
    // A typed value is a leaf: if it is a map by mistake, the type problem is enough and
    // finish() should not also list its keys as unknown.
    doc.subtrees.insert(key_path);
    std::optional<Entry> entry;
    if (lookup(doc, node, path, mark, key, entry) == Lookup::kNotAMap) {
        return;
    }
    if (!entry) {
        if (required && !doc.is_stand_in(path)) {
            doc.add_problem(path, path, mark, "missing required key '" + std::string(key) + "'");
        }
        return;
    }
    if (entry->value.IsNull()) {
        if (required) {
            doc.add_problem(path, key_path, entry->key.Mark(),
                            "required key '" + std::string(key) + "' has no value");
        }
        return;
    }
    decode(doc, entry->value, key_path, out);
}

}  // namespace

// ---- ConfigProblem, ConfigError

std::string ConfigProblem::to_string() const {
    std::string text = file;
    if (line > 0) {
        text += ":" + std::to_string(line) + ":" + std::to_string(column);
    }
    text += ": ";
    if (!path.empty()) {
        text += path + ": ";
    }
    return text + message;
}

namespace {
std::string join_problems(const std::vector<ConfigProblem>& problems) {
    if (problems.empty()) {
        return "configuration error";
    }
    std::string text;
    for (const auto& problem : problems) {
        if (!text.empty()) {
            text += '\n';
        }
        text += problem.to_string();
    }
    return text;
}
}  // namespace

ConfigError::ConfigError(std::vector<ConfigProblem> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

// ---- ConfigDocument

namespace detail {

ConfigProblem ConfigDocument::make_problem(std::string_view display_path,
                                           std::string_view origin_path, const YAML::Mark& mark,
                                           std::string message) const {
    for (auto it = overrides.rbegin(); it != overrides.rend(); ++it) {
        if (path_within(origin_path, it->first)) {
            return ConfigProblem{it->second, 0, 0, std::string(display_path), std::move(message)};
        }
    }
    // yaml-cpp marks are 0-based; messages are 1-based like compilers'.
    const bool known = !mark.is_null() && mark.line >= 0;
    return ConfigProblem{file_label, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0,
                         std::string(display_path), std::move(message)};
}

void ConfigDocument::add_problem(std::string_view display_path, std::string_view origin_path,
                                 const YAML::Mark& mark, std::string message) {
    problems.push_back(make_problem(display_path, origin_path, mark, std::move(message)));
}

bool ConfigDocument::is_stand_in(std::string_view path) const {
    return std::any_of(stand_ins.begin(), stand_ins.end(),
                       [&](const std::string& stand_in) { return path_within(path, stand_in); });
}

bool path_within(std::string_view path, std::string_view ancestor) {
    if (!path.starts_with(ancestor)) {
        return false;
    }
    if (path.size() == ancestor.size() || ancestor.empty()) {
        return true;
    }
    char next = path[ancestor.size()];
    return next == '.' || next == '[';
}

std::string join_key(std::string_view parent, std::string_view key) {
    if (parent.empty()) {
        return std::string(key);
    }
    std::string path(parent);
    path += '.';
    path += key;
    return path;
}

std::string join_index(std::string_view parent, std::size_t index) {
    return std::string(parent) + "[" + std::to_string(index) + "]";
}

namespace {

// Walks the document as report_duplicate_keys documents it, `depth` levels down, counting the
// map entries and sequence elements it visits in `budget`.
void report_duplicate_keys_within(ConfigDocument& doc, const YAML::Node& node,
                                  const std::string& path, std::size_t depth,
                                  std::size_t& budget) {
    // An alias inside its own anchor (`a: &a {b: *a}`) makes the tree a cycle; without this
    // the walk recursed until the stack overflowed (found by tests/fuzz fuzz_config).
    if (depth > kMaxDepth) {
        throw ConfigError({doc.make_problem(
            path, path, node.Mark(),
            "nested more than " + std::to_string(kMaxDepth) +
                " levels deep (an alias (*name) inside the block its anchor names?)")});
    }
    // An alias (*name) shares its anchor's node, so every walk of the tree (this one, finish(),
    // a stage reading its params) visits an anchored block once per alias that reaches it: a
    // few hundred bytes of aliases of aliases expand to billions of nodes and would hang the
    // loader (found with tests/fuzz fuzz_config). Refuse such documents here, before anyone
    // walks them.
    auto spend = [&](const YAML::Mark& mark) {
        if (budget == 0) {
            throw ConfigError({doc.make_problem(
                path, path, mark,
                "the document expands to more than " + std::to_string(kMaxExpandedNodes) +
                    " map entries and list elements once its aliases (*name) are expanded")});
        }
        --budget;
    };
    if (node.IsMap()) {
        std::map<std::string, YAML::Mark, std::less<>> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
            spend(it->first.Mark());
            std::string name = key_text(it->first);
            std::string key_path = join_key(path, name);
            auto [first, inserted] = seen.emplace(name, it->first.Mark());
            if (inserted) {
                report_duplicate_keys_within(doc, it->second, key_path, depth + 1, budget);
                continue;
            }
            std::string message = "duplicate key '" + name + "'";
            if (!first->second.is_null()) {
                message += " (first at line " + std::to_string(first->second.line + 1) + ")";
            }
            doc.add_problem(path, key_path, it->first.Mark(), std::move(message));
        }
    } else if (node.IsSequence()) {
        for (std::size_t i = 0; i < node.size(); ++i) {
            spend(node[i].Mark());
            report_duplicate_keys_within(doc, node[i], join_index(path, i), depth + 1, budget);
        }
    }
}

}  // namespace

void report_duplicate_keys(ConfigDocument& doc, const YAML::Node& node, const std::string& path) {
    std::size_t budget = kMaxExpandedNodes;
    report_duplicate_keys_within(doc, node, path, /*depth=*/0, budget);
}

}  // namespace detail

// ---- ConfigNode: construction and loading

ConfigNode::ConfigNode()
    : ConfigNode(make_document(YAML::Node(YAML::NodeType::Map), std::string(kNoFileLabel)),
                 YAML::Node(), "") {
    node_.reset(doc_->root);
    mark_ = node_.Mark();
}

ConfigNode::ConfigNode(std::shared_ptr<detail::ConfigDocument> doc, YAML::Node node,
                       std::string path)
    : doc_(std::move(doc)), node_(node), path_(std::move(path)), mark_(node.Mark()) {}

// YAML::Node has no move constructor; copying its handle cannot fail for a valid node.
ConfigNode::ConfigNode(ConfigNode&& other) noexcept
    : doc_(std::move(other.doc_)),
      node_(other.node_),
      path_(std::move(other.path_)),
      mark_(other.mark_) {}

ConfigNode& ConfigNode::operator=(const ConfigNode& other) {
    if (this != &other) {
        doc_ = other.doc_;
        // reset() rebinds the handle; operator= would replace the node it points at inside
        // this view's document.
        node_.reset(other.node_);
        path_ = other.path_;
        mark_ = other.mark_;
    }
    return *this;
}

ConfigNode& ConfigNode::operator=(ConfigNode&& other) noexcept {
    if (this != &other) {
        doc_ = std::move(other.doc_);
        node_.reset(other.node_);
        path_ = std::move(other.path_);
        mark_ = other.mark_;
    }
    return *this;
}

ConfigNode ConfigNode::load_file(const std::filesystem::path& file,
                                 const std::vector<std::string>& overrides) {
    auto fail = [&](int error) {
        throw ConfigError({ConfigProblem{file.string(), 0, 0, "",
                                         "cannot read config file: " +
                                             std::generic_category().message(error)}});
    };
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(std::fopen(file.c_str(), "rb"),
                                                           &std::fclose);
    if (!stream) {
        fail(errno);
    }
    std::string text;
    std::string chunk(kReadChunkBytes, '\0');
    for (;;) {
        std::size_t got = std::fread(chunk.data(), 1, chunk.size(), stream.get());
        text.append(chunk, 0, got);
        if (got < chunk.size()) {
            // A directory opens fine and fails here with EISDIR.
            if (std::ferror(stream.get())) {
                fail(errno);
            }
            break;
        }
    }
    auto doc = load_document(text, file, overrides);
    return ConfigNode(doc, doc->root, "");
}

ConfigNode ConfigNode::parse(std::string_view text, std::string file_label,
                             const std::vector<std::string>& overrides) {
    auto doc = load_document(std::string(text), std::filesystem::path(file_label), overrides);
    return ConfigNode(doc, doc->root, "");
}

// ---- typed access

template <typename T>
T ConfigNode::get(std::string_view key) const {
    T value{};
    read_value(*doc_, node_, path_, mark_, key, /*required=*/true, value);
    return value;
}

template <typename T>
T ConfigNode::get_or(std::string_view key, T fallback) const {
    read_value(*doc_, node_, path_, mark_, key, /*required=*/false, fallback);
    return fallback;
}

template bool ConfigNode::get<bool>(std::string_view) const;
template int ConfigNode::get<int>(std::string_view) const;
template std::int64_t ConfigNode::get<std::int64_t>(std::string_view) const;
template std::uint64_t ConfigNode::get<std::uint64_t>(std::string_view) const;
template double ConfigNode::get<double>(std::string_view) const;
template std::string ConfigNode::get<std::string>(std::string_view) const;
template std::vector<int> ConfigNode::get<std::vector<int>>(std::string_view) const;
template std::vector<double> ConfigNode::get<std::vector<double>>(std::string_view) const;
template std::vector<std::string> ConfigNode::get<std::vector<std::string>>(
    std::string_view) const;

template bool ConfigNode::get_or<bool>(std::string_view, bool) const;
template int ConfigNode::get_or<int>(std::string_view, int) const;
template std::int64_t ConfigNode::get_or<std::int64_t>(std::string_view, std::int64_t) const;
template std::uint64_t ConfigNode::get_or<std::uint64_t>(std::string_view,
                                                         std::uint64_t) const;
template double ConfigNode::get_or<double>(std::string_view, double) const;
template std::string ConfigNode::get_or<std::string>(std::string_view, std::string) const;
template std::vector<int> ConfigNode::get_or<std::vector<int>>(std::string_view,
                                                               std::vector<int>) const;
template std::vector<double> ConfigNode::get_or<std::vector<double>>(std::string_view,
                                                                     std::vector<double>) const;
template std::vector<std::string> ConfigNode::get_or<std::vector<std::string>>(
    std::string_view, std::vector<std::string>) const;

bool ConfigNode::has(std::string_view key) const {
    doc_->reads.insert(child_path(key));
    auto entry = find_entry(node_, key);
    return entry && !entry->value.IsNull();
}

ConfigNode ConfigNode::child(std::string_view key) const {
    std::string key_path = child_path(key);
    doc_->reads.insert(key_path);
    std::optional<Entry> entry;
    Lookup found = lookup(*doc_, node_, path_, mark_, key, entry);
    if (found == Lookup::kAbsent && !doc_->is_stand_in(path_)) {
        doc_->add_problem(path_, path_, mark_, "missing required key '" + std::string(key) + "'");
    }
    if (found != Lookup::kFound) {
        ConfigNode stand_in(doc_, YAML::Node(YAML::NodeType::Map), key_path);
        stand_in.mark_ = mark_;
        doc_->stand_ins.insert(key_path);
        return stand_in;
    }
    return *find(key);
}

std::optional<ConfigNode> ConfigNode::find(std::string_view key) const {
    std::string key_path = child_path(key);
    doc_->reads.insert(key_path);
    std::optional<Entry> entry;
    if (lookup(*doc_, node_, path_, mark_, key, entry) != Lookup::kFound) {
        return std::nullopt;
    }
    if (entry->value.IsNull()) {
        // `key:` with nothing under it is an empty block, not a missing one.
        ConfigNode empty(doc_, YAML::Node(YAML::NodeType::Map), key_path);
        empty.mark_ = entry->key.Mark();
        return empty;
    }
    if (entry->value.IsScalar()) {
        doc_->add_problem(key_path, key_path, entry->value.Mark(),
                          "expected a map or a list, got " + detail::describe(entry->value));
        ConfigNode stand_in(doc_, YAML::Node(YAML::NodeType::Map), key_path);
        stand_in.mark_ = entry->value.Mark();
        doc_->stand_ins.insert(key_path);
        return stand_in;
    }
    return ConfigNode(doc_, entry->value, key_path);
}

ConfigNode ConfigNode::child_or_empty(std::string_view key) const {
    if (auto found = find(key)) {
        return *found;
    }
    ConfigNode empty(doc_, YAML::Node(YAML::NodeType::Map), child_path(key));
    empty.mark_ = mark_;
    return empty;
}

std::vector<std::string> ConfigNode::keys() const {
    std::vector<std::string> names;
    if (node_.IsMap()) {
        for (auto it = node_.begin(); it != node_.end(); ++it) {
            names.push_back(key_text(it->first));
        }
    }
    return names;
}

std::vector<ConfigNode> ConfigNode::elements() const {
    std::vector<ConfigNode> nodes;
    if (node_.IsSequence()) {
        for (std::size_t i = 0; i < node_.size(); ++i) {
            ConfigNode element(doc_, node_[i], detail::join_index(path_, i));
            if (element.mark_.is_null()) {
                element.mark_ = mark_;
            }
            nodes.push_back(std::move(element));
        }
    }
    return nodes;
}

// ---- problems

void ConfigNode::report(std::string_view key, std::string message) const {
    if (key.empty()) {
        doc_->add_problem(path_, path_, mark_, std::move(message));
        return;
    }
    std::string key_path = child_path(key);
    auto entry = find_entry(node_, key);
    doc_->add_problem(key_path, key_path, entry ? entry_mark(*entry) : mark_, std::move(message));
}

bool ConfigNode::check(bool ok, std::string_view key, std::string message) const {
    if (!ok) {
        report(key, std::move(message));
    }
    return ok;
}

void ConfigNode::mark_read(std::string_view key) const {
    std::string path = key.empty() ? path_ : child_path(key);
    doc_->reads.insert(path);
    doc_->subtrees.insert(std::move(path));
}

void ConfigNode::finish() const {
    std::vector<ConfigProblem> all = doc_->problems;
    collect_unread(*doc_, node_, path_, all);
    all = normalize(std::move(all), *doc_);
    if (!all.empty()) {
        throw ConfigError(std::move(all));
    }
}

std::vector<ConfigProblem> ConfigNode::problems() const {
    return normalize(doc_->problems, *doc_);
}

// ---- inspection

bool ConfigNode::is_map() const { return node_.IsMap(); }
bool ConfigNode::is_sequence() const { return node_.IsSequence(); }
bool ConfigNode::is_scalar() const { return node_.IsScalar(); }

const std::filesystem::path& ConfigNode::file() const noexcept { return doc_->file; }

std::string ConfigNode::position() const {
    ConfigProblem where = doc_->make_problem(path_, path_, mark_, "");
    if (where.line == 0) {
        return where.file;
    }
    return where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
}

std::string ConfigNode::dump() const {
    YAML::Emitter out;
    out << node_;
    return out.c_str();
}

std::string ConfigNode::child_path(std::string_view key) const {
    return detail::join_key(path_, key);
}

}  // namespace digitpipe::framework
