// The envelope codec: Request/Reply <-> body frames (see envelope.hpp for the frame layout).
// Decoding faces the network, so it never throws and never asserts: every malformed input
// becomes kInvalidArgument naming the frame and the problem, and the messaging layer drops,
// counts and logs it. Encoding checks the same invariants, so we never send what a peer
// would reject.
#include "digitpipe/envelope.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>

namespace digitpipe::framework {
namespace {

using nlohmann::json;

// Frames before the first payload: tag, verb/status, correlation id, header.
constexpr std::size_t kFixedFrames = 4;
// The header is a small descriptor document; a larger one is an attack or a bug.
constexpr std::size_t kMaxHeaderBytes = 1u << 20;
// Verbs and correlation ids are short identifiers; longer ones are not ours.
constexpr std::size_t kMaxTokenBytes = 128;
// How much of a bad frame an error message quotes.
constexpr std::size_t kMaxQuotedBytes = 32;
// The deepest nesting of arrays and objects a header may have. nlohmann-json parses any depth
// without recursing, but copying, comparing and dumping a value recurse once per level: a
// 400 KB header of nested brackets overflowed the stack of whoever copied or re-encoded it
// (found with tests/fuzz fuzz_envelope). Headers are flat descriptor documents; verbs' own
// fields nest a few levels.
constexpr std::size_t kMaxHeaderDepth = 64;

struct DtypeSize {
    std::string_view name;
    std::size_t bytes;
};

constexpr std::array<DtypeSize, 10> kDtypes{{
    {"u8", 1},
    {"i8", 1},
    {"u16", 2},
    {"i16", 2},
    {"u32", 4},
    {"i32", 4},
    {"i64", 8},
    {"u64", 8},
    {"f32", 4},
    {"f64", 8},
}};
constexpr std::string_view kOpaqueDtype = "bytes";

// Element size of a numeric dtype, 0 for "bytes", nullopt for an unknown name.
std::optional<std::size_t> dtype_size(std::string_view dtype) {
    if (dtype == kOpaqueDtype) return 0;
    for (const auto& entry : kDtypes) {
        if (entry.name == dtype) return entry.bytes;
    }
    return std::nullopt;
}

std::string known_dtypes() {
    std::string out;
    for (const auto& entry : kDtypes) {
        out += entry.name;
        out += ", ";
    }
    out += kOpaqueDtype;
    return out;
}

// A bounded, printable rendering of untrusted bytes for an error message.
std::string quote(std::string_view bytes) {
    std::string out = "\"";
    const std::size_t shown = std::min(bytes.size(), kMaxQuotedBytes);
    for (std::size_t i = 0; i < shown; ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            std::array<char, 5> hex{};
            std::snprintf(hex.data(), hex.size(), "\\x%02x", c);
            out += hex.data();
        }
    }
    out += '"';
    if (bytes.size() > shown) out += "... (" + std::to_string(bytes.size()) + " bytes)";
    return out;
}

// True when JSON `text` nests arrays and objects deeper than `limit` (brackets inside strings
// do not count). Only meant for text that is then parsed: malformed text is the parser's to
// reject.
bool nests_deeper_than(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;  // the escaped character, which may be a quote
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

std::string frame_label(std::size_t index, std::string_view what) {
    return "frame " + std::to_string(index) + " (" + std::string(what) + ")";
}

// Checks a verb or correlation id: non-empty, bounded, printable ASCII without spaces.
Status check_token(std::string_view token, std::size_t index, std::string_view what) {
    if (token.empty()) return invalid_argument(frame_label(index, what) + ": empty");
    if (token.size() > kMaxTokenBytes) {
        return invalid_argument(frame_label(index, what) + ": " + std::to_string(token.size()) +
                                " bytes, at most " + std::to_string(kMaxTokenBytes) + " allowed");
    }
    for (char ch : token) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7f) {
            return invalid_argument(frame_label(index, what) + ": " + quote(token) +
                                    " holds a space or a non-printable byte");
        }
    }
    return Status::ok();
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
    if (shape.empty()) return "scalar";
    std::string out;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) out += 'x';
        out += std::to_string(shape[i]);
    }
    return out;
}

