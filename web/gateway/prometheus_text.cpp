// Merging Prometheus text expositions by family (see prometheus_text.hpp).
#include "prometheus_text.hpp"

#include <array>
#include <map>
#include <optional>
#include <string_view>

namespace digitpipe::gateway {

namespace {

struct Family {
    std::optional<std::string> help;
    std::optional<std::string> type;
    std::vector<std::string> samples;
};

// Suffixes a histogram or summary family's samples add to the family name.
constexpr std::array<std::string_view, 3> kSampleSuffixes{"_bucket", "_sum", "_count"};

std::string_view metric_name(std::string_view sample) {
    const auto end = sample.find_first_of("{ \t");
    return sample.substr(0, end);
}

// "# HELP name text" / "# TYPE name type": the keyword and the name; nullopt otherwise.
std::optional<std::pair<std::string_view, std::string_view>> parse_comment(std::string_view line) {
    for (const std::string_view keyword : {"# HELP ", "# TYPE "}) {
        if (line.substr(0, keyword.size()) == keyword) {
            const auto rest = line.substr(keyword.size());
            return std::make_pair(keyword.substr(2, 4), rest.substr(0, rest.find(' ')));
        }
    }
    return std::nullopt;
}

}  // namespace

std::string merge_prometheus_texts(const std::vector<std::string>& texts) {
    std::vector<std::string> order;
    std::map<std::string, Family, std::less<>> families;
    const auto family_for = [&](std::string_view name) -> Family& {
        auto it = families.find(name);
        if (it == families.end()) {
            order.emplace_back(name);
            it = families.emplace(std::string(name), Family{}).first;
        }
        return it->second;
    };
    for (const auto& text : texts) {
        std::string current;  // the family the last # HELP/# TYPE named
        std::size_t start = 0;
        while (start < text.size()) {
            auto end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            const std::string_view line(text.data() + start, end - start);
            start = end + 1;
            if (line.empty()) continue;
            if (line.front() == '#') {
                if (const auto comment = parse_comment(line)) {
                    current = std::string(comment->second);
                    auto& family = family_for(current);
                    auto& slot = comment->first == "HELP" ? family.help : family.type;
                    if (!slot) slot = std::string(line);
                }
                continue;
            }
            std::string_view name = metric_name(line);
            if (!current.empty() && name != current && name.substr(0, current.size()) == current) {
                for (const auto suffix : kSampleSuffixes) {
                    if (name.substr(current.size()) == suffix) name = current;
                }
            }
            family_for(name).samples.emplace_back(line);
        }
    }
    std::string out;
    for (const auto& name : order) {
        const auto& family = families.at(name);
        if (family.help) out += *family.help + "\n";
        if (family.type) out += *family.type + "\n";
        for (const auto& sample : family.samples) out += sample + "\n";
    }
    return out;
}

}  // namespace digitpipe::gateway
