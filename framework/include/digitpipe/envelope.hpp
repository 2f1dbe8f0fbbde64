// The digitpipe message envelope: what travels inside an MDP request or reply body.
//
// Body frames, one field per frame:
//   [0] app tag "DPP01" (checked on every message)
//   [1] verb (request) or status name (reply, see status_code_name)
//   [2] correlation id (created by the first sender, echoed unchanged)
//   [3] header: a UTF-8 JSON object. Keys the codec owns: "deadline_ms" (request, ms since
//       the Unix epoch), "payloads" (a descriptor per binary frame), "message"/"context"
//       (error replies). Everything else belongs to the verb; unknown keys are ignored.
//   [4..] binary payloads, each described in header.payloads[i] by name, dtype, shape;
//       little-endian, row-major.
// Only this codec and framework/src/messaging build or parse these frames.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "digitpipe/status.hpp"

namespace digitpipe::framework {

inline constexpr std::string_view kEnvelopeTag = "DPP01";

// One binary frame and its description. dtype is a short name ("u8", "f32", "bytes", ...);
// shape is empty for opaque bytes. The codec checks that bytes.size() matches dtype x shape
// for the numeric dtypes it knows (u8, i8, u16, i16, u32, i32, i64, u64, f32, f64).
struct Payload {
    std::string name;
    std::string dtype = "bytes";
    std::vector<std::int64_t> shape;
    std::string bytes;

    friend bool operator==(const Payload&, const Payload&) = default;
};

// A request as a stage sees it.
struct Request {
    std::string verb;
    std::string correlation_id;
    nlohmann::json header = nlohmann::json::object();  // always an object
    std::vector<Payload> payloads;
    // When the caller stops waiting. A stage should give up (kDeadlineExceeded) past it.
    std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();

    // The payload with this name, or nullptr.
    const Payload* find_payload(std::string_view name) const noexcept;
};

// Exactly one per request, errors included.
struct Reply {
    Status status;
    nlohmann::json header = nlohmann::json::object();  // always an object
    std::vector<Payload> payloads;

    static Reply ok(nlohmann::json header = nlohmann::json::object()) {
        return Reply{Status::ok(), std::move(header), {}};
    }
    // A failed reply. `context` (optional) says where, e.g. {"field": "image"}.
    static Reply error(Status status, nlohmann::json context = nullptr);
};

// A fresh random 128-bit correlation id, as 32 lowercase hex digits.
std::string make_correlation_id();

// Encode to body frames (as strings; the messaging layer turns them into zmq messages).
// The codec's header keys ("deadline_ms", "payloads", an error's "message") are written from
// the struct fields and replace any the caller left in `header`.
// requires: header is an object (null counts as {}); correlation_id and verb are non-empty
//           printable ASCII without spaces, at most 128 bytes; each numeric payload's size
//           matches dtype x shape; the header's JSON text is at most 1 MiB.
// throws: std::invalid_argument when violated (a caller bug; decoders would reject the frames).
std::vector<std::string> encode_request(const Request& request);
std::vector<std::string> encode_reply(const Reply& reply, std::string_view correlation_id);

// Decoded reply plus the correlation id it carried.
struct DecodedReply {
    std::string correlation_id;
    Reply reply;
};

// Decode body frames. Malformed input (wrong tag, too few frames, non-JSON or non-object
// header, payload count or size mismatch, unknown status name, oversized frame) gives
// kInvalidArgument with a message naming the frame and what was wrong; never throws.
Result<Request> decode_request(const std::vector<std::string>& frames);
Result<DecodedReply> decode_reply(const std::vector<std::string>& frames);

}  // namespace digitpipe::framework
