// Unit tests of the envelope codec (framework/src/envelope/envelope.cpp): round trips of
// requests and replies with payloads, and every kind of malformed body rejected with
// kInvalidArgument and a message that names the frame or header key at fault.
#include "digitpipe/envelope.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace digitpipe::framework {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using Frames = std::vector<std::string>;

Payload make_image_payload() {
    Payload p;
    p.name = "image";
    p.dtype = "u8";
    p.shape = {28, 28};
    p.bytes = std::string(784, '\0');
    for (std::size_t i = 0; i < p.bytes.size(); ++i) p.bytes[i] = static_cast<char>(i % 251);
    return p;
}

Request make_request() {
    Request r;
    r.verb = "predict";
    r.correlation_id = make_correlation_id();
    r.header = {{"schema", "digitpipe.predict/1"}, {"top_k", 3}};
    r.deadline =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'123'456));
    r.payloads.push_back(make_image_payload());
    Payload logits{"logits", "f32", {10}, std::string(40, '\x01')};
    r.payloads.push_back(logits);
    Payload png{"png", "bytes", {}, std::string("\x89PNG\r\n\x1a\n\0\0rest", 14)};
    r.payloads.push_back(png);
    return r;
}

// Decodes and expects failure; returns the message.
std::string request_error(const Frames& frames) {
    auto decoded = decode_request(frames);
    EXPECT_FALSE(decoded.is_ok());
    if (decoded.is_ok()) return {};
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
    return decoded.status().message();
}

std::string reply_error(const Frames& frames) {
    auto decoded = decode_reply(frames);
    EXPECT_FALSE(decoded.is_ok());
    if (decoded.is_ok()) return {};
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
    return decoded.status().message();
}

// A well-formed request body with `header_text` as frame 3 and `payloads` after it.
Frames frames_with_header(const std::string& header_text, Frames payloads = {}) {
    Frames f{"DPP01", "predict", "0123456789abcdef0123456789abcdef", header_text};
    for (auto& p : payloads) f.push_back(std::move(p));
    return f;
}

// ---- round trips ---------------------------------------------------------------------------

TEST(EnvelopeTest, RequestRoundTripKeepsEverything) {
    const Request original = make_request();
    const Frames frames = encode_request(original);
    ASSERT_EQ(frames.size(), 7u);
    EXPECT_EQ(frames[0], "DPP01");
    EXPECT_EQ(frames[1], "predict");
    EXPECT_EQ(frames[2], original.correlation_id);
    EXPECT_EQ(frames[4], original.payloads[0].bytes);

    auto decoded = decode_request(frames);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->verb, original.verb);
    EXPECT_EQ(decoded->correlation_id, original.correlation_id);
    EXPECT_EQ(decoded->header, original.header);  // codec keys are stripped again
    EXPECT_EQ(decoded->deadline, original.deadline);
    EXPECT_EQ(decoded->payloads, original.payloads);
}

TEST(EnvelopeTest, HeaderCarriesDeadlineAndDescriptors) {
    const Request original = make_request();
    const Frames frames = encode_request(original);
    const auto header = nlohmann::json::parse(frames[3]);
    EXPECT_EQ(header.at("deadline_ms").get<std::int64_t>(), 1'700'000'123'456);
    ASSERT_EQ(header.at("payloads").size(), 3u);
    EXPECT_EQ(header["payloads"][0],
              (nlohmann::json{{"name", "image"}, {"dtype", "u8"}, {"shape", {28, 28}}}));
}

TEST(EnvelopeTest, AbsentDeadlineRoundTripsAsMax) {
    Request r;
    r.verb = "health";
    r.correlation_id = "abc";
    const Frames frames = encode_request(r);
    ASSERT_EQ(frames.size(), 4u);
    EXPECT_EQ(frames[3], "{}");
    auto decoded = decode_request(frames);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->deadline, std::chrono::system_clock::time_point::max());
    EXPECT_TRUE(decoded->payloads.empty());
    EXPECT_EQ(decoded->header, nlohmann::json::object());
}

