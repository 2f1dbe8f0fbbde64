// Malformed ZeroMQ frames sent straight to the real programs: raw DEALERs against a running
// digitpipe-broker, and a raw ROUTER posing as the broker of a real digitpipe-worker. Each
// must drop and count what it cannot use (the broker's count read through its mmi.broker
// service and `digitpipe status`, the worker's through its `metrics` verb) and keep serving.
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cluster.hpp"

namespace digitpipe::integration {
namespace {

using namespace std::chrono_literals;

constexpr const char* kService = "digitpipe.echo";
// The broker's per-frame and per-message limit in these tests: small, so one message can
// exceed it in several frames that libzmq lets through.
constexpr std::size_t kMaxMessageBytes = 64 * 1024;
// Upper bound of every wait (a loaded 2-core machine); no test asserts on time.
constexpr auto kPatience = std::chrono::seconds(20);

const std::string kReady(1, '\x01');
const std::string kRequest(1, '\x02');
const std::string kReply(1, '\x03');
const std::string kHeartbeat(1, '\x04');
const std::string kDisconnect(1, '\x05');

// A deployment with the echo stage and no event proxy; `endpoint` is the broker's.
std::string deployment_yaml(const std::string& endpoint) {
    return "broker:\n  endpoint: " + endpoint +
           "\n  heartbeat_ms: 100\n  liveness: 3\n  max_message_bytes: " +
           std::to_string(kMaxMessageBytes) + "\nstages:\n  echo:\n    plugin: echo\n" +
           "paths:\n  plugins: " + DIGITPIPE_PLUGIN_DIR + "\n";
}

void send_frames(zmq::socket_t& socket, const std::vector<std::string>& frames) {
    std::vector<zmq::message_t> parts;
    for (const auto& frame : frames) parts.emplace_back(frame.data(), frame.size());
    (void)zmq::send_multipart(socket, parts);
}

std::optional<std::vector<std::string>> receive_frames(zmq::socket_t& socket,
                                                       std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return std::nullopt;
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(socket, std::back_inserter(parts))) return std::nullopt;
    std::vector<std::string> frames;
    for (const auto& part : parts) frames.push_back(part.to_string());
    return frames;
}

zmq::socket_t raw_socket(zmq::context_t& context, zmq::socket_type type) {
    zmq::socket_t socket(context, type);
    socket.set(zmq::sockopt::linger, 0);
    return socket;
}

// `frames` with `count` frames in all, the first ones given, the rest "f".
std::vector<std::string> with_frames(std::vector<std::string> frames, std::size_t count) {
    frames.resize(count, "f");
    return frames;
}

// The value of the sample `name{...}` in Prometheus text; nullopt when it is absent.
std::optional<double> sample_value(const std::string& text, const std::string& name) {
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = std::min(text.find('\n', start), text.size());
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (!line.starts_with(name + "{") && !line.starts_with(name + " ")) continue;
        return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return std::nullopt;
}

class MalformedFramesTest : public ::testing::Test {
 protected:
    ts::TempDir dir;
    zmq::context_t context{1};
};

// ---- against digitpipe-broker ------------------------------------------------------------

TEST_F(MalformedFramesTest, BrokerDropsAndCountsThemAndKeepsServing) {
    const auto config = dir.write("deploy.yaml", deployment_yaml("tcp://127.0.0.1:*"));
    BrokerProcess broker(config);
    fw::Client client(context, test_client_options(broker.endpoint));
    const auto before = client.broker_stats();
    ASSERT_TRUE(before.is_ok()) << before.status().to_string();

    // Each of these is rejected by the broker's own checks (not by libzmq) and counted once.
    const std::string chunk(20 * 1024, 'z');  // four of them exceed the message limit
    std::string garbage;
    for (int i = 0; i < 256; ++i) garbage += static_cast<char>(255 - i);
    const std::vector<std::vector<std::string>> bad = {
        {""},                                                    // one empty frame
        {"only"},                                                // one frame
        {"not-empty", "MDPC01", kService},                       // no empty delimiter
        {"", "MDPX01", kService},                                // unknown protocol tag
        {"", "MDPC01"},                                          // client request without service
        {"", "MDPC01", ""},                                      // empty service name
        {"", "MDPW01"},                                          // worker message without command
        {"", "MDPW01", std::string(1, '\x09')},                  // unknown command byte
        {"", "MDPW01", ""},                                      // empty command frame
        {"", "MDPW01", kReady},                                  // READY without service
        {"", "MDPW01", kReady, ""},                              // READY with an empty service
        {"", "MDPW01", kReady, "mmi.service"},                   // READY for a reserved service
        {"", "MDPW01", kReady, "x", "0"},                        // READY credit out of range
        {"", "MDPW01", kReady, "x", "two"},                      // READY credit not a number
        {"", "MDPW01", kReady, "x", "1", "extra"},               // READY with seven frames
        {"", "MDPW01", kHeartbeat},                              // HEARTBEAT from a stranger
        {"", "MDPW01", kReply, "client", "", "body"},            // REPLY from a stranger
        {"", "MDPC01", kService, chunk, chunk, chunk, chunk},    // over max_message_bytes
        with_frames({"", "MDPX01"}, 500),                        // hundreds of frames, bad tag
        with_frames({"", "MDPC01", kService}, 5000),             // over the frame-count limit
        {garbage, garbage, garbage},                             // binary garbage
        {std::string("\0\0\0", 3), "MDPW01", kReady, kService},  // NULs for a delimiter
    };
    auto raw = raw_socket(context, zmq::socket_type::dealer);
    raw.connect(broker.endpoint);
    for (const auto& frames : bad) send_frames(raw, frames);

    // A worker that registers and then sends a REPLY without client address while it holds a
    // request: the broker drops it, disconnects that worker and requeues the request.
    auto rogue = raw_socket(context, zmq::socket_type::dealer);
    rogue.connect(broker.endpoint);
    send_frames(rogue, {"", "MDPW01", kReady, "rogue"});
    auto asker = raw_socket(context, zmq::socket_type::dealer);
    asker.connect(broker.endpoint);
    send_frames(asker, {"", "MDPC01", "rogue", "DPP01", "echo", "cid-rogue", "{}"});
    std::optional<std::vector<std::string>> request;
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (!request && std::chrono::steady_clock::now() < deadline) {
        auto frames = receive_frames(rogue, 100ms);
        if (frames && frames->size() > 2 && frames->at(2) == kRequest) request = frames;
    }
    ASSERT_TRUE(request.has_value()) << "the rogue worker got no request";
    send_frames(rogue, {"", "MDPW01", kReply});  // REPLY without client address and delimiter
    const std::size_t rejected_by_broker = bad.size() + 1;

    // A frame over ZMQ_MAXMSGSIZE: libzmq drops the connection before the broker sees it
    // (so not part of the count).
    auto huge = raw_socket(context, zmq::socket_type::dealer);
    huge.connect(broker.endpoint);
    send_frames(huge, {"", "MDPC01", kService, std::string(kMaxMessageBytes * 2, 'h')});

    std::uint64_t malformed = 0;
    EXPECT_TRUE(ts::wait_until(
        [&] {
            const auto now = client.broker_stats();
            malformed = now ? now->malformed - before->malformed : 0;
            return malformed >= rejected_by_broker;
        },
        kPatience))
        << "malformed went up by " << malformed << ", expected at least " << rejected_by_broker;
    EXPECT_TRUE(broker.process->running());

    // The broker still serves: a real echo worker registers and answers.
    auto worker = std::make_unique<ts::Process>(
        kBinDir / "digitpipe-worker",
        std::vector<std::string>{"--config", config.string(), "--stage", "echo", "--set",
                                 "broker.endpoint=" + broker.endpoint});
    ASSERT_TRUE(ts::wait_until(
        [&] { return live_workers(context, broker.endpoint, kService) == 1; }, kStartTimeout));
    const auto reply = call(client, kService, "echo", {{"text", "still here"}});
    ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    EXPECT_EQ(reply.header["echo"]["text"], "still here");
    EXPECT_TRUE(broker.process->running());

    // `digitpipe status` shows the same counter on its last line.
    ts::Process status(
        kBinDir / "digitpipe",
        {"status", "--config", config.string(), "--set", "broker.endpoint=" + broker.endpoint},
        true);
    std::string counters_line;
    while (auto line = status.read_line(10s)) {
        if (line->starts_with("broker: ")) counters_line = *line;
    }
    EXPECT_EQ(status.wait_for(10s), 0);
    const auto at = counters_line.find(" malformed ");
    ASSERT_NE(at, std::string::npos) << "status printed no counters line";
    const auto shown = std::stoull(counters_line.substr(at + std::string(" malformed ").size()));
    EXPECT_GE(shown, before->malformed + rejected_by_broker) << counters_line;
}

// ---- against digitpipe-worker --------------------------------------------------------------

// A raw ROUTER posing as the broker of one real digitpipe-worker.
class FakeBroker {
 public:
    explicit FakeBroker(zmq::context_t& context)
        : socket_(raw_socket(context, zmq::socket_type::router)) {
        socket_.bind("tcp://127.0.0.1:*");
        endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
    }

