// Scalar decoding for ConfigNode's typed getters, after the YAML 1.2 core schema rather than
// yaml-cpp's `as<T>()`, which takes "yes" for true, reads a quoted "3" as a number and throws
// messages that lack the value. Each decoder says what it expected and what it got.
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <system_error>

#include "config/document.hpp"

namespace digitpipe::framework::detail {
namespace {

// Longer scalars are cut in messages; a config value that long is never what was meant.
constexpr std::size_t kDescribeMaxChars = 60;

// yaml-cpp tags quoted and block scalars "!" (non-specific, non-plain); YAML 1.2 reads those as
// strings whatever they contain, so `port: "80"` is not an integer.
bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }

std::string expected(std::string_view what, const YAML::Node& node) {
    return "expected " + std::string(what) + ", got " + describe(node);
}

enum class IntegerParse { kOk, kNotInteger, kTooLarge };

// An integer as sign and magnitude, so each target type checks its own range.
struct Integer {
    bool negative = false;
    std::uint64_t magnitude = 0;
};

// YAML 1.2 core: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+.
IntegerParse parse_integer(std::string_view text, Integer& out) {
    Integer value;
    int base = 10;
    if (text.starts_with("0x")) {
        base = 16;
        text.remove_prefix(2);
    } else if (text.starts_with("0o")) {
        base = 8;
        text.remove_prefix(2);
    } else if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
        value.negative = text.front() == '-';
        text.remove_prefix(1);
    }
    // from_chars would accept a second sign or stop early; require digits only, all consumed.
    if (text.empty() || text.front() == '-' || text.front() == '+') {
        return IntegerParse::kNotInteger;
    }
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value.magnitude, base);
    if (ec == std::errc::result_out_of_range) {
        return IntegerParse::kTooLarge;
    }
    if (ec != std::errc{} || ptr != end) {
        return IntegerParse::kNotInteger;
    }
    out = value;
    return IntegerParse::kOk;
}

template <typename T>
std::string range_text() {
    return std::to_string(std::numeric_limits<T>::min()) + ".." +
           std::to_string(std::numeric_limits<T>::max());
}

template <typename T>
std::optional<std::string> decode_signed(const YAML::Node& node, T& out) {
    if (!node.IsScalar() || is_quoted(node)) {
        return expected("an integer", node);
    }
    Integer value;
    switch (parse_integer(node.Scalar(), value)) {
        case IntegerParse::kNotInteger:
            return expected("an integer", node);
        case IntegerParse::kTooLarge:
            return expected("an integer in " + range_text<T>(), node);
        case IntegerParse::kOk:
            break;
    }
    // |min| is max + 1 in two's complement.
    const auto limit = static_cast<std::uint64_t>(std::numeric_limits<T>::max()) +
                       (value.negative ? 1u : 0u);
    if (value.magnitude > limit) {
        return expected("an integer in " + range_text<T>(), node);
    }
    out = value.negative ? static_cast<T>(-static_cast<std::int64_t>(value.magnitude - 1) - 1)
                         : static_cast<T>(value.magnitude);
    return std::nullopt;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// YAML 1.2 core float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?. Checked by hand
// because from_chars also takes "nan", "inf" and "infinity", which YAML spells .nan and .inf.
bool is_float_text(std::string_view text) {
    std::size_t i = 0;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
        ++i;
    }
    std::size_t digits = 0;
    while (i < text.size() && is_digit(text[i])) {
        ++i;
        ++digits;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        while (i < text.size() && is_digit(text[i])) {
            ++i;
            ++digits;
        }
    }
    if (digits == 0) {
        return false;
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
            ++i;
        }
        std::size_t exponent_digits = 0;
        while (i < text.size() && is_digit(text[i])) {
            ++i;
            ++exponent_digits;
        }
        if (exponent_digits == 0) {
            return false;
        }
    }
    return i == text.size();
}

}  // namespace

std::string describe(const YAML::Node& node) {
    if (!node.IsDefined() || node.IsNull()) {
        return "nothing";
    }
    if (node.IsMap()) {
        return "a map";
    }
    if (node.IsSequence()) {
        return "a list";
    }
    std::string text;
    for (char c : node.Scalar()) {
        if (text.size() >= kDescribeMaxChars) {
            text += "...";
            break;
        }
        if (c == '\n') {
            text += "\\n";
        } else {
            text += c;
        }
    }
    std::string shown = "'" + text + "'";
    return is_quoted(node) ? shown + " (quoted, so a string)" : shown;
}

std::optional<std::string> decode_scalar(const YAML::Node& node, bool& out) {
    if (node.IsScalar() && !is_quoted(node)) {
        const std::string& text = node.Scalar();
        if (text == "true" || text == "True" || text == "TRUE") {
            out = true;
            return std::nullopt;
        }
        if (text == "false" || text == "False" || text == "FALSE") {
            out = false;
            return std::nullopt;
        }
    }
    return expected("true or false", node);
}

std::optional<std::string> decode_scalar(const YAML::Node& node, int& out) {
    return decode_signed(node, out);
}

std::optional<std::string> decode_scalar(const YAML::Node& node, std::int64_t& out) {
    return decode_signed(node, out);
}

std::optional<std::string> decode_scalar(const YAML::Node& node, std::uint64_t& out) {
    if (!node.IsScalar() || is_quoted(node)) {
        return expected("a non-negative integer", node);
    }
    Integer value;
    switch (parse_integer(node.Scalar(), value)) {
        case IntegerParse::kNotInteger:
            return expected("a non-negative integer", node);
        case IntegerParse::kTooLarge:
            return expected("an integer in " + range_text<std::uint64_t>(), node);
        case IntegerParse::kOk:
            break;
    }
    if (value.negative && value.magnitude != 0) {
        return expected("a non-negative integer", node);
    }
    out = value.magnitude;
    return std::nullopt;
}

std::optional<std::string> decode_scalar(const YAML::Node& node, double& out) {
    if (!node.IsScalar() || is_quoted(node)) {
        return expected("a number", node);
    }
    std::string_view text = node.Scalar();
    if (text == ".inf" || text == ".Inf" || text == ".INF" || text == "+.inf" ||
        text == "+.Inf" || text == "+.INF") {
        out = std::numeric_limits<double>::infinity();
        return std::nullopt;
    }
    if (text == "-.inf" || text == "-.Inf" || text == "-.INF") {
        out = -std::numeric_limits<double>::infinity();
        return std::nullopt;
    }
    if (text == ".nan" || text == ".NaN" || text == ".NAN") {
        out = std::numeric_limits<double>::quiet_NaN();
        return std::nullopt;
    }
    // Hex and octal integers are numbers too ("double accepts ints").
    if (text.starts_with("0x") || text.starts_with("0o")) {
        Integer value;
        if (parse_integer(text, value) != IntegerParse::kOk) {
            return expected("a number", node);
        }
        out = static_cast<double>(value.magnitude);
        return std::nullopt;
    }
    if (!is_float_text(text)) {
        return expected("a number", node);
    }
    if (text.front() == '+') {
        text.remove_prefix(1);  // from_chars takes no leading '+'
    }
    double value = 0.0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec == std::errc::result_out_of_range) {
        return expected("a number within double range", node);
    }
    if (ec != std::errc{} || ptr != end) {
        return expected("a number", node);
    }
    out = value;
    return std::nullopt;
}

std::optional<std::string> decode_scalar(const YAML::Node& node, std::string& out) {
    if (!node.IsScalar()) {
        return expected("a string", node);
    }
    out = node.Scalar();
    return std::nullopt;
}

}  // namespace digitpipe::framework::detail
