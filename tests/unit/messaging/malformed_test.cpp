// Malformed 7/MDP traffic, in process: the broker's "mmi.broker" counters (mmi.cpp, broker.cpp,
// Client::broker_stats) and the worker session's count of malformed messages from the broker
// (worker_session.cpp, WorkerSession::malformed). A raw ROUTER plays the broker for the
// session, so each message arrives exactly as written here.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "digitpipe/mdp.hpp"
#include "messaging/mdp_frames.hpp"
#include "messaging/mmi.hpp"
#include "messaging_test_support.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using mdp_test::RunningBroker;

const std::string kReady(1, '\x01');
const std::string kRequest(1, '\x02');
const std::string kReply(1, '\x03');
const std::string kHeartbeat(1, '\x04');
const std::string kDisconnect(1, '\x05');

// ---- mmi.broker lines ------------------------------------------------------------------------

BrokerStats sample_stats() {
    BrokerStats stats;
    stats.requests = 12;
    stats.replies = 11;
    stats.malformed = 3;
    stats.requeued = 4;
    stats.workers_expired = 5;
    stats.dropped = 6;
    stats.unroutable = 18'446'744'073'709'551'615ull;  // the largest count survives the text
    return stats;
}

TEST(MmiBrokerLinesTest, RoundTripsEveryCounter) {
    const auto lines = mmi::format_broker_lines(sample_stats());
    EXPECT_EQ(lines.front(), "requests 12");
    const auto parsed = mmi::parse_broker_lines(lines);
    ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
    EXPECT_EQ(parsed->requests, 12u);
    EXPECT_EQ(parsed->replies, 11u);
    EXPECT_EQ(parsed->malformed, 3u);
    EXPECT_EQ(parsed->requeued, 4u);
    EXPECT_EQ(parsed->workers_expired, 5u);
    EXPECT_EQ(parsed->dropped, 6u);
    EXPECT_EQ(parsed->unroutable, 18'446'744'073'709'551'615ull);
}

TEST(MmiBrokerLinesTest, SkipsCountersItDoesNotKnow) {
    auto lines = mmi::format_broker_lines(sample_stats());
    lines.insert(lines.begin() + 1, "counter_of_a_newer_broker 99");
    const auto parsed = mmi::parse_broker_lines(lines);
    ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
    EXPECT_EQ(parsed->replies, 11u);
}

TEST(MmiBrokerLinesTest, RejectsLinesThatAreNotNameAndCount) {
    for (const std::string bad : {"malformed", "malformed ", "malformed x", "malformed 3 4",
                                  "malformed -3", " 3", "", "malformed 99999999999999999999"}) {
        auto lines = mmi::format_broker_lines(sample_stats());
        lines[2] = bad;
        const auto parsed = mmi::parse_broker_lines(lines);
        ASSERT_FALSE(parsed.is_ok()) << "'" << bad << "'";
        EXPECT_EQ(parsed.status().code(), StatusCode::kInternal);
        EXPECT_NE(parsed.status().message().find("line 3"), std::string::npos)
            << parsed.status().message();
    }
}

TEST(MmiBrokerLinesTest, RejectsAReplyLackingACounter) {
    auto lines = mmi::format_broker_lines(sample_stats());
    lines.erase(lines.begin() + 2);  // "malformed N"
    const auto parsed = mmi::parse_broker_lines(lines);
    ASSERT_FALSE(parsed.is_ok());
    EXPECT_NE(parsed.status().message().find("'malformed'"), std::string::npos)
        << parsed.status().message();
}

// ---- the broker answers mmi.broker -----------------------------------------------------------

class BrokerStatsServiceTest : public ::testing::Test {
 protected:
    zmq::context_t context;  // declared first: destroyed after every socket below
};