TEST(EnvelopeTest, DeadlineBeforeEpochEncodesAsZero) {
    Request r;
    r.verb = "predict";
    r.correlation_id = "c";
    r.deadline = std::chrono::system_clock::time_point::min();
    auto decoded = decode_request(encode_request(r));
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->deadline, std::chrono::system_clock::time_point{});
}

TEST(EnvelopeTest, StaleCodecKeysInHeaderAreReplaced) {
    Request r;
    r.verb = "sample";
    r.correlation_id = "abc";
    r.header = {{"deadline_ms", 5}, {"payloads", "junk"}, {"count", 2}};
    const Frames frames = encode_request(r);
    auto decoded = decode_request(frames);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->deadline, std::chrono::system_clock::time_point::max());
    EXPECT_EQ(decoded->header, (nlohmann::json{{"count", 2}}));
}

TEST(EnvelopeTest, OkReplyRoundTrip) {
    Reply reply = Reply::ok({{"digit", 7}, {"probabilities", {0.1, 0.9}}});
    reply.payloads.push_back({"seen", "u8", {28, 28}, std::string(784, '\x7f')});
    const Frames frames = encode_reply(reply, "feedbeef");
    EXPECT_EQ(frames[1], "OK");
    auto decoded = decode_reply(frames);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->correlation_id, "feedbeef");
    EXPECT_TRUE(decoded->reply.status.is_ok());
    EXPECT_EQ(decoded->reply.header, reply.header);
    EXPECT_EQ(decoded->reply.payloads, reply.payloads);
}

TEST(EnvelopeTest, ErrorReplyCarriesMessageAndContext) {
    const Reply reply = Reply::error(failed_precondition("infer: no model loaded"),
                                     {{"field", "image"}});
    EXPECT_EQ(reply.header, (nlohmann::json{{"context", {{"field", "image"}}}}));
    const Frames frames = encode_reply(reply, "c1");
    EXPECT_EQ(frames[1], "FAILED_PRECONDITION");
    const auto header = nlohmann::json::parse(frames[3]);
    EXPECT_EQ(header.at("message"), "infer: no model loaded");
    EXPECT_EQ(header.at("context").at("field"), "image");

    auto decoded = decode_reply(frames);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->reply.status, reply.status);
    EXPECT_EQ(decoded->reply.header, reply.header);
}

TEST(EnvelopeTest, ErrorReplyWithoutContextHasEmptyHeader) {
    const Reply reply = Reply::error(unimplemented("unknown verb \"x\""));
    EXPECT_EQ(reply.header, nlohmann::json::object());
    auto decoded = decode_reply(encode_reply(reply, "c1"));
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_EQ(decoded->reply.status.code(), StatusCode::kUnimplemented);
    EXPECT_EQ(decoded->reply.status.message(), "unknown verb \"x\"");
}

TEST(EnvelopeTest, EveryStatusCodeRoundTrips) {
    for (StatusCode code :
         {StatusCode::kInvalidArgument, StatusCode::kNotFound, StatusCode::kFailedPrecondition,
          StatusCode::kResourceExhausted, StatusCode::kUnavailable, StatusCode::kDeadlineExceeded,
          StatusCode::kUnimplemented, StatusCode::kInternal}) {
        auto decoded = decode_reply(encode_reply(Reply::error(Status(code, "m")), "c"));
        ASSERT_TRUE(decoded.is_ok());
        EXPECT_EQ(decoded->reply.status.code(), code);
    }
}

TEST(EnvelopeTest, ScalarAndEmptyPayloadsRoundTrip) {
    Request r;
    r.verb = "evaluate";
    r.correlation_id = "c";
    r.payloads.push_back({"loss", "f64", {}, std::string(8, '\0')});  // scalar: one element
    r.payloads.push_back({"none", "i32", {0, 5}, ""});
    r.payloads.push_back({"blob", "bytes", {}, ""});
    auto decoded = decode_request(encode_request(r));
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->payloads, r.payloads);
}

TEST(EnvelopeTest, FindPayloadByName) {
    const Request r = make_request();
    ASSERT_NE(r.find_payload("logits"), nullptr);
    EXPECT_EQ(r.find_payload("logits")->dtype, "f32");
    EXPECT_EQ(r.find_payload("missing"), nullptr);
}

