// Image bytes from text: strict base64 (RFC 4648 section 4) and `data:` URLs, for the JSON form
// of POST /api/predict ({"image": canvas.toDataURL()} or bare base64). Boost 1.74 has no public
// base64, and Pistache's accepts anything, so this small decoder refuses what is not base64.
#pragma once

#include <string>
#include <string_view>

#include "digitpipe/status.hpp"

namespace digitpipe::gateway {

// Decodes standard base64 (A-Z a-z 0-9 + /). Padding '=' is optional but, when present, must
// complete the last quantum; no whitespace, no URL-safe alphabet, no bits past the data (the
// unused low bits of the last character must be 0). kInvalidArgument names the offset and the
// character at fault.
framework::Result<std::string> decode_base64(std::string_view text);

// The bytes of an image given as "data:image/png;base64,..." (image/jpeg too; parameters such
// as ";charset=..." before ";base64" are ignored) or as bare base64. kInvalidArgument messages
// start with `field` ("image: ..."): not base64, a data URL of another media type, a data URL
// without ";base64", empty.
framework::Result<std::string> decode_image_text(std::string_view text, std::string_view field);

}  // namespace digitpipe::gateway
