// The three body forms of POST /api/predict (see predict_input.hpp).
#include "predict_input.hpp"

#include <nlohmann/json.hpp>

#include "data_url.hpp"
#include "multipart.hpp"

namespace digitpipe::gateway {

namespace fw = framework;

namespace {

constexpr std::string_view kImageField = "image";
constexpr std::string_view kFileField = "file";

std::string media_type(std::string_view content_type) {
    std::string media(content_type.substr(0, content_type.find(';')));
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
    while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.erase(0, 1);
    for (auto& c : media) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return media;
}

fw::Result<std::string> from_json(std::string_view body) {
    nlohmann::json document;
    try {
        document = nlohmann::json::parse(body);
    } catch (const nlohmann::json::parse_error& e) {
        return fw::invalid_argument("body: malformed JSON at byte " + std::to_string(e.byte) +
                                    " (expected {\"image\": \"data:image/png;base64,...\"})");
    }
    if (!document.is_object()) {
        return fw::invalid_argument(std::string("body: expected a JSON object, got ") +
                                    document.type_name());
    }
    const auto it = document.find(kImageField);
    if (it == document.end()) {
        return fw::invalid_argument(
            "image: missing (a data URL \"data:image/png;base64,...\" or base64 text)");
    }
    if (!it->is_string()) {
        return fw::invalid_argument(std::string("image: expected a string (data URL or base64), "
                                                "got ") +
                                    it->type_name());
    }
    return decode_image_text(it->get_ref<const std::string&>(), kImageField);
}

fw::Result<std::string> from_multipart(std::string_view content_type, std::string_view body) {
    auto boundary = multipart_boundary(content_type);
    if (!boundary) return boundary.status();
    auto parts = parse_multipart(body, *boundary);
    if (!parts) return parts.status();
    auto field = multipart_field(*parts, kFileField);
    if (!field) return field.status();
    return std::string(*field);
}

}  // namespace

BodyFormat classify_predict_body(std::string_view content_type) {
    const auto media = media_type(content_type);
    if (media == "application/json") return BodyFormat::kJson;
    if (media == "multipart/form-data") return BodyFormat::kMultipart;
    if (media == "image/png" || media == "image/jpeg") return BodyFormat::kImage;
    return BodyFormat::kUnsupported;
}

fw::Result<std::string> extract_predict_image(BodyFormat format, std::string_view content_type,
                                              std::string_view body) {
    if (body.empty()) return fw::invalid_argument("body: empty (send an image)");
    switch (format) {
        case BodyFormat::kJson:
            return from_json(body);
        case BodyFormat::kMultipart:
            return from_multipart(content_type, body);
        case BodyFormat::kImage:
            return std::string(body);
        case BodyFormat::kUnsupported:
            break;
    }
    return fw::invalid_argument("body: unsupported Content-Type '" + media_type(content_type) +
                                "'");
}

}  // namespace digitpipe::gateway
