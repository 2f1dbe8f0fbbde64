// CURVE key files, as `digitpipe keys NAME` writes them (the layout of ZeroMQ's zcert files,
// so czmq tools read them too):
//   NAME.key (secret, mode 600):  public-key = "<Z85>"  and  secret-key = "<Z85>"
//   NAME.pub (shareable):         public-key = "<Z85>"
// Lines starting with '#', blank lines and section names ("curve", "metadata") are ignored.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "digitpipe/status.hpp"

namespace digitpipe::framework {

struct KeyFile {
    std::string public_key;  // Z85, 40 characters
    std::string secret_key;  // Z85, 40 characters; empty in a .pub file
};

// True for 40 characters of the Z85 alphabet (32 bytes of key).
bool is_z85_key(std::string_view text) noexcept;

// Reads a key file. kNotFound naming the file and the system's reason when it cannot be read;
// kInvalidArgument naming the file (and line) when a key is malformed or missing, or when
// `need_secret` and there is no secret-key line.
Result<KeyFile> read_key_file(const std::filesystem::path& file, bool need_secret);

// The text of a key file for `name`: both lines when secret_key is set, else the public one.
std::string format_key_file(std::string_view name, const KeyFile& keys);

}  // namespace digitpipe::framework
