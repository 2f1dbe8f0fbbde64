// Dashboard file resolution (see static_files.hpp).
#include "static_files.hpp"

#include <algorithm>
#include <array>
#include <system_error>
#include <utility>

#include "url.hpp"

namespace digitpipe::gateway {

namespace fw = framework;
namespace fs = std::filesystem;

namespace {

// Vite writes content-hashed names under assets/: safe to cache for a year. index.html names
// them, so it must be revalidated every time.
constexpr std::string_view kCacheImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kCacheRevalidate = "no-cache";
constexpr std::string_view kIndex = "index.html";

struct MimeEntry {
    std::string_view extension;
    std::string_view type;
};
constexpr std::array<MimeEntry, 17> kMimeTypes{{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".woff", "font/woff"},
    {".txt", "text/plain; charset=utf-8"},
    {".wasm", "application/wasm"},
}};

fw::Status not_found(std::string_view why) {
    return fw::not_found(std::string(why));
}

// True when `inner` is `root` or below it, compared component by component (a string prefix
// test would let /dist-old pass for /dist).
bool is_within(const fs::path& root, const fs::path& inner) {
    auto r = root.begin();
    auto i = inner.begin();
    for (; r != root.end(); ++r, ++i) {
        if (i == inner.end() || *r != *i) return false;
    }
    return true;
}

}  // namespace

std::string_view content_type_for(const fs::path& file) {
    std::string extension = file.extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& entry : kMimeTypes) {
        if (entry.extension == extension) return entry.type;
    }
    return "application/octet-stream";
}

StaticFiles::StaticFiles(fs::path root) : configured_(std::move(root)) {
    std::error_code error;
    auto canonical = fs::canonical(configured_, error);
    if (!error && fs::is_directory(canonical, error) && !error) root_ = std::move(canonical);
}

StaticFile StaticFiles::describe(fs::path file) const {
    const auto relative = file.lexically_relative(*root_);
    const bool asset = !relative.empty() && *relative.begin() == "assets";
    std::string_view type = content_type_for(file);
    return {std::move(file), std::string(type),
            std::string(asset ? kCacheImmutable : kCacheRevalidate)};
}

fw::Result<StaticFile> StaticFiles::resolve(std::string_view raw_path) const {
    if (!root_) {
        return not_found("the dashboard is not built (" + configured_.string() +
                         " does not exist): run deploy/setup.sh");
    }
    const auto decoded = percent_decode(raw_path);
    if (!decoded) return not_found("malformed percent-escape in the path");
    const std::string& path = *decoded;
    if (path.empty() || path.front() != '/') return not_found("the path must start with '/'");
    if (path.find('\0') != std::string::npos || path.find('\\') != std::string::npos) {
        return not_found("the path holds a NUL or a backslash");
    }
    // Check segments after decoding: "%2e%2e" and "a%2f..%2fb" are ".." too.
    fs::path relative;
    std::size_t start = 1;
    while (start <= path.size()) {
        const auto end = std::min(path.find('/', start), path.size());
        const std::string segment = path.substr(start, end - start);
        if (segment == "." || segment == "..") {
            return not_found("the path holds a '.' or '..' segment");
        }
        if (!segment.empty()) relative /= segment;
        start = end + 1;
    }
    std::error_code error;
    const auto index = *root_ / kIndex;
    if (relative.empty()) {
        if (!fs::is_regular_file(index, error)) return not_found("the dashboard has no index.html");
        return describe(index);
    }
    const auto candidate = fs::weakly_canonical(*root_ / relative, error);
    if (error || !is_within(*root_, candidate)) {
        return not_found("the path leaves the dashboard folder");
    }
    if (fs::is_regular_file(candidate, error)) return describe(candidate);
    // No such file: a client-side route ("/train/quick") gets the app; a missing asset
    // ("/assets/x.js") a 404, so a stale page does not parse index.html as JavaScript.
    if (relative.filename().has_extension()) return not_found("no such file: " + path);
    if (!fs::is_regular_file(index, error)) return not_found("the dashboard has no index.html");
    return describe(index);
}

}  // namespace digitpipe::gateway
