// The dashboard's files (web/dashboard/dist, built by deploy/setup.sh), served same-origin by
// the gateway: every path that is not an API route lands here. Resolution is the security
// boundary: a request path is percent-decoded, refused when it holds "..", ".", NUL or a
// backslash segment, canonicalised (symlinks resolved) and must stay inside the dashboard folder.
// Paths with no file and no extension get index.html (the single-page app routes them).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "digitpipe/status.hpp"

namespace digitpipe::gateway {

// A file to send and how to label it.
struct StaticFile {
    std::filesystem::path file;  // canonical, inside the root
    std::string content_type;
    std::string cache_control;
};

// Content-Type for a file name by extension (html, js, mjs, css, json, svg, png, ico, woff2,
// map, txt, webmanifest, ...); "application/octet-stream" for anything else.
std::string_view content_type_for(const std::filesystem::path& file);

// Resolves request paths against one dashboard folder. Immutable after construction, so any
// Pistache thread may use it.
class StaticFiles {
 public:
    // `root` may not exist (the dashboard is not built): every lookup then answers kNotFound
    // saying so. Canonicalises root once.
    explicit StaticFiles(std::filesystem::path root);

    bool available() const noexcept { return root_.has_value(); }
    const std::filesystem::path& configured_root() const noexcept { return configured_; }

    // The file for a raw request path (as sent, before percent-decoding; no query).
    // kNotFound for anything that cannot or must not be served, with a message that says why
    // (never the file system layout beyond the request path itself).
    framework::Result<StaticFile> resolve(std::string_view raw_path) const;

 private:
    StaticFile describe(std::filesystem::path file) const;

    std::filesystem::path configured_;
    std::optional<std::filesystem::path> root_;  // canonical; nullopt when missing
};

}  // namespace digitpipe::gateway
