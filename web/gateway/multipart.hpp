// multipart/form-data (RFC 7578 over RFC 2046 section 5.1) for POST /api/predict uploads: the
// boundary from the Content-Type, the parts of a body, and the one file field the route wants.
// A strict parser of untrusted bytes: it never reads past the body, bounds the parts and their
// header blocks, and says what it found when the body is not what it should be.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "digitpipe/status.hpp"

namespace digitpipe::gateway {

// One part: its Content-Disposition name (and filename when it is a file), its Content-Type
// ("" when absent) and its bytes (views into the body handed to parse_multipart).
struct MultipartPart {
    std::string name;
    std::optional<std::string> filename;
    std::string content_type;
    std::string_view body;
};

// The boundary parameter of a "multipart/form-data; boundary=..." Content-Type (quoted or
// not). kInvalidArgument when the media type is another one or the boundary is missing or not
// 1..70 characters.
framework::Result<std::string> multipart_boundary(std::string_view content_type);

// Splits `body` into its parts. The preamble and epilogue are ignored; every part needs a
// Content-Disposition: form-data with a name. kInvalidArgument naming the part (by index) and
// what is wrong: no opening boundary, unterminated part, missing closing boundary, malformed
// header, too many parts (more than 64) or a header block over 8 KiB.
// requires: `body` outlives the returned parts (they view it).
framework::Result<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                              std::string_view boundary);

// The bytes of the part named `field`. kInvalidArgument when there is none ("no field 'file'
// (found: 'image', 'x')") or more than one, or when it is empty.
framework::Result<std::string_view> multipart_field(const std::vector<MultipartPart>& parts,
                                                    std::string_view field);

}  // namespace digitpipe::gateway