TEST_F(BrokerStatsServiceTest, ReportsTheLiveCountersIncludingMalformedMessages) {
    RunningBroker broker(context, mdp_test::broker_options(mdp_test::Transport::kTcp));
    Client client(context, mdp_test::client_options(broker.endpoint()));
    const auto before = client.broker_stats();
    ASSERT_TRUE(before.is_ok()) << before.status().to_string();
    EXPECT_EQ(before->malformed, 0u);
    EXPECT_GE(before->requests, 1u);  // this request itself
    EXPECT_TRUE(before->services.empty());

    zmq::socket_t raw(context, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    raw.connect(broker.endpoint());
    mdp_test::send_raw(raw, {"", "XXXX01", "echo"});
    mdp_test::send_raw(raw, {"", "MDPC01"});
    mdp_test::send_raw(raw, {"", "MDPW01", std::string(1, '\x09')});

    // The raw socket's messages and the client's requests travel on different connections, so
    // ask until the three are counted (exactly three: each is counted once).
    std::uint64_t malformed = 0;
    EXPECT_TRUE(mdp_test::wait_until([&] {
        const auto now = client.broker_stats();
        malformed = now ? now->malformed : 0;
        return malformed >= 3;
    }));
    EXPECT_EQ(malformed, 3u);
    const auto after = client.broker_stats();
    ASSERT_TRUE(after.is_ok()) << after.status().to_string();
    EXPECT_GT(after->requests, before->requests);
    EXPECT_GT(after->replies, before->replies);
}

// A ROUTER standing in for an older broker: answers every request with `code` alone.
TEST_F(BrokerStatsServiceTest, SaysUnimplementedWhenTheBrokerAnswers501) {
    zmq::socket_t fake(context, zmq::socket_type::router);
    fake.set(zmq::sockopt::linger, 0);
    fake.bind("inproc://old-broker");
    auto stats = std::async(std::launch::async, [&] {
        Client client(context, mdp_test::client_options("inproc://old-broker"));
        return client.broker_stats();
    });
    const auto request = mdp_test::receive_raw(fake, mdp_test::kPatience);
    ASSERT_TRUE(request.has_value());
    ASSERT_EQ(request->size(), 4u);
    EXPECT_EQ(request->at(3), "mmi.broker");
    mdp_test::send_raw(fake, {request->at(0), "", "MDPC01", "mmi.broker", "501"});
    const auto result = stats.get();
    ASSERT_FALSE(result.is_ok());
    EXPECT_EQ(result.status().code(), StatusCode::kUnimplemented);
}

// ---- the worker session and a broker that sends garbage -------------------------------------

// A worker session whose broker is a raw ROUTER the test drives by hand.
class SessionMalformedTest : public ::testing::Test {
 protected:
    SessionMalformedTest() {
        broker.set(zmq::sockopt::linger, 0);
        broker.bind("tcp://127.0.0.1:*");
        endpoint = broker.get(zmq::sockopt::last_endpoint);
    }
    ~SessionMalformedTest() override {
        stop = true;
        if (thread.joinable()) thread.join();
    }

    void start(WorkerOptions options, RequestHandler handler) {
        session.emplace(context, std::move(options));
        thread = std::thread([this, handler = std::move(handler)] { session->run(handler, stop); });
    }

    // The next message from the worker that is not a HEARTBEAT, as ROUTER frames
    // [identity, "", "MDPW01", command, ...].
    std::optional<std::vector<std::string>> next_command() {
        const auto deadline = std::chrono::steady_clock::now() + mdp_test::kPatience;
        while (std::chrono::steady_clock::now() < deadline) {
            auto frames = mdp_test::receive_raw(broker, 50ms);
            if (!frames) continue;
            if (frames->size() == 4 && frames->at(3) == kHeartbeat) continue;
            return frames;
        }
        return std::nullopt;
    }

    // Waits for the session's READY; returns its identity (empty when none came).
    std::string await_ready() {
        const auto ready = next_command();
        if (!ready || ready->size() < 5 || ready->at(3) != kReady) return {};
        return ready->at(0);
    }

    // Sends `frames` to the worker `identity`, the ROUTER's routing frame prepended.
    void send_to(const std::string& identity, std::vector<std::string> frames) {
        frames.insert(frames.begin(), identity);
        mdp_test::send_raw(broker, frames);
    }

    zmq::context_t context;  // declared first: destroyed after every socket below
    zmq::socket_t broker{context, zmq::socket_type::router};
    std::string endpoint;
    std::atomic<bool> stop{false};
    std::optional<WorkerSession> session;
    std::thread thread;
};

TEST_F(SessionMalformedTest, CountsEveryMalformedMessageAndKeepsServing) {
    start(mdp_test::worker_options(endpoint, "echo"), mdp_test::named_echo("w"));
    const std::string id = await_ready();
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(session->malformed(), 0u);

    std::vector<std::string> too_many(mdp::kMaxFramesPerMessage + 10, "f");
    too_many[0] = "";
    too_many[1] = "MDPW01";
    too_many[2] = kHeartbeat;
    const std::vector<std::vector<std::string>> bad = {
        {""},                                          // delimiter only
        {"", "MDPW01"},                                // no command
        {"x", "MDPW01", kHeartbeat},                   // no empty delimiter
        {"", "MDPC01", kHeartbeat},                    // client protocol tag
        {"", "MDPW01", std::string(1, '\x09')},        // unknown command byte
        {"", "MDPW01", ""},                            // empty command frame
        {"", "MDPW01", kRequest + kRequest},           // two-byte command
        {"", "MDPW01", kRequest},                      // REQUEST without client
        {"", "MDPW01", kRequest, "client"},            // ... without delimiter
        {"", "MDPW01", kRequest, "client", "x", "b"},  // ... with a non-empty delimiter
        {"", "MDPW01", kRequest, "", "", "b"},         // ... with an empty client address
        {"", "MDPW01", kReady, "echo"},                // worker-to-broker command
        {"", "MDPW01", kReply, "client", "", "b"},     // worker-to-broker command
        {"", "MDPW01", kHeartbeat, "extra"},           // HEARTBEAT with a body
        {"", "MDPW01", kDisconnect, "extra"},          // DISCONNECT with a body
        {"\xff\xfe", std::string("\x00\x01", 2), std::string(300, '\x80')},  // binary
        too_many,  // over kMaxFramesPerMessage frames
    };
    for (const auto& frames : bad) send_to(id, frames);
    EXPECT_TRUE(mdp_test::wait_until([&] { return session->malformed() >= bad.size(); }))
        << "malformed=" << session->malformed();
    EXPECT_EQ(session->malformed(), bad.size());

    // Still registered on the same connection (the bad DISCONNECT did not reconnect it, or
    // this request to the old identity would vanish) and answering.
    send_to(id, {"", "MDPW01", kRequest, "client-1", "", "DPP01", "echo", "cid-1"});
    const auto reply = next_command();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(*reply, (std::vector<std::string>{id, "", "MDPW01", kReply, "client-1", "", "w",
                                                "echo", "cid-1"}));

    // An empty body is well-formed: answered (the broker counts it against the credit).
    send_to(id, {"", "MDPW01", kRequest, "client-2", ""});
    const auto empty_reply = next_command();
    ASSERT_TRUE(empty_reply.has_value());
    EXPECT_EQ(*empty_reply, (std::vector<std::string>{id, "", "MDPW01", kReply, "client-2", ""}));
    EXPECT_EQ(session->malformed(), bad.size());
}

TEST_F(SessionMalformedTest, DropsARequestBeyondThePrefetchCredit) {
    std::promise<void> release;
    auto released = release.get_future().share();
    start(mdp_test::worker_options(endpoint, "echo"), [released](Frames&& body) {
        released.wait();  // holds the first request, so the second finds the credit used
        return std::move(body);
    });
    const std::string id = await_ready();
    ASSERT_FALSE(id.empty());
    send_to(id, {"", "MDPW01", kRequest, "client-1", "", "first"});
    send_to(id, {"", "MDPW01", kRequest, "client-2", "", "second"});
    EXPECT_TRUE(mdp_test::wait_until([&] { return session->malformed() == 1; }));
    release.set_value();
    const auto reply = next_command();
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(*reply,
              (std::vector<std::string>{id, "", "MDPW01", kReply, "client-1", "", "first"}));
    EXPECT_EQ(session->malformed(), 1u);
}

TEST_F(SessionMalformedTest, GarbageIsNoSignOfLifeSoTheWorkerReconnects) {
    start(mdp_test::worker_options(endpoint, "echo"), mdp_test::named_echo("w"));
    const std::string id = await_ready();
    ASSERT_FALSE(id.empty());
    // Only garbage, never a heartbeat: past heartbeat x liveness the worker must give this
    // broker up and register again (with a new connection, so a new identity), as it would
    // for a silent one.
    std::optional<std::vector<std::string>> second_ready;
    const auto deadline = std::chrono::steady_clock::now() + mdp_test::kPatience;
    while (!second_ready && std::chrono::steady_clock::now() < deadline) {
        send_to(id, {"", "MDPW01", kReply, "client", "", "b"});
        auto frames = mdp_test::receive_raw(broker, 20ms);
        if (frames && frames->size() >= 5 && frames->at(3) == kReady) second_ready = frames;
    }
    ASSERT_TRUE(second_ready.has_value());
    EXPECT_NE(second_ready->at(0), id);
    EXPECT_GE(session->malformed(), 1u);
}

}  // namespace
}  // namespace digitpipe::framework
