// Percent-decoding and strict parameter parsing (see url.hpp).
#include "url.hpp"

#include <charconv>

namespace digitpipe::gateway {

namespace fw = framework;

namespace {

// Longest job id accepted: run ids are "<experiment>-<yyyymmdd>-<hhmmss>[-n]", far shorter.
constexpr std::size_t kMaxJobIdLength = 128;
// Longest raw query value echoed back in an error message.
constexpr std::size_t kMaxEchoedChars = 32;

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string echo(std::string_view raw) {
    std::string out;
    for (const char c : raw.substr(0, kMaxEchoedChars)) {
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    if (raw.size() > kMaxEchoedChars) out += "...";
    return out;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;  // '%' needs two digits after it
        const int high = hex_value(text[i + 1]);
        const int low = hex_value(text[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return out;
}

fw::Result<std::int64_t> parse_int_param(const std::optional<std::string>& raw,
                                         std::string_view name, std::int64_t min, std::int64_t max,
                                         std::int64_t fallback) {
    if (!raw) return fallback;
    const auto range = std::string(name) + " must be an integer in [" + std::to_string(min) + ", " +
                       std::to_string(max) + "]";
    const std::string& text = *raw;
    std::int64_t value = 0;
    const char* first = text.data();
    const char* last = text.data() + text.size();
    // from_chars accepts a leading '-' and digits only: no spaces, '+', hex or exponents.
    const auto [end, error] = std::from_chars(first, last, value);
    if (text.empty() || error != std::errc() || end != last) {
        return fw::invalid_argument(range + ", got '" + echo(text) + "'");
    }
    if (value < min || value > max) {
        return fw::invalid_argument(range + ", got " + std::to_string(value));
    }
    return value;
}

fw::Result<std::string> parse_job_id(std::string_view raw_segment) {
    const auto decoded = percent_decode(raw_segment);
    if (!decoded) {
        return fw::invalid_argument("job id: malformed percent-escape in '" + echo(raw_segment) +
                                    "'");
    }
    const std::string& id = *decoded;
    if (id.empty() || id.size() > kMaxJobIdLength) {
        return fw::invalid_argument("job id: must be 1 to " + std::to_string(kMaxJobIdLength) +
                                    " characters, got " + std::to_string(id.size()));
    }
    for (const char c : id) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok) {
            return fw::invalid_argument("job id: only A-Z a-z 0-9 _ . - are allowed, got '" +
                                        echo(id) + "'");
        }
    }
    if (id == "." || id == "..") {
        return fw::invalid_argument("job id: '" + id + "' is not a run id");
    }
    return id;
}

}  // namespace digitpipe::gateway
