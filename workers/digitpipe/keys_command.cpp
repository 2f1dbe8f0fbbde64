// `digitpipe keys`: CURVE key pairs for the security block of a deployment, and bearer tokens
// for the gateway. Secrets are created with mode 600 from the start (O_EXCL, so an existing
// key is never overwritten: replacing a key locks out every host that trusts the old one).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include "commands.hpp"
#include "digitpipe/curve.hpp"
#include "digitpipe/key_files.hpp"

namespace digitpipe::cli {
namespace fw = framework;
namespace {

// Bytes of randomness in a token (printed as hex: 64 characters).
constexpr std::size_t kTokenBytes = 32;

// Writes `text` to a new file with `mode`; false (with a message) if it exists or fails.
bool write_new_file(const std::filesystem::path& file, const std::string& text, mode_t mode) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        std::cerr << "digitpipe keys: cannot create " << file.string() << ": "
                  << std::strerror(errno)
                  << (errno == EEXIST ? " (remove it first to replace it)" : "") << "\n";
        return false;
    }
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            std::cerr << "digitpipe keys: cannot write " << file.string() << ": "
                      << std::strerror(errno) << "\n";
            ::close(fd);
            ::unlink(file.c_str());
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        std::cerr << "digitpipe keys: cannot write " << file.string() << ": "
                  << std::strerror(errno) << "\n";
        ::unlink(file.c_str());
        return false;
    }
    return true;
}

std::string random_token() {
    std::random_device device;  // getrandom(2) on Linux
    static constexpr char kHex[] = "0123456789abcdef";
    std::string token;
    for (std::size_t i = 0; i < kTokenBytes; ++i) {
        const auto byte = static_cast<unsigned>(device()) & 0xffu;
        token += kHex[byte >> 4];
        token += kHex[byte & 0xfu];
    }
    return token;
}

bool is_key_name(const std::string& name) {
    return !name.empty() && name.size() <= 64 &&
           name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
               std::string::npos &&
           name.front() != '.';
}

}  // namespace

int run_keys(const std::string& name, const std::string& dir, const std::string& token_file) {
    if (!token_file.empty()) {
        if (!write_new_file(token_file, random_token() + "\n", 0600)) return 1;
        std::cout << "digitpipe keys: wrote bearer token " << token_file
                  << " (mode 600; set gateway.token_file to it)\n";
        return 0;
    }
    if (!is_key_name(name)) {
        std::cerr << "digitpipe keys: NAME must be 1-64 characters of [A-Za-z0-9_.-], not "
                     "starting with '.', got '"
                  << name << "'\n";
        return 2;
    }
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) {
        std::cerr << "digitpipe keys: cannot create folder " << dir << ": " << error.message()
                  << "\n";
        return 1;
    }
    const auto pair = fw::make_curve_key_pair();
    const auto secret_file = std::filesystem::path(dir) / (name + ".key");
    const auto public_file = std::filesystem::path(dir) / (name + ".pub");
    if (std::filesystem::exists(public_file)) {
        std::cerr << "digitpipe keys: " << public_file.string()
                  << " already exists (remove it first to replace it)\n";
        return 1;
    }
    if (!write_new_file(secret_file, fw::format_key_file(name, pair), 0600)) return 1;
    if (!write_new_file(public_file, fw::format_key_file(name, {pair.public_key, {}}), 0644)) {
        ::unlink(secret_file.c_str());
        return 1;
    }
    std::cout << "digitpipe keys: wrote " << secret_file.string() << " (secret, mode 600) and "
              << public_file.string() << "\npublic key " << pair.public_key << "\n";
    return 0;
}

}  // namespace digitpipe::cli