// Checks that `payload` is self-consistent; `where` names its descriptor
// ("header.payloads[1]") and `frame_index` the frame holding its bytes.
Status check_payload(const Payload& payload, const std::string& where, std::size_t frame_index) {
    const auto element = dtype_size(payload.dtype);
    if (!element) {
        return invalid_argument(where + ".dtype: unknown dtype " + quote(payload.dtype) +
                                " (expected one of " + known_dtypes() + ")");
    }
    std::uint64_t count = 1;
    for (std::size_t d = 0; d < payload.shape.size(); ++d) {
        const std::int64_t dim = payload.shape[d];
        if (dim < 0) {
            return invalid_argument(where + ".shape[" + std::to_string(d) + "]: " +
                                    std::to_string(dim) + " is negative");
        }
        const auto udim = static_cast<std::uint64_t>(dim);
        if (udim != 0 && count > std::numeric_limits<std::uint64_t>::max() / udim) {
            return invalid_argument(where + ".shape: " + shape_text(payload.shape) + " " +
                                    payload.dtype + " overflows a 64-bit size");
        }
        count *= udim;
    }
    if (*element == 0) return Status::ok();  // "bytes" is opaque: any size, any shape
    if (count > std::numeric_limits<std::uint64_t>::max() / *element) {
        return invalid_argument(where + ".shape: " + shape_text(payload.shape) + " " +
                                payload.dtype + " overflows a 64-bit size");
    }
    const std::uint64_t needed = count * *element;
    if (needed != payload.bytes.size()) {
        return invalid_argument(where + ".shape: " + shape_text(payload.shape) + " " +
                                payload.dtype + " needs " + std::to_string(needed) +
                                " bytes, frame " + std::to_string(frame_index) + " has " +
                                std::to_string(payload.bytes.size()));
    }
    return Status::ok();
}

json payload_descriptor(const Payload& payload) {
    return json{{"name", payload.name}, {"dtype", payload.dtype}, {"shape", payload.shape}};
}

// Shared tail of both encoders: header (with the codec's keys) then payload frames.
// throws: std::invalid_argument on a broken precondition (a caller bug, not network input).
std::vector<std::string> encode_frames(std::string_view first, std::string_view correlation_id,
                                       json header, const std::vector<Payload>& payloads) {
    if (Status s = check_token(correlation_id, 2, "correlation id"); !s.is_ok()) {
        throw std::invalid_argument("encode: " + s.message());
    }
    if (header.is_null()) header = json::object();
    if (!header.is_object()) {
        throw std::invalid_argument(std::string("encode: header must be a JSON object, got ") +
                                    header.type_name());
    }
    header.erase("payloads");
    if (!payloads.empty()) {
        json descriptors = json::array();
        for (std::size_t i = 0; i < payloads.size(); ++i) {
            const Status status = check_payload(payloads[i], "payloads[" + std::to_string(i) + "]",
                                                kFixedFrames + i);
            if (!status.is_ok()) throw std::invalid_argument("encode: " + status.message());
            descriptors.push_back(payload_descriptor(payloads[i]));
        }
        header["payloads"] = std::move(descriptors);
    }

    std::vector<std::string> frames;
    frames.reserve(kFixedFrames + payloads.size());
    frames.emplace_back(kEnvelopeTag);
    frames.emplace_back(first);
    frames.emplace_back(correlation_id);
    // Replace rather than throw on invalid UTF-8 in a stage's strings: the reply must go out.
    frames.push_back(header.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace));
    if (frames.back().size() > kMaxHeaderBytes) {
        throw std::invalid_argument("encode: header is " + std::to_string(frames.back().size()) +
                                    " bytes, at most " + std::to_string(kMaxHeaderBytes) +
                                    " allowed (send bulk data as payloads)");
    }
    for (const auto& payload : payloads) frames.push_back(payload.bytes);
    return frames;
}

// What both decoders share: everything but frame 1 and the codec keys specific to one side.
struct CommonFrames {
    std::string correlation_id;
    json header;
    std::vector<Payload> payloads;
};

// "2 payload frame(s) follow the header (frames 4..5)" for a message of `total` frames.
std::string payload_frames_text(std::size_t total) {
    const std::size_t count = total - kFixedFrames;
    if (count == 0) return "no payload frames follow the header";
    return std::to_string(count) + " payload frame(s) follow the header (frames " +
           std::to_string(kFixedFrames) + ".." + std::to_string(total - 1) + ")";
}

