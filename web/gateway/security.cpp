// Bearer tokens, loopback detection and CORS origins (see security.hpp).
#include "security.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "gateway_config.hpp"

namespace digitpipe::gateway {

namespace fw = framework;

namespace {

// Largest token file read: a token is one line; anything bigger is not a token file.
constexpr std::uintmax_t kMaxTokenFileBytes = 4096;

bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view text) noexcept {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace

fw::Result<std::string> read_token_file(const std::filesystem::path& file) {
    std::error_code error;
    const auto size = std::filesystem::file_size(file, error);
    if (error) {
        return fw::invalid_argument("cannot read token file " + file.string() + ": " +
                                    error.message());
    }
    if (size > kMaxTokenFileBytes) {
        return fw::invalid_argument("token file " + file.string() + " is " +
                                    std::to_string(size) + " bytes; a token file holds one token");
    }
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return fw::invalid_argument("cannot read token file " + file.string());
    const std::string content = text.str();
    const auto token = trim(content);
    if (token.size() < kMinTokenLength) {
        return fw::invalid_argument("token file " + file.string() + ": the token has " +
                                    std::to_string(token.size()) + " characters, at least " +
                                    std::to_string(kMinTokenLength) +
                                    " are needed (digitpipe keys --token FILE makes one)");
    }
    const bool printable = std::all_of(token.begin(), token.end(), [](char c) {
        return static_cast<unsigned char>(c) > ' ' && static_cast<unsigned char>(c) < 0x7f;
    });
    if (!printable) {
        return fw::invalid_argument("token file " + file.string() +
                                    ": the token must be one word of printable ASCII");
    }
    return std::string(token);
}

fw::Status check_listen_security(const GatewayConfig& config) {
    if (!config.token.empty() || fw::is_loopback_host(config.listen.host)) return fw::Status();
    return fw::failed_precondition(
        "gateway.listen is " + config.listen.to_string() +
        ", beyond loopback: set gateway.token_file to a file holding a token of at least " +
        std::to_string(kMinTokenLength) +
        " characters (digitpipe keys --token FILE makes one), so that training, cancelling "
        "and serving need it");
}

bool equal_constant_time(std::string_view a, std::string_view b) noexcept {
    // Walks the longer length whatever the contents; the length difference is folded in.
    const std::size_t n = std::max(a.size(), b.size());
    unsigned difference = a.size() == b.size() ? 0u : 1u;
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
        const auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
        difference |= x ^ y;
    }
    // volatile: keeps the compiler from turning the loop into an early-exit compare.
    volatile unsigned result = difference;
    return result == 0;
}

BearerCheck check_bearer(const std::optional<std::string>& authorization,
                         std::string_view token) noexcept {
    if (token.empty()) return BearerCheck::kAllowed;
    if (!authorization) return BearerCheck::kMissing;
    const std::string_view value = trim(*authorization);
    if (value.empty()) return BearerCheck::kMissing;
    constexpr std::string_view kScheme = "bearer ";
    if (value.size() < kScheme.size()) return BearerCheck::kWrong;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        // The scheme name is case-insensitive (RFC 9110 11.1); the token is not.
        const char c = value[i];
        if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) {
            return BearerCheck::kWrong;
        }
    }
    return equal_constant_time(trim(value.substr(kScheme.size())), token) ? BearerCheck::kAllowed
                                                                           : BearerCheck::kWrong;
}

std::optional<std::string> allowed_origin(const std::optional<std::string>& origin,
                                          const std::vector<std::string>& allowed) {
    if (!origin) return std::nullopt;
    const auto it = std::find(allowed.begin(), allowed.end(), *origin);
    if (it == allowed.end()) return std::nullopt;
    return *it;
}

fw::Status check_cors_origin(std::string_view origin) {
    const auto invalid = [&](const std::string& why) {
        return fw::invalid_argument("'" + std::string(origin.substr(0, 100)) + "': " + why +
                                    " (expected an exact origin like https://digits.example.com)");
    };
    if (origin == "*") return invalid("a wildcard would let every site use the API");
    std::string_view rest;
    if (origin.starts_with("https://")) {
        rest = origin.substr(8);
    } else if (origin.starts_with("http://")) {
        rest = origin.substr(7);
    } else {
        return invalid("the scheme must be http:// or https://");
    }
    if (rest.empty()) return invalid("no host");
    for (const char c : rest) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '-' || c == ':' || c == '[' || c == ']';
        if (c == '/') return invalid("an origin has no path (not even a trailing '/')");
        if (c >= 'A' && c <= 'Z') return invalid("browsers send the host in lower case");
        if (!ok) return invalid("bad character in the host");
    }
    return fw::Status();
}

}  // namespace digitpipe::gateway
