// Strict base64 and data-URL decoding (see data_url.hpp).
#include "data_url.hpp"

#include <array>
#include <cstdint>

namespace digitpipe::gateway {

namespace fw = framework;

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::int8_t kInvalid = -1;

// Character -> 6-bit value, kInvalid for anything outside the alphabet.
constexpr std::array<std::int8_t, 256> make_table() {
    std::array<std::int8_t, 256> table{};
    for (auto& v : table) v = kInvalid;
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
        table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
    }
    return table;
}
constexpr auto kTable = make_table();

std::string describe(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

}  // namespace

fw::Result<std::string> decode_base64(std::string_view text) {
    // Strip the padding first: it may only end the text, and only to complete a quantum.
    std::size_t data_length = text.size();
    while (data_length > 0 && text[data_length - 1] == '=') --data_length;
    const std::size_t padding = text.size() - data_length;
    if (padding > 2) {
        return fw::invalid_argument("base64: more than two '=' at the end");
    }
    if (padding > 0 && text.size() % 4 != 0) {
        return fw::invalid_argument("base64: padding does not complete a 4-character group");
    }
    if (data_length % 4 == 1) {
        return fw::invalid_argument("base64: length " + std::to_string(data_length) +
                                    " is not a whole number of bytes (a group of 1 character)");
    }
    std::string out;
    out.reserve(data_length / 4 * 3 + 2);
    std::uint32_t bits = 0;
    int bit_count = 0;
    for (std::size_t i = 0; i < data_length; ++i) {
        const auto value = kTable[static_cast<unsigned char>(text[i])];
        if (value == kInvalid) {
            return fw::invalid_argument("base64: invalid " + describe(text[i]) + " at offset " +
                                        std::to_string(i));
        }
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out += static_cast<char>((bits >> bit_count) & 0xff);
        }
    }
    // A canonical encoder leaves the unused low bits zero; anything else is not its output.
    if (bit_count > 0 && (bits & ((1u << bit_count) - 1)) != 0) {
        return fw::invalid_argument("base64: the last character carries bits past the data");
    }
    return out;
}

fw::Result<std::string> decode_image_text(std::string_view text, std::string_view field) {
    const std::string where(field);
    if (text.empty()) return fw::invalid_argument(where + ": empty string, expected an image");
    std::string_view data = text;
    if (starts_with_ci(text, "data:")) {
        const auto comma = text.find(',');
        if (comma == std::string_view::npos) {
            return fw::invalid_argument(where + ": data URL has no ',' before its data");
        }
        const std::string_view meta = text.substr(5, comma - 5);  // after "data:"
        const auto semicolon = meta.find(';');
        const std::string media = lower(meta.substr(0, semicolon));
        if (media != "image/png" && media != "image/jpeg") {
            return fw::invalid_argument(where + ": data URL media type must be image/png or " +
                                        "image/jpeg, got '" + media.substr(0, 64) + "'");
        }
        if (!(meta.size() >= 7 && lower(meta.substr(meta.size() - 7)) == ";base64")) {
            return fw::invalid_argument(where + ": data URL must be base64 (';base64,')");
        }
        data = text.substr(comma + 1);
        if (data.empty()) return fw::invalid_argument(where + ": data URL holds no data");
    }
    auto bytes = decode_base64(data);
    if (!bytes) return fw::invalid_argument(where + ": " + bytes.status().message());
    if (bytes->empty()) return fw::invalid_argument(where + ": decodes to no bytes");
    return bytes;
}

}  // namespace digitpipe::gateway