    const std::string& endpoint() const { return endpoint_; }

    // The worker's next command other than HEARTBEAT (each heartbeat is answered, so the
    // worker never finds this broker silent), as [identity, "", "MDPW01", command, ...].
    std::optional<std::vector<std::string>> next_command() {
        const auto deadline = std::chrono::steady_clock::now() + kPatience;
        while (std::chrono::steady_clock::now() < deadline) {
            auto frames = receive_frames(socket_, 50ms);
            if (!frames || frames->size() < 4) continue;
            if (frames->at(3) == kHeartbeat) {
                send_frames(socket_, {frames->at(0), "", "MDPW01", kHeartbeat});
                continue;
            }
            return frames;
        }
        return std::nullopt;
    }

    void send_to(const std::string& identity, std::vector<std::string> frames) {
        frames.insert(frames.begin(), identity);
        send_frames(socket_, frames);
    }

    // Sends a well-formed REQUEST for `request` and returns the decoded REPLY's envelope;
    // a failure says what came back instead.
    fw::Reply call(const std::string& identity, const fw::Request& request) {
        std::vector<std::string> frames{"", "MDPW01", kRequest, "client-" + request.correlation_id,
                                        ""};
        for (auto& frame : fw::encode_request(request)) frames.push_back(std::move(frame));
        send_to(identity, frames);
        const auto reply = next_command();
        if (!reply) return fw::Reply::error(fw::unavailable("no REPLY from the worker"));
        if (reply->size() < 6 || reply->at(0) != identity || reply->at(3) != kReply ||
            reply->at(4) != "client-" + request.correlation_id || !reply->at(5).empty()) {
            return fw::Reply::error(fw::internal_error("not a REPLY to this request (" +
                                                       std::to_string(reply->size()) + " frames)"));
        }
        const std::vector<std::string> body(reply->begin() + 6, reply->end());
        auto decoded = fw::decode_reply(body);
        if (!decoded) return fw::Reply::error(decoded.status());
        if (decoded->correlation_id != request.correlation_id) {
            return fw::Reply::error(fw::internal_error("reply for another request"));
        }
        return decoded->reply;
    }