Status decode_payloads(const std::vector<std::string>& frames, json& header,
                       std::vector<Payload>& payloads) {
    const std::size_t frame_count = frames.size() - kFixedFrames;
    const auto it = header.find("payloads");
    if (it == header.end()) {
        if (frame_count != 0) {
            return invalid_argument("frame 3 (header): no \"payloads\" descriptors, but " +
                                    payload_frames_text(frames.size()));
        }
        return Status::ok();
    }
    if (!it->is_array()) {
        return invalid_argument(std::string("header.payloads: expected an array, got ") +
                                it->type_name());
    }
    if (it->size() != frame_count) {
        return invalid_argument("header.payloads: " + std::to_string(it->size()) +
                                " descriptor(s), but " + payload_frames_text(frames.size()));
    }
    payloads.reserve(frame_count);
    for (std::size_t i = 0; i < frame_count; ++i) {
        const json& descriptor = (*it)[i];
        const std::string where = "header.payloads[" + std::to_string(i) + "]";
        if (!descriptor.is_object()) {
            return invalid_argument(where + ": expected an object, got " +
                                    descriptor.type_name());
        }
        Payload payload;
        const auto name = descriptor.find("name");
        if (name == descriptor.end() || !name->is_string()) {
            return invalid_argument(where + ".name: missing or not a string");
        }
        payload.name = name->get<std::string>();
        const auto dtype = descriptor.find("dtype");
        if (dtype == descriptor.end() || !dtype->is_string()) {
            return invalid_argument(where + ".dtype: missing or not a string");
        }
        payload.dtype = dtype->get<std::string>();
        const auto shape = descriptor.find("shape");
        if (shape != descriptor.end()) {
            if (!shape->is_array()) {
                return invalid_argument(where + ".shape: expected an array, got " +
                                        shape->type_name());
            }
            for (std::size_t d = 0; d < shape->size(); ++d) {
                const json& dim = (*shape)[d];
                const std::string dim_where = where + ".shape[" + std::to_string(d) + "]";
                if (dim.is_number_unsigned()) {
                    const auto value = dim.get<std::uint64_t>();
                    if (value > static_cast<std::uint64_t>(
                                    std::numeric_limits<std::int64_t>::max())) {
                        return invalid_argument(dim_where + ": " + std::to_string(value) +
                                                " overflows a 64-bit dimension");
                    }
                    payload.shape.push_back(static_cast<std::int64_t>(value));
                } else if (dim.is_number_integer()) {
                    payload.shape.push_back(dim.get<std::int64_t>());
                } else {
                    return invalid_argument(dim_where + ": expected an integer, got " +
                                            dim.dump(-1, ' ', false,
                                                     json::error_handler_t::replace));
                }
            }
        }
        payload.bytes = frames[kFixedFrames + i];
        const Status status = check_payload(payload, where, kFixedFrames + i);
        if (!status.is_ok()) return status;
        payloads.push_back(std::move(payload));
    }
    header.erase(it);
    return Status::ok();
}

// `check_first` validates frame 1 (verb or status name), so problems are reported in frame order.
template <typename CheckFirst>
Result<CommonFrames> decode_common(const std::vector<std::string>& frames,
                                   std::string_view first_what, CheckFirst check_first) {
    if (frames.size() < kFixedFrames) {
        return invalid_argument("expected at least 4 frames (tag, " + std::string(first_what) +
                                ", correlation id, header), got " +
                                std::to_string(frames.size()));
    }
    if (frames[0] != kEnvelopeTag) {
        return invalid_argument("frame 0 (tag): expected " + std::string(kEnvelopeTag) +
                                ", got " + quote(frames[0]));
    }
    if (Status s = check_first(frames[1]); !s.is_ok()) return s;
    CommonFrames common;
    if (Status s = check_token(frames[2], 2, "correlation id"); !s.is_ok()) return s;
    common.correlation_id = frames[2];

    const std::string& text = frames[3];
    if (text.size() > kMaxHeaderBytes) {
        return invalid_argument("frame 3 (header): " + std::to_string(text.size()) +
                                " bytes, at most " + std::to_string(kMaxHeaderBytes) +
                                " allowed");
    }
    if (nests_deeper_than(text, kMaxHeaderDepth)) {
        return invalid_argument("frame 3 (header): nested deeper than " +
                                std::to_string(kMaxHeaderDepth) + " levels of arrays and objects");
    }
    try {
        common.header = json::parse(text);
    } catch (const json::exception& e) {
        return invalid_argument(std::string("frame 3 (header): not valid JSON: ") + e.what());
    }
    if (!common.header.is_object()) {
        return invalid_argument(std::string("frame 3 (header): expected a JSON object, got ") +
                                common.header.type_name());
    }
    if (Status s = decode_payloads(frames, common.header, common.payloads); !s.is_ok()) return s;
    return common;
}

