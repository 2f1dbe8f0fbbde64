// CURVE key files (key_files.hpp): a line-oriented reader strict about the keys themselves
// (a wrong key would only surface as a silent handshake failure far away) and lenient about
// the zcert decoration around them.
#include "digitpipe/key_files.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace digitpipe::framework {
namespace {

constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
constexpr std::size_t kZ85KeyLength = 40;
// A key file is a few lines; anything much larger is not one.
constexpr std::streamsize kMaxKeyFileBytes = 64 * 1024;

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

}  // namespace

bool is_z85_key(std::string_view text) noexcept {
    return text.size() == kZ85KeyLength &&
           text.find_first_not_of(kZ85Alphabet) == std::string_view::npos;
}

Result<KeyFile> read_key_file(const std::filesystem::path& file, bool need_secret) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return not_found("cannot read key file " + file.string() + ": " + std::strerror(errno));
    }
    std::string text(static_cast<std::size_t>(kMaxKeyFileBytes) + 1, '\0');
    in.read(text.data(), kMaxKeyFileBytes + 1);
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > static_cast<std::size_t>(kMaxKeyFileBytes)) {
        return invalid_argument("key file " + file.string() + " is larger than 64 KiB: not a key file");
    }
    KeyFile keys;
    std::istringstream lines(text);
    std::string raw;
    int number = 0;
    while (std::getline(lines, raw)) {
        ++number;
        const std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#' || line == "curve" || line == "metadata") {
            continue;
        }
        const auto equals = line.find('=');
        const std::string_view name = trim(line.substr(0, equals));
        if (equals == std::string_view::npos ||
            (name != "public-key" && name != "secret-key")) {
            continue;  // zcert metadata lines and the like
        }
        std::string_view value = trim(line.substr(equals + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        const std::string where = file.string() + ":" + std::to_string(number);
        if (!is_z85_key(value)) {
            return invalid_argument(where + ": " + std::string(name) +
                                    " is not a CURVE key (40 Z85 characters)");
        }
        (name == "public-key" ? keys.public_key : keys.secret_key) = std::string(value);
    }
    if (keys.public_key.empty()) {
        return invalid_argument("key file " + file.string() +
                                " has no public-key line (make one with `digitpipe keys NAME`)");
    }
    if (need_secret && keys.secret_key.empty()) {
        return invalid_argument("key file " + file.string() +
                                " has no secret-key line: give the NAME.key file, not NAME.pub");
    }
    return keys;
}

std::string format_key_file(std::string_view name, const KeyFile& keys) {
    std::string text;
    if (keys.secret_key.empty()) {
        text += "# digitpipe CURVE public key \"" + std::string(name) +
                "\": give it to the brokers and stream readers that should admit it\n";
    } else {
        text += "# digitpipe CURVE key pair \"" + std::string(name) +
                "\": SECRET, keep this file private; share " + std::string(name) + ".pub\n";
    }
    text += "curve\n    public-key = \"" + keys.public_key + "\"\n";
    if (!keys.secret_key.empty()) text += "    secret-key = \"" + keys.secret_key + "\"\n";
    return text;
}

}  // namespace digitpipe::framework