 private:
    zmq::socket_t socket_;
    std::string endpoint_;
};

fw::Request make_request(const std::string& verb,
                         nlohmann::json header = nlohmann::json::object()) {
    fw::Request request;
    request.verb = verb;
    request.correlation_id = fw::make_correlation_id();
    request.header = std::move(header);
    return request;
}

TEST_F(MalformedFramesTest, WorkerDropsAndCountsThemAndKeepsServing) {
    FakeBroker fake(context);
    // A long expiry on top of the answered heartbeats: the worker keeps this one connection
    // (and identity) for the whole test.
    auto yaml = deployment_yaml(fake.endpoint());
    yaml.replace(yaml.find("heartbeat_ms: 100"), 17, "heartbeat_ms: 500");
    yaml.replace(yaml.find("liveness: 3"), 11, "liveness: 40");
    const auto config = dir.write("deploy.yaml", yaml);
    ts::Process worker(kBinDir / "digitpipe-worker",
                       {"--config", config.string(), "--stage", "echo"});

    const auto ready = fake.next_command();
    ASSERT_TRUE(ready.has_value()) << "the worker sent no READY";
    ASSERT_GE(ready->size(), 5u);
    ASSERT_EQ(ready->at(3), kReady);
    ASSERT_EQ(ready->at(4), kService);
    const std::string id = ready->at(0);

    // Each is dropped and counted once by the worker's session.
    std::string garbage;
    for (int i = 0; i < 256; ++i) garbage += static_cast<char>(i);
    const std::vector<std::vector<std::string>> bad = {
        {""},                                           // delimiter only
        {"", "MDPW01"},                                 // no command
        {"x", "MDPW01", kHeartbeat},                    // no empty delimiter
        {"", "MDPC01", kHeartbeat},                     // client protocol tag
        {"", "MDPW01", std::string(1, '\x09')},         // unknown command byte
        {"", "MDPW01", ""},                             // empty command frame
        {"", "MDPW01", kRequest + kRequest},            // two-byte command
        {"", "MDPW01", kRequest},                       // REQUEST without client
        {"", "MDPW01", kRequest, "client"},             // ... without delimiter
        {"", "MDPW01", kRequest, "client", "x", "b"},   // ... with a non-empty delimiter
        {"", "MDPW01", kRequest, "", "", "DPP01"},      // ... with an empty client address
        {"", "MDPW01", kReady, kService},               // a worker's command
        {"", "MDPW01", kReply, "client", "", "b"},      // a worker's command
        {"", "MDPW01", kHeartbeat, "extra"},            // HEARTBEAT with extra frames
        {"", "MDPW01", kDisconnect, "extra"},           // DISCONNECT with extra frames
        with_frames({"", "MDPX01"}, 500),               // hundreds of frames, bad tag
        with_frames({"", "MDPW01", kHeartbeat}, 5000),  // over the frame-count limit
        {garbage, garbage},                             // binary garbage
    };
    for (const auto& frames : bad) fake.send_to(id, frames);

    // Still registered on the same connection and answering.
    const auto echo = fake.call(id, make_request("echo", {{"text", "after garbage"}}));
    ASSERT_TRUE(echo.status.is_ok()) << echo.status.to_string();
    EXPECT_EQ(echo.header["echo"]["text"], "after garbage");
    EXPECT_TRUE(worker.running());

    // The count, through the framework's `metrics` verb. The session counted every bad
    // message before it read this request (one connection keeps order).
    const auto metrics = fake.call(id, make_request("metrics"));
    ASSERT_TRUE(metrics.status.is_ok()) << metrics.status.to_string();
    const std::string text = metrics.header.value("text", "");
    const auto counted = sample_value(text, "digitpipe_worker_malformed_frames_total");
    ASSERT_TRUE(counted.has_value()) << text;
    EXPECT_EQ(*counted, static_cast<double>(bad.size())) << text;
    EXPECT_TRUE(worker.running());
}

}  // namespace
}  // namespace digitpipe::integration
