// Unit tests of PUSH/PULL streams (framework/src/streams/stream.cpp): round trips over inproc
// and tcp loopback in both bind directions, back-pressure at the high-water mark and recovery
// once the reader drains, fan-in from two writers, and malformed messages from a raw socket
// dropped while the next good one still arrives. Waits carry deadlines only to avoid hangs;
// nothing asserts on elapsed time.
#include "digitpipe/stream.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <zmq_addon.hpp>

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Generous: only reached when something is broken.
constexpr auto kPatience = 10s;
// Short wait used to probe "would block"; a false "blocked" only ends a fill loop early,
// which the tests tolerate, so its length never decides pass or fail.
constexpr auto kProbe = 50ms;
constexpr std::size_t kMaxMessageBytes = 1u << 20;
// Upper bound on sends before back-pressure must have shown (queues + kernel buffers).
constexpr int kMaxFill = 100000;

Request make_message(int sequence, std::size_t payload_bytes = 16) {
    Request r;
    r.verb = "batch";
    r.correlation_id = make_correlation_id();
    r.header = {{"sequence", sequence}};
    r.payloads.push_back(
        {"pixels", "u8", {static_cast<std::int64_t>(payload_bytes)},
         std::string(payload_bytes, static_cast<char>(sequence & 0x7f))});
    return r;
}

// Sends frames as they are, bypassing the codec (a misbehaving peer).
void send_raw(zmq::socket_t& socket, const std::vector<std::string>& frames) {
    std::vector<zmq::const_buffer> buffers;
    for (const auto& f : frames) buffers.push_back(zmq::buffer(f));
    ASSERT_TRUE(zmq::send_multipart(socket, buffers));
}

// Joins a thread however the test body leaves its scope (an ASSERT returns early).
class JoiningThread {
 public:
    template <typename F, typename... Args>
    explicit JoiningThread(F&& f, Args&&... args)
        : thread_(std::forward<F>(f), std::forward<Args>(args)...) {}
    ~JoiningThread() {
        if (thread_.joinable()) thread_.join();
    }
    void join() { thread_.join(); }

 private:
    std::thread thread_;
};

int sequence_of(const Request& r) { return r.header.at("sequence").get<int>(); }

StreamConfig config(std::string endpoint, int hwm = 8, bool reader_binds = true) {
    StreamConfig c;
    c.name = "test";
    c.endpoint = std::move(endpoint);
    c.hwm = hwm;
    c.reader_binds = reader_binds;
    return c;
}

struct Endpoints {
    std::string reader_side;  // what the binding side binds
    bool reader_binds;
};

void PrintTo(const Endpoints& e, std::ostream* os) {
    *os << e.reader_side << (e.reader_binds ? " (reader binds)" : " (writer binds)");
}

class StreamRoundTripTest : public ::testing::TestWithParam<Endpoints> {};

