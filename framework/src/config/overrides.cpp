// --set overrides ("broker.endpoint=tcp://127.0.0.1:6000", "stages.train.params.layers[0].size=8")
// applied to a loaded document before anyone reads it. Each override records the key path it
// owns, so later problems about that value name the override instead of a file position.
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/document.hpp"

namespace digitpipe::framework::detail {
namespace {

// One step of an override's key path: a map key, or a sequence index when `index` is set.
struct Step {
    std::string key;
    std::optional<std::size_t> index;
};

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    return text;
}

bool is_key_char(char c) {
    return c != '.' && c != '[' && c != ']' && c != '=' &&
           !std::isspace(static_cast<unsigned char>(c));
}

// "a.b[0].c" -> a, b, [0], c; nullopt when malformed ("a..b", "a[x]", "a.", "[0]").
std::optional<std::vector<Step>> parse_key_path(std::string_view text) {
    std::vector<Step> steps;
    std::size_t i = 0;
    for (;;) {
        std::size_t start = i;
        while (i < text.size() && is_key_char(text[i])) {
            ++i;
        }
        if (i == start) {
            return std::nullopt;
        }
        steps.push_back(Step{std::string(text.substr(start, i - start)), std::nullopt});
        while (i < text.size() && text[i] == '[') {
            std::size_t digits_start = ++i;
            while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
                ++i;
            }
            if (i == digits_start || i == text.size() || text[i] != ']') {
                return std::nullopt;
            }
            std::size_t index = 0;
            auto [ptr, ec] = std::from_chars(text.data() + digits_start, text.data() + i, index);
            if (ec != std::errc{}) {
                return std::nullopt;
            }
            steps.push_back(Step{"", index});
            ++i;
        }
        if (i == text.size()) {
            return steps;
        }
        if (text[i] != '.') {
            return std::nullopt;
        }
        ++i;
    }
}

std::string kind_of(const YAML::Node& node) {
    if (node.IsMap()) {
        return "a map";
    }
    if (node.IsSequence()) {
        return "a list";
    }
    return describe(node);
}

// Sets `value` at `steps` under `root`, creating missing maps (and appending at index == size).
// `owned` becomes the shallowest path this override created (empty when it created nothing).
// Returns the reason it could not.
std::optional<std::string> set_path(YAML::Node root, const std::vector<Step>& steps,
                                    const YAML::Node& value, std::string& owned) {
    // `current` and `next` are handles: reset() moves them, while operator= on them writes the
    // assigned value into the tree node they point at (how the final value lands).
    YAML::Node current;
    current.reset(root);
    std::string path;
    std::string created;
    for (std::size_t s = 0; s < steps.size(); ++s) {
        const Step& step = steps[s];
        const bool last = s + 1 == steps.size();
        const YAML::Node fresh = last ? value : YAML::Node(YAML::NodeType::Map);
        std::string next_path = step.index ? join_index(path, *step.index)
                                           : join_key(path, step.key);
        const std::string where = path.empty() ? "the document" : "'" + path + "'";
        YAML::Node next;
        if (!step.index) {
            if (current.IsNull()) {
                current = YAML::Node(YAML::NodeType::Map);  // `key:` left empty becomes a map
            }
            if (!current.IsMap()) {
                return "cannot set '" + next_path + "': " + where + " is " + kind_of(current) +
                       ", not a map";
            }
            bool found = false;
            for (auto it = current.begin(); it != current.end(); ++it) {
                if (it->first.IsScalar() && it->first.Scalar() == step.key) {
                    next.reset(it->second);
                    found = true;
                    break;
                }
            }
            if (!found) {
                if (created.empty()) {
                    created = next_path;
                }
                current[step.key] = fresh;
                next.reset(current[step.key]);
                if (last) {
                    break;
                }
            } else if (last) {
                next = value;
                break;
            }
        } else {
            if (!current.IsSequence()) {
                return "cannot set '" + next_path + "': " + where + " is " + kind_of(current) +
                       ", not a list";
            }
            const std::size_t size = current.size();
            if (*step.index > size) {
                return "cannot set '" + next_path + "': index out of range, " + where + " has " +
                       std::to_string(size) + " elements";
            }
            if (*step.index == size) {
                if (created.empty()) {
                    created = next_path;
                }
                current.push_back(fresh);
                next.reset(current[*step.index]);
                if (last) {
                    break;
                }
            } else {
                next.reset(current[*step.index]);
                if (last) {
                    next = value;
                    break;
                }
            }
        }
        current.reset(next);
        path = std::move(next_path);
    }
    owned = std::move(created);
    return std::nullopt;
}

std::string steps_path(const std::vector<Step>& steps) {
    std::string path;
    for (const auto& step : steps) {
        path = step.index ? join_index(path, *step.index) : join_key(path, step.key);
    }
    return path;
}

}  // namespace

void apply_overrides(ConfigDocument& doc, const std::vector<std::string>& overrides) {
    std::vector<ConfigProblem> errors;
    for (const std::string& text : overrides) {
        const std::string label = "--set " + text;
        auto fail = [&](std::string path, std::string message) {
            errors.push_back(ConfigProblem{label, 0, 0, std::move(path), std::move(message)});
        };
        const std::size_t equals = text.find('=');
        if (equals == std::string::npos) {
            fail("", "malformed override: expected KEY=VALUE");
            continue;
        }
        const std::string_view key = trim(std::string_view(text).substr(0, equals));
        if (key.empty()) {
            fail("", "malformed override: the key before '=' is empty");
            continue;
        }
        const auto steps = parse_key_path(key);
        if (!steps) {
            fail("", "malformed override: bad key path '" + std::string(key) +
                         "' (expected a form like a.b[0].c)");
            continue;
        }
        const std::string path = steps_path(*steps);
        YAML::Node value;
        try {
            value = YAML::Load(text.substr(equals + 1));
        } catch (const YAML::Exception& error) {
            fail(path, "malformed override: the value is not valid YAML: " + error.msg);
            continue;
        }
        std::string owned;
        if (auto reason = set_path(doc.root, *steps, value, owned)) {
            fail(path, std::move(*reason));
            continue;
        }
        doc.overrides.emplace_back(owned.empty() ? path : owned, label);
    }
    if (!errors.empty()) {
        throw ConfigError(std::move(errors));
    }
}

}  // namespace digitpipe::framework::detail