TEST(EnvelopeTest, UnknownHeaderKeysAreKept) {
    auto decoded = decode_request(frames_with_header(R"({"x_future": [1, 2], "schema": "s"})"));
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->header.at("x_future"), nlohmann::json({1, 2}));
}

// ---- correlation ids -----------------------------------------------------------------------

TEST(EnvelopeTest, CorrelationIdIs32LowercaseHex) {
    for (int i = 0; i < 100; ++i) {
        EXPECT_THAT(make_correlation_id(), MatchesRegex("[0-9a-f]{32}"));
    }
}

TEST(EnvelopeTest, CorrelationIdsAreUniqueAcrossThreads) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 2000;
    std::vector<std::vector<std::string>> ids(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&ids, t] {
            for (int i = 0; i < kPerThread; ++i) ids[t].push_back(make_correlation_id());
        });
    }
    for (auto& th : threads) th.join();
    std::set<std::string> all;
    for (const auto& v : ids) all.insert(v.begin(), v.end());
    EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

// ---- malformed bodies ----------------------------------------------------------------------

TEST(EnvelopeTest, RejectsTooFewFrames) {
    EXPECT_THAT(request_error({}), HasSubstr("expected at least 4 frames"));
    EXPECT_THAT(request_error({"DPP01", "predict", "c"}), HasSubstr("got 3"));
    EXPECT_THAT(reply_error({"DPP01", "OK"}), HasSubstr("got 2"));
}

TEST(EnvelopeTest, RejectsWrongTag) {
    Frames f = encode_request(make_request());
    f[0] = "DPP02";
    EXPECT_THAT(request_error(f), HasSubstr("frame 0 (tag): expected DPP01, got \"DPP02\""));
    f[0] = std::string("\x01\xff", 2);
    EXPECT_THAT(request_error(f), HasSubstr("got \"\\x01\\xff\""));
    Frames r = encode_reply(Reply::ok(), "c");
    r[0] = "MDPC01";
    EXPECT_THAT(reply_error(r), HasSubstr("frame 0 (tag)"));
}

TEST(EnvelopeTest, RejectsBadVerb) {
    Frames f = frames_with_header("{}");
    f[1] = "";
    EXPECT_THAT(request_error(f), HasSubstr("frame 1 (verb): empty"));
    f[1] = "pre dict";
    EXPECT_THAT(request_error(f), HasSubstr("frame 1 (verb)"));
    f[1] = std::string(129, 'v');
    EXPECT_THAT(request_error(f), HasSubstr("frame 1 (verb): 129 bytes"));
}

TEST(EnvelopeTest, RejectsUnknownStatusName) {
    Frames f = encode_reply(Reply::ok(), "c");
    f[1] = "MAYBE";
    EXPECT_THAT(reply_error(f), HasSubstr("frame 1 (status): unknown status name \"MAYBE\""));
    f[1] = "ok";  // names are case-sensitive
    EXPECT_THAT(reply_error(f), HasSubstr("frame 1 (status)"));
}

TEST(EnvelopeTest, RejectsBadCorrelationId) {
    Frames f = frames_with_header("{}");
    f[2] = "";
    EXPECT_THAT(request_error(f), HasSubstr("frame 2 (correlation id): empty"));
    f[2] = std::string("ab\ncd");
    EXPECT_THAT(request_error(f), HasSubstr("frame 2 (correlation id)"));
    Frames r = encode_reply(Reply::ok(), "c");
    r[2] = "";
    EXPECT_THAT(reply_error(r), HasSubstr("frame 2 (correlation id)"));
}

TEST(EnvelopeTest, RejectsHeaderThatIsNotJson) {
    EXPECT_THAT(request_error(frames_with_header("{\"a\": ")),
                HasSubstr("frame 3 (header): not valid JSON: "));
    EXPECT_THAT(request_error(frames_with_header("")), HasSubstr("frame 3 (header): not valid"));
    // Invalid UTF-8 inside a string is not JSON either.
    EXPECT_THAT(request_error(frames_with_header("{\"a\": \"\xff\"}")),
                HasSubstr("frame 3 (header): not valid JSON"));
    EXPECT_THAT(reply_error({"DPP01", "OK", "c", "nope"}), HasSubstr("frame 3 (header)"));
}

