// Fuzzes what the network hands the framework: envelope bodies (decode_request, decode_reply)
// and the MDP frame helpers (command and prefetch frames, log dumps, mmi.services lines).
// Input: frames separated by the byte 0x1E (ASCII record separator), e.g.
// "DPP01\x1Epredict\x1Eabc\x1E{}". A JSON header cannot hold a raw 0x1E, so seeds stay readable.
// Properties checked beyond "no crash, no leak, no UB": whatever decodes re-encodes without
// throwing and decodes back to the same value; parsed MDP values are in their documented range.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "digitpipe/envelope.hpp"
#include "digitpipe/mdp.hpp"
#include "fuzz_common.hpp"
#include "messaging/mdp_frames.hpp"
#include "messaging/mmi.hpp"

namespace {

namespace dp = digitpipe::framework;

constexpr char kFrameSeparator = '\x1e';

std::vector<std::string> split_frames(std::string_view input) {
    std::vector<std::string> frames;
    for (;;) {
        const auto at = input.find(kFrameSeparator);
        frames.emplace_back(input.substr(0, at));
        if (at == std::string_view::npos) return frames;
        input.remove_prefix(at + 1);
    }
}

void check_request_round_trip(const dp::Request& request) {
    const std::vector<std::string> frames = dp::encode_request(request);  // must not throw
    const auto again = dp::decode_request(frames);
    DIGITPIPE_FUZZ_CHECK(again.is_ok());
    DIGITPIPE_FUZZ_CHECK(again->verb == request.verb);
    DIGITPIPE_FUZZ_CHECK(again->correlation_id == request.correlation_id);
    DIGITPIPE_FUZZ_CHECK(again->header == request.header);
    DIGITPIPE_FUZZ_CHECK(again->payloads == request.payloads);
    DIGITPIPE_FUZZ_CHECK(again->deadline == request.deadline);
    for (const auto& payload : request.payloads) {
        const dp::Payload* found = request.find_payload(payload.name);
        DIGITPIPE_FUZZ_CHECK(found != nullptr && found->name == payload.name);
    }
}

void check_reply_round_trip(const dp::DecodedReply& decoded) {
    const std::vector<std::string> frames =
        dp::encode_reply(decoded.reply, decoded.correlation_id);  // must not throw
    const auto again = dp::decode_reply(frames);
    DIGITPIPE_FUZZ_CHECK(again.is_ok());
    DIGITPIPE_FUZZ_CHECK(again->correlation_id == decoded.correlation_id);
    DIGITPIPE_FUZZ_CHECK(again->reply.status.code() == decoded.reply.status.code());
    DIGITPIPE_FUZZ_CHECK(again->reply.status.message() == decoded.reply.status.message());
    DIGITPIPE_FUZZ_CHECK(again->reply.header == decoded.reply.header);
    DIGITPIPE_FUZZ_CHECK(again->reply.payloads == decoded.reply.payloads);
}

void fuzz_mdp_frames(const std::vector<std::string>& frames) {
    namespace mdp = dp::mdp;
    mdp::Parts parts;
    parts.reserve(frames.size());
    for (const auto& frame : frames) parts.emplace_back(frame.data(), frame.size());
    (void)mdp::describe_parts(parts);
    for (const auto& part : parts) {
        const std::string_view bytes = mdp::view_of(part);
        const std::string hex = mdp::to_hex(bytes);
        DIGITPIPE_FUZZ_CHECK(hex.size() == 2 * bytes.size());
        (void)mdp::describe_frame(bytes);
        if (const auto command = mdp::parse_command(part)) {
            DIGITPIPE_FUZZ_CHECK(mdp::command_frame(*command) == bytes);
            DIGITPIPE_FUZZ_CHECK(mdp::command_name(*command) != "UNKNOWN");
        }
        if (const auto credit = mdp::parse_prefetch(part)) {
            DIGITPIPE_FUZZ_CHECK(*credit >= 1 && *credit <= dp::kMaxPrefetch);
        }
        // An mmi.services line: parse, format, parse again gives the same.
        if (const auto line = dp::mmi::parse_service_line(bytes)) {
            const std::string text = dp::mmi::format_service_line(line->first, line->second);
            const auto again = dp::mmi::parse_service_line(text);
            DIGITPIPE_FUZZ_CHECK(again.has_value());
            DIGITPIPE_FUZZ_CHECK(again->first == line->first);
            DIGITPIPE_FUZZ_CHECK(again->second.workers_idle == line->second.workers_idle);
            DIGITPIPE_FUZZ_CHECK(again->second.workers_busy == line->second.workers_busy);
            DIGITPIPE_FUZZ_CHECK(again->second.queued == line->second.queued);
            DIGITPIPE_FUZZ_CHECK(again->second.in_flight == line->second.in_flight);
        }
        (void)dp::mmi::is_mmi(bytes);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::vector<std::string> frames = split_frames(input);

    const auto request = dp::decode_request(frames);
    if (request.is_ok()) {
        check_request_round_trip(*request);
    } else {
        DIGITPIPE_FUZZ_CHECK(request.status().code() == dp::StatusCode::kInvalidArgument);
        DIGITPIPE_FUZZ_CHECK(!request.status().message().empty());
    }
    const auto reply = dp::decode_reply(frames);
    if (reply.is_ok()) {
        check_reply_round_trip(*reply);
    } else {
        DIGITPIPE_FUZZ_CHECK(reply.status().code() == dp::StatusCode::kInvalidArgument);
        DIGITPIPE_FUZZ_CHECK(!reply.status().message().empty());
    }
    fuzz_mdp_frames(frames);
    return 0;
}
