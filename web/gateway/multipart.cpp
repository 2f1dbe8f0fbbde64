// multipart/form-data parsing (see multipart.hpp).
#include "multipart.hpp"

namespace digitpipe::gateway {

namespace fw = framework;

namespace {

// A form posting one file has one or two parts; 64 leaves room for any honest form.
constexpr std::size_t kMaxParts = 64;
// Part headers are a Content-Disposition and a Content-Type: a few hundred bytes.
constexpr std::size_t kMaxPartHeaderBytes = 8 * 1024;
// RFC 2046 section 5.1.1: a boundary is 1 to 70 characters.
constexpr std::size_t kMaxBoundaryLength = 70;

constexpr std::string_view kCrlf = "\r\n";

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// Parameters of a header value "type; a=1; b=\"x y\"": the value of `name` (case-insensitive),
// unquoted (backslash escapes resolved). nullopt when absent or malformed.
std::optional<std::string> header_param(std::string_view value, std::string_view name) {
    std::size_t pos = value.find(';');
    while (pos != std::string_view::npos) {
        ++pos;
        while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t')) ++pos;
        const auto equals = value.find('=', pos);
        if (equals == std::string_view::npos) return std::nullopt;
        const std::string key = lower(trim(value.substr(pos, equals - pos)));
        pos = equals + 1;
        std::string parsed;
        if (pos < value.size() && value[pos] == '"') {
            ++pos;
            bool closed = false;
            while (pos < value.size()) {
                const char c = value[pos++];
                if (c == '\\' && pos < value.size()) {
                    parsed += value[pos++];
                } else if (c == '"') {
                    closed = true;
                    break;
                } else {
                    parsed += c;
                }
            }
            if (!closed) return std::nullopt;
            pos = value.find(';', pos);
        } else {
            const auto end = value.find(';', pos);
            parsed = std::string(trim(value.substr(pos, end - pos)));
            pos = end;
        }
        if (key == name) return parsed;
    }
    return std::nullopt;
}

std::string quoted_list(const std::vector<MultipartPart>& parts) {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty()) out += ", ";
        out += "'" + part.name.substr(0, 64) + "'";
    }
    return out.empty() ? "no fields" : "found: " + out;
}

// Parses one part's header block (without the blank line) into `part`.
fw::Status parse_part_headers(std::string_view block, std::size_t index, MultipartPart& part) {
    const auto where = "multipart part " + std::to_string(index) + ": ";
    bool disposition = false;
    while (!block.empty()) {
        const auto end = block.find(kCrlf);
        const std::string_view line = block.substr(0, end);
        block = end == std::string_view::npos ? std::string_view{} : block.substr(end + 2);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            return fw::invalid_argument(where + "malformed header line (no 'Name:')");
        }
        const std::string name = lower(trim(line.substr(0, colon)));
        const std::string_view value = trim(line.substr(colon + 1));
        if (name == "content-disposition") {
            if (lower(trim(value.substr(0, value.find(';')))) != "form-data") {
                return fw::invalid_argument(where + "Content-Disposition is not form-data");
            }
            auto field = header_param(value, "name");
            if (!field) {
                return fw::invalid_argument(where + "Content-Disposition has no name");
            }
            part.name = std::move(*field);
            part.filename = header_param(value, "filename");
            disposition = true;
        } else if (name == "content-type") {
            part.content_type = lower(trim(value.substr(0, value.find(';'))));
        }
    }
    if (!disposition) return fw::invalid_argument(where + "no Content-Disposition header");
    return fw::Status::ok();
}

}  // namespace

fw::Result<std::string> multipart_boundary(std::string_view content_type) {
    const std::string media = lower(trim(content_type.substr(0, content_type.find(';'))));
    if (media != "multipart/form-data") {
        return fw::invalid_argument("Content-Type: expected multipart/form-data, got '" +
                                    media.substr(0, 64) + "'");
    }
    auto boundary = header_param(content_type, "boundary");
    if (!boundary || boundary->empty() || boundary->size() > kMaxBoundaryLength) {
        return fw::invalid_argument(
            "Content-Type: multipart/form-data needs a boundary of 1 to 70 characters");
    }
    return std::move(*boundary);
}

fw::Result<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                       std::string_view boundary) {
    if (boundary.empty() || boundary.size() > kMaxBoundaryLength) {
        return fw::invalid_argument("multipart: boundary must be 1 to 70 characters");
    }
    const std::string dash_boundary = "--" + std::string(boundary);
    // Every boundary after the first is preceded by CRLF, which belongs to the boundary.
    const std::string delimiter = std::string(kCrlf) + dash_boundary;
    std::size_t pos = 0;
    if (body.substr(0, dash_boundary.size()) != dash_boundary) {
        const auto first = body.find(delimiter);  // after a preamble
        if (first == std::string_view::npos) {
            return fw::invalid_argument("multipart: the body does not contain its boundary");
        }
        pos = first + delimiter.size();
    } else {
        pos = dash_boundary.size();
    }
    std::vector<MultipartPart> parts;
    for (;;) {
        // After a boundary: "--" ends the body; otherwise optional whitespace, then CRLF.
        if (body.substr(pos, 2) == "--") return parts;
        while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
        if (body.substr(pos, 2) != kCrlf) {
            return fw::invalid_argument("multipart: boundary " + std::to_string(parts.size()) +
                                        " is not followed by CRLF or '--'");
        }
        pos += 2;
        if (parts.size() == kMaxParts) {
            return fw::invalid_argument("multipart: more than " + std::to_string(kMaxParts) +
                                        " parts");
        }
        const std::size_t index = parts.size();
        MultipartPart part;
        // A part with no headers starts with the blank line at once.
        std::string_view header_block;
        std::size_t content = 0;
        if (body.substr(pos, 2) == kCrlf) {
            content = pos + 2;
        } else {
            const auto blank = body.find("\r\n\r\n", pos);
            if (blank == std::string_view::npos || blank - pos > kMaxPartHeaderBytes) {
                return fw::invalid_argument(
                    "multipart part " + std::to_string(index) +
                    ": header block not terminated by a blank line within " +
                    std::to_string(kMaxPartHeaderBytes) + " bytes");
            }
            header_block = body.substr(pos, blank - pos);
            content = blank + 4;
        }
        if (auto status = parse_part_headers(header_block, index, part); !status.is_ok()) {
            return status;
        }
        const auto next = body.find(delimiter, content);
        if (next == std::string_view::npos) {
            return fw::invalid_argument("multipart part " + std::to_string(index) + " ('" +
                                        part.name.substr(0, 64) +
                                        "') is not terminated by the boundary");
        }
        part.body = body.substr(content, next - content);
        parts.push_back(std::move(part));
        pos = next + delimiter.size();
        if (pos >= body.size()) {
            return fw::invalid_argument("multipart: the closing boundary ('--" +
                                        std::string(boundary) + "--') is missing");
        }
    }
}

fw::Result<std::string_view> multipart_field(const std::vector<MultipartPart>& parts,
                                             std::string_view field) {
    const MultipartPart* found = nullptr;
    for (const auto& part : parts) {
        if (part.name != field) continue;
        if (found != nullptr) {
            return fw::invalid_argument("multipart: field '" + std::string(field) +
                                        "' appears more than once");
        }
        found = &part;
    }
    if (found == nullptr) {
        return fw::invalid_argument("multipart: no field '" + std::string(field) + "' (" +
                                    quoted_list(parts) + ")");
    }
    if (found->body.empty()) {
        return fw::invalid_argument("multipart: field '" + std::string(field) + "' is empty");
    }
    return found->body;
}

}  // namespace digitpipe::gateway