TEST(EnvelopeTest, RejectsHeaderThatIsNotAnObject) {
    EXPECT_THAT(request_error(frames_with_header("[1, 2]")),
                HasSubstr("frame 3 (header): expected a JSON object, got array"));
    EXPECT_THAT(request_error(frames_with_header("null")), HasSubstr("got null"));
}

TEST(EnvelopeTest, RejectsOversizedHeader) {
    const std::string big = "{\"pad\": \"" + std::string(2u << 20, 'x') + "\"}";
    EXPECT_THAT(request_error(frames_with_header(big)), HasSubstr("frame 3 (header): "));
}

// Found with tests/fuzz (fuzz_envelope, a hand-made input): a header of 200,000 nested arrays
// decoded fine, then overflowed the stack of whoever copied or re-encoded it (nlohmann-json
// recurses per level).
TEST(EnvelopeTest, RejectsDeeplyNestedHeader) {
    const std::size_t levels = 200000;
    const std::string deep = "{\"a\": " + std::string(levels, '[') + std::string(levels, ']') + "}";
    EXPECT_THAT(request_error(frames_with_header(deep)),
                HasSubstr("frame 3 (header): nested deeper than 64 levels"));
    EXPECT_THAT(reply_error({"DPP01", "OK", "c", deep}), HasSubstr("nested deeper than 64"));
    // 64 levels are fine, and brackets inside strings do not count.
    const std::string ok = "{\"a\": " + std::string(63, '[') + std::string(63, ']') +
                           ", \"s\": \"" + std::string(100, '[') + "\\\"[\"}";
    const auto request = decode_request(frames_with_header(ok));
    ASSERT_TRUE(request.is_ok()) << request.status().message();
    EXPECT_EQ(request->header["s"].get<std::string>(), std::string(100, '[') + "\"[");
    EXPECT_EQ(encode_request(*request).size(), 4u);
}

TEST(EnvelopeTest, RejectsPayloadCountMismatch) {
    Frames f = encode_request(make_request());
    f.pop_back();
    EXPECT_THAT(request_error(f),
                HasSubstr("header.payloads: 3 descriptor(s), but 2 payload frame(s) follow the "
                          "header (frames 4..5)"));
    f = encode_request(make_request());
    f.push_back("extra");
    EXPECT_THAT(request_error(f), HasSubstr("header.payloads: 3 descriptor(s), but 4"));
    EXPECT_THAT(request_error(frames_with_header("{}", {"stray"})),
                HasSubstr("frame 3 (header): no \"payloads\" descriptors, but 1 payload frame"));
    EXPECT_THAT(
        request_error(frames_with_header(R"({"payloads": [{"name": "a", "dtype": "bytes"}]})")),
        HasSubstr("but no payload frames follow the header"));
}

TEST(EnvelopeTest, RejectsPayloadSizeMismatch) {
    Frames f = encode_request(make_request());
    f[4].pop_back();
    EXPECT_THAT(request_error(f),
                HasSubstr("header.payloads[0].shape: 28x28 u8 needs 784 bytes, frame 4 has 783"));
    f = encode_request(make_request());
    f[5] += "xy";
    EXPECT_THAT(request_error(f),
                HasSubstr("header.payloads[1].shape: 10 f32 needs 40 bytes, frame 5 has 42"));
}

