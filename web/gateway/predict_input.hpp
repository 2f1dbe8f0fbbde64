// The image of a POST /api/predict, from whichever of the three body forms web/API.md allows:
// JSON {"image": data URL or base64}, multipart/form-data with a file field `file`, or the raw
// image/png | image/jpeg bytes. Only the form is checked here; whether the bytes are a readable
// PNG or JPEG is the infer stage's call (it owns decoding and says what is wrong).
#pragma once

#include <string>
#include <string_view>

#include "digitpipe/status.hpp"

namespace digitpipe::gateway {

enum class BodyFormat { kJson, kMultipart, kImage, kUnsupported };

// The form a Content-Type announces (media type only, case-insensitive; parameters ignored).
// An absent or empty Content-Type is kUnsupported.
BodyFormat classify_predict_body(std::string_view content_type);

// The image bytes of a predict body in `format` (not kUnsupported). kInvalidArgument naming
// the field at fault: "body: malformed JSON at byte 12", "image: expected a string, got
// number", "image: base64: invalid '*' at offset 3", "multipart: no field 'file' (found:
// 'image')", "body: empty".
framework::Result<std::string> extract_predict_image(BodyFormat format,
                                                     std::string_view content_type,
                                                     std::string_view body);

}  // namespace digitpipe::gateway