// The deadline as a time point; max() when absent.
Result<std::chrono::system_clock::time_point> decode_deadline(json& header) {
    using Clock = std::chrono::system_clock;
    const auto it = header.find("deadline_ms");
    if (it == header.end()) return Clock::time_point::max();
    // The largest millisecond count Clock can hold (nanoseconds in libstdc++: ~year 2262).
    const auto max_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            Clock::time_point::max().time_since_epoch())
                            .count();
    std::int64_t ms = 0;
    if (it->is_number_unsigned()) {
        const auto value = it->get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(max_ms)) {
            return invalid_argument("header.deadline_ms: " + std::to_string(value) +
                                    " is out of range (at most " + std::to_string(max_ms) + ")");
        }
        ms = static_cast<std::int64_t>(value);
    } else if (it->is_number_integer()) {
        ms = it->get<std::int64_t>();
        if (ms < 0) {
            return invalid_argument("header.deadline_ms: " + std::to_string(ms) +
                                    " is before the Unix epoch");
        }
    } else {
        return invalid_argument(std::string("header.deadline_ms: expected an integer, got ") +
                                it->type_name());
    }
    header.erase(it);
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
        std::chrono::milliseconds(ms)));
}

}  // namespace

const Payload* Request::find_payload(std::string_view name) const noexcept {
    for (const auto& payload : payloads) {
        if (payload.name == name) return &payload;
    }
    return nullptr;
}

Reply Reply::error(Status status, nlohmann::json context) {
    Reply reply{std::move(status), nlohmann::json::object(), {}};
    if (!context.is_null()) reply.header["context"] = std::move(context);
    return reply;
}

std::string make_correlation_id() {
    // One generator per thread: no lock, and threads never share a sequence. Seeded with
    // several random_device words so ids of different processes do not collide.
    thread_local std::mt19937_64 generator = [] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device(),
                           device(), device(), device(), device()};
        return std::mt19937_64(seed);
    }();
    std::array<char, 33> text{};
    std::snprintf(text.data(), text.size(), "%016llx%016llx",
                  static_cast<unsigned long long>(generator()),
                  static_cast<unsigned long long>(generator()));
    return std::string(text.data(), 32);
}

std::vector<std::string> encode_request(const Request& request) {
    if (Status s = check_token(request.verb, 1, "verb"); !s.is_ok()) {
        throw std::invalid_argument("encode_request: " + s.message());
    }
    json header = request.header;
    if (header.is_null()) header = json::object();
    if (header.is_object()) {
        // The codec owns deadline_ms: the struct field is the one truth.
        header.erase("deadline_ms");
        if (request.deadline != std::chrono::system_clock::time_point::max()) {
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                request.deadline.time_since_epoch())
                                .count();
            // A deadline before the epoch has passed as surely as one at it.
            header["deadline_ms"] = std::max<std::int64_t>(ms, 0);
        }
    }
    return encode_frames(request.verb, request.correlation_id, std::move(header),
                         request.payloads);
}

std::vector<std::string> encode_reply(const Reply& reply, std::string_view correlation_id) {
    json header = reply.header;
    if (header.is_null()) header = json::object();
    if (!reply.status.is_ok() && header.is_object()) header["message"] = reply.status.message();
    return encode_frames(status_code_name(reply.status.code()), correlation_id, std::move(header),
                         reply.payloads);
}

Result<Request> decode_request(const std::vector<std::string>& frames) {
    auto common = decode_common(frames, "verb", [](const std::string& verb) {
        return check_token(verb, 1, "verb");
    });
    if (!common) return common.status();

    Request request;
    request.verb = frames[1];
    request.correlation_id = std::move(common->correlation_id);
    auto deadline = decode_deadline(common->header);
    if (!deadline) return deadline.status();
    request.deadline = *deadline;
    request.header = std::move(common->header);
    request.payloads = std::move(common->payloads);
    return request;
}

Result<DecodedReply> decode_reply(const std::vector<std::string>& frames) {
    auto common = decode_common(frames, "status", [](const std::string& name) {
        if (parse_status_code(name)) return Status::ok();
        return invalid_argument("frame 1 (status): unknown status name " + quote(name));
    });
    if (!common) return common.status();
    const auto code = parse_status_code(frames[1]);

    DecodedReply decoded;
    decoded.correlation_id = std::move(common->correlation_id);
    std::string message;
    if (*code != StatusCode::kOk) {
        const auto it = common->header.find("message");
        if (it != common->header.end()) {
            if (!it->is_string()) {
                return invalid_argument(std::string("header.message: expected a string, got ") +
                                        it->type_name());
            }
            message = it->get<std::string>();
            common->header.erase(it);
        }
    }
    decoded.reply.status = Status(*code, std::move(message));
    decoded.reply.header = std::move(common->header);
    decoded.reply.payloads = std::move(common->payloads);
    return decoded;
}

}  // namespace digitpipe::framework