TEST(EnvelopeTest, RejectsBadDescriptors) {
    const auto error_for = [](const std::string& descriptor, const std::string& bytes) {
        return request_error(frames_with_header(R"({"payloads": [)" + descriptor + "]}", {bytes}));
    };
    EXPECT_THAT(error_for("7", "x"), HasSubstr("header.payloads[0]: expected an object"));
    EXPECT_THAT(error_for(R"({"dtype": "u8"})", "x"), HasSubstr("header.payloads[0].name"));
    EXPECT_THAT(error_for(R"({"name": "a"})", "x"), HasSubstr("header.payloads[0].dtype"));
    EXPECT_THAT(error_for(R"({"name": "a", "dtype": "f16", "shape": [1]})", "xx"),
                HasSubstr("header.payloads[0].dtype: unknown dtype \"f16\""));
    EXPECT_THAT(error_for(R"({"name": "a", "dtype": "u8", "shape": 3})", "xxx"),
                HasSubstr("header.payloads[0].shape: expected an array"));
    EXPECT_THAT(error_for(R"({"name": "a", "dtype": "u8", "shape": [1.5]})", "x"),
                HasSubstr("header.payloads[0].shape[0]: expected an integer, got 1.5"));
    EXPECT_THAT(error_for(R"({"name": "a", "dtype": "u8", "shape": ["3"]})", "xxx"),
                HasSubstr("header.payloads[0].shape[0]: expected an integer"));
    EXPECT_THAT(error_for(R"({"name": "a", "dtype": "u8", "shape": [2, -3]})", "x"),
                HasSubstr("header.payloads[0].shape[1]: -3 is negative"));
    EXPECT_THAT(error_for(R"({"name": "a", "dtype": "u8", "shape": [18446744073709551615]})", "x"),
                HasSubstr("header.payloads[0].shape[0]: 18446744073709551615 overflows"));
    EXPECT_THAT(error_for(R"({"name": "a", "dtype": "f64",
                             "shape": [4294967296, 4294967296]})", "x"),
                HasSubstr("header.payloads[0].shape: 4294967296x4294967296 f64 overflows"));
    EXPECT_THAT(error_for(R"({"name": "a", "dtype": "f64", "shape": [4611686018427387904]})", "x"),
                HasSubstr("overflows"));
    EXPECT_THAT(request_error(frames_with_header(R"({"payloads": {"name": "a"}})", {"x"})),
                HasSubstr("header.payloads: expected an array, got object"));
}

TEST(EnvelopeTest, RejectsBadDeadline) {
    EXPECT_THAT(request_error(frames_with_header(R"({"deadline_ms": "soon"})")),
                HasSubstr("header.deadline_ms: expected an integer, got string"));
    EXPECT_THAT(request_error(frames_with_header(R"({"deadline_ms": -1})")),
                HasSubstr("header.deadline_ms: -1 is before the Unix epoch"));
    EXPECT_THAT(request_error(frames_with_header(R"({"deadline_ms": 18446744073709551615})")),
                HasSubstr("header.deadline_ms: 18446744073709551615 is out of range"));
}

TEST(EnvelopeTest, RejectsNonStringErrorMessage) {
    EXPECT_THAT(reply_error({"DPP01", "INTERNAL", "c", R"({"message": 42})"}),
                HasSubstr("header.message: expected a string"));
}

TEST(EnvelopeTest, DecodingGarbageNeverThrows) {
    // A cheap sweep over truncations and byte flips of a valid body: every outcome is a value.
    const Frames good = encode_request(make_request());
    for (std::size_t frame = 0; frame < good.size(); ++frame) {
        for (std::size_t cut = 0; cut <= std::min<std::size_t>(good[frame].size(), 40); ++cut) {
            Frames f = good;
            f[frame].resize(cut);
            EXPECT_NO_THROW((void)decode_request(f));
            EXPECT_NO_THROW((void)decode_reply(f));
        }
    }
}

// ---- encoder preconditions -----------------------------------------------------------------

TEST(EnvelopeTest, EncodeRejectsBrokenPreconditions) {
    Request r = make_request();
    r.correlation_id.clear();
    EXPECT_THROW(encode_request(r), std::invalid_argument);
    r = make_request();
    r.header = nlohmann::json::array();
    EXPECT_THROW(encode_request(r), std::invalid_argument);
    r = make_request();
    r.payloads[0].bytes.pop_back();
    EXPECT_THROW(encode_request(r), std::invalid_argument);
    r = make_request();
    r.verb.clear();
    EXPECT_THROW(encode_request(r), std::invalid_argument);
    r = make_request();
    r.header["pad"] = std::string(2u << 20, 'x');  // bulk data belongs in payloads
    EXPECT_THROW(encode_request(r), std::invalid_argument);
    EXPECT_THROW(encode_reply(Reply::ok(), ""), std::invalid_argument);
}

}  // namespace
}  // namespace digitpipe::framework