TEST_P(StreamRoundTripTest, DeliversMessagesInOrderWithPayloads) {
    zmq::context_t context;
    const Endpoints e = GetParam();
    constexpr int kMessages = 20;
    // Room for every message, so the writer can send them all before the reader reads.
    constexpr int kHwm = kMessages;
    std::unique_ptr<PullStreamReader> reader;
    std::unique_ptr<PushStreamWriter> writer;
    if (e.reader_binds) {
        reader = std::make_unique<PullStreamReader>(context, config(e.reader_side, kHwm),
                                                    kMaxMessageBytes);
        writer = std::make_unique<PushStreamWriter>(context, config(reader->endpoint(), kHwm),
                                                    kMaxMessageBytes);
    } else {
        writer = std::make_unique<PushStreamWriter>(
            context, config(e.reader_side, kHwm, /*reader_binds=*/false), kMaxMessageBytes);
        reader = std::make_unique<PullStreamReader>(
            context, config(writer->endpoint(), kHwm, /*reader_binds=*/false), kMaxMessageBytes);
    }
    std::vector<Request> sent;
    for (int i = 0; i < kMessages; ++i) {
        sent.push_back(make_message(i, 28 * 28));
        ASSERT_TRUE(writer->send(sent.back(), kPatience).is_ok());
    }
    for (int i = 0; i < kMessages; ++i) {
        auto got = reader->receive(kPatience);
        ASSERT_TRUE(got.is_ok()) << got.status().to_string();
        EXPECT_EQ(got->verb, sent[i].verb);
        EXPECT_EQ(got->correlation_id, sent[i].correlation_id);
        EXPECT_EQ(got->header, sent[i].header);
        EXPECT_EQ(got->payloads, sent[i].payloads);
    }
    EXPECT_EQ(writer->sent(), static_cast<std::uint64_t>(kMessages));
    EXPECT_EQ(reader->received(), static_cast<std::uint64_t>(kMessages));
    EXPECT_EQ(reader->malformed(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Transports, StreamRoundTripTest,
                         ::testing::Values(Endpoints{"inproc://stream-rt", true},
                                           Endpoints{"tcp://127.0.0.1:*", true},
                                           Endpoints{"inproc://stream-rt-w", false},
                                           Endpoints{"tcp://127.0.0.1:*", false}),
                         [](const auto& info) {
                             return std::string(info.param.reader_side.starts_with("tcp")
                                                    ? "Tcp"
                                                    : "Inproc") +
                                    (info.param.reader_binds ? "ReaderBinds" : "WriterBinds");
                         });

TEST(StreamTest, FactoriesReturnWorkingStreams) {
    zmq::context_t context;
    auto reader = open_stream_reader(context, config("inproc://factory"), kMaxMessageBytes);
    auto writer = open_stream_writer(context, config("inproc://factory"), kMaxMessageBytes);
    ASSERT_TRUE(writer->send(make_message(7), kPatience).is_ok());
    auto got = reader->receive(kPatience);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(sequence_of(*got), 7);
}

TEST(StreamTest, ReceiveTimesOutWithUnavailable) {
    zmq::context_t context;
    PullStreamReader reader(context, config("inproc://empty"), kMaxMessageBytes);
    auto got = reader.receive(10ms);
    ASSERT_FALSE(got.is_ok());
    EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
    EXPECT_THAT(got.status().message(), HasSubstr("stream test"));
}

TEST(StreamTest, SendWithoutReaderTimesOutWithUnavailable) {
    zmq::context_t context;
    // The writer binds and nobody connects: there is no pipe to queue into.
    PushStreamWriter writer(context, config("inproc://lonely", 2, /*reader_binds=*/false),
                            kMaxMessageBytes);
    const Status s = writer.send(make_message(0), 10ms);
    EXPECT_EQ(s.code(), StatusCode::kUnavailable);
    EXPECT_EQ(writer.sent(), 0u);
}

class StreamBackPressureTest : public ::testing::TestWithParam<std::string> {};

// Fills the queues of a reader that does not read, then drains it and sends again.
TEST_P(StreamBackPressureTest, BlocksAtHighWaterMarkAndRecoversAfterDrain) {
    constexpr int kHwm = 2;
    zmq::context_t context;
    PullStreamReader reader(context, config(GetParam(), kHwm), kMaxMessageBytes);
    PushStreamWriter writer(context, config(reader.endpoint(), kHwm), kMaxMessageBytes);
    // The first message waits for the connection; afterwards sends are quick until full.
    ASSERT_TRUE(writer.send(make_message(0, 64 << 10), kPatience).is_ok());

    // Large messages fill tcp's kernel buffers quickly too.
    int accepted = 1;
    Status last;
    while (accepted < kMaxFill) {
        last = writer.send(make_message(accepted, 64 << 10), kProbe);
        if (!last.is_ok()) break;
        ++accepted;
    }
    ASSERT_LT(accepted, kMaxFill) << "the writer never felt back-pressure";
    RecordProperty("accepted_before_back_pressure", accepted);
    if (GetParam().starts_with("inproc")) {
        // inproc has no kernel buffers: only the two high-water marks hold messages,
        // so a writer that ignored hwm would get far more through.
        EXPECT_LE(accepted, 2 * kHwm);
    }
    EXPECT_EQ(last.code(), StatusCode::kUnavailable);
    EXPECT_THAT(last.message(), HasSubstr("high-water mark"));
    EXPECT_EQ(writer.sent(), static_cast<std::uint64_t>(accepted));

    // Everything accepted arrives, in order; nothing refused was half-sent.
    for (int i = 0; i < accepted; ++i) {
        auto got = reader.receive(kPatience);
        ASSERT_TRUE(got.is_ok()) << "message " << i << ": " << got.status().to_string();
        EXPECT_EQ(sequence_of(*got), i);
    }
    ASSERT_TRUE(writer.send(make_message(accepted, 64 << 10), kPatience).is_ok());
    auto got = reader.receive(kPatience);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(sequence_of(*got), accepted);
    EXPECT_EQ(reader.receive(0ms).status().code(), StatusCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(Transports, StreamBackPressureTest,
                         ::testing::Values("inproc://stream-bp", "tcp://127.0.0.1:*"),
                         [](const auto& info) {
                             return std::string(info.param.starts_with("tcp") ? "Tcp" : "Inproc");
                         });

TEST(StreamTest, TwoWritersFanInToOneReader) {
    zmq::context_t context;
    PullStreamReader reader(context, config("tcp://127.0.0.1:*"), kMaxMessageBytes);
    constexpr int kPerWriter = 200;
    // Each writer runs on its own thread, as two augment workers would; sequence numbers
    // encode writer * kPerWriter + i so the reader can check per-writer order.
    auto run_writer = [&](int writer_index) {
        PushStreamWriter writer(context, config(reader.endpoint()), kMaxMessageBytes);
        for (int i = 0; i < kPerWriter; ++i) {
            const Status s = writer.send(make_message(writer_index * kPerWriter + i), kPatience);
            ASSERT_TRUE(s.is_ok()) << s.to_string();
        }
    };
    JoiningThread first(run_writer, 0);
    JoiningThread second(run_writer, 1);

    std::vector<int> next{0, 0};
    for (int n = 0; n < 2 * kPerWriter; ++n) {
        auto got = reader.receive(kPatience);
        ASSERT_TRUE(got.is_ok()) << got.status().to_string();
        const int sequence = sequence_of(*got);
        const int writer_index = sequence / kPerWriter;
        ASSERT_TRUE(writer_index == 0 || writer_index == 1) << sequence;
        EXPECT_EQ(sequence % kPerWriter, next[writer_index]) << "writer " << writer_index;
        next[writer_index] = sequence % kPerWriter + 1;
    }
    first.join();
    second.join();
    EXPECT_EQ(next, (std::vector<int>{kPerWriter, kPerWriter}));
    EXPECT_EQ(reader.receive(0ms).status().code(), StatusCode::kUnavailable);
}

class StreamMalformedTest : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamMalformedTest, DropsMalformedAndReturnsNextGoodMessage) {
    zmq::context_t context;
    PullStreamReader reader(context, config(GetParam()), kMaxMessageBytes);
    zmq::socket_t raw(context, zmq::socket_type::push);
    raw.set(zmq::sockopt::linger, 0);
    raw.connect(reader.endpoint());

    const std::vector<std::vector<std::string>> bad_messages{
        {"garbage"},
        {"DPP02", "batch", "c", "{}"},
        {"DPP01", "batch", "c", "{not json"},
        {"DPP01", "batch", "c", R"({"payloads": [{"name": "x", "dtype": "u8", "shape": [3]}]})",
         "xy"},
    };
    for (const auto& bad : bad_messages) send_raw(raw, bad);
    send_raw(raw, encode_request(make_message(42)));

    auto got = reader.receive(kPatience);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(sequence_of(*got), 42);
    EXPECT_EQ(reader.malformed(), bad_messages.size());
    EXPECT_EQ(reader.received(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Transports, StreamMalformedTest,
                         ::testing::Values("inproc://stream-bad", "tcp://127.0.0.1:*"),
                         [](const auto& info) {
                             return std::string(info.param.starts_with("tcp") ? "Tcp" : "Inproc");
                         });

TEST(StreamTest, OnlyMalformedMessagesEndInUnavailable) {
    zmq::context_t context;
    PullStreamReader reader(context, config("inproc://only-bad"), kMaxMessageBytes);
    zmq::socket_t raw(context, zmq::socket_type::push);
    raw.set(zmq::sockopt::linger, 0);
    raw.connect(reader.endpoint());
    send_raw(raw, {"junk"});
    // Junk is never returned: every receive ends in kUnavailable, until (and after) the junk
    // has been seen and counted.
    const auto give_up = std::chrono::steady_clock::now() + kPatience;
    while (reader.malformed() == 0 && std::chrono::steady_clock::now() < give_up) {
        EXPECT_EQ(reader.receive(kProbe).status().code(), StatusCode::kUnavailable);
    }
    EXPECT_EQ(reader.malformed(), 1u);
    EXPECT_EQ(reader.receive(0ms).status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(reader.received(), 0u);
}

TEST(StreamTest, RejectsOversizedAndInvalidMessagesAtTheWriter) {
    zmq::context_t context;
    PullStreamReader reader(context, config("inproc://limits"), /*max_message_bytes=*/1024);
    PushStreamWriter writer(context, config("inproc://limits"), /*max_message_bytes=*/1024);
    const Status too_big = writer.send(make_message(1, 2048), kPatience);
    EXPECT_EQ(too_big.code(), StatusCode::kResourceExhausted);
    EXPECT_THAT(too_big.message(),
                HasSubstr("frame 4 is 2048 bytes, over max_message_bytes 1024"));

    Request broken = make_message(2);
    broken.correlation_id.clear();
    EXPECT_EQ(writer.send(broken, kPatience).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(writer.sent(), 0u);

    ASSERT_TRUE(writer.send(make_message(3, 512), kPatience).is_ok());
    auto got = reader.receive(kPatience);
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    EXPECT_EQ(sequence_of(*got), 3);
}

TEST(StreamTest, RejectsBadConfiguration) {
    zmq::context_t context;
    EXPECT_THROW(PullStreamReader(context, config("inproc://x", /*hwm=*/0), kMaxMessageBytes),
                 std::invalid_argument);
    EXPECT_THROW(PushStreamWriter(context, config("inproc://x"), /*max_message_bytes=*/0),
                 std::invalid_argument);
    EXPECT_THROW(PullStreamReader(context, config("bogus://x"), kMaxMessageBytes),
                 zmq::error_t);
}

}  // namespace
}  // namespace digitpipe::framework
