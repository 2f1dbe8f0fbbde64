// Tests of digitpipe's 7/MDP prefetch (credit) extension (framework/src/messaging: broker.cpp,
// broker_registry.cpp, worker_session.cpp), each over inproc:// and tcp://127.0.0.1:*. Raw
// DEALER workers show what the broker sends and hands back; WorkerSessions show the queueing
// on the worker side. Waits are bounded by kPatience; no test asserts on time.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "digitpipe/mdp.hpp"
#include "messaging_test_support.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using mdp_test::RunningBroker;
using mdp_test::RunningWorker;
using mdp_test::Transport;

const std::string kReady(1, '\x01');
const std::string kRequest(1, '\x02');
const std::string kReply(1, '\x03');
const std::string kHeartbeat(1, '\x04');
const std::string kDisconnect(1, '\x05');

// REQUEST as a worker's DEALER sees it: ["", "MDPW01", REQUEST, client, "", body...]; the
// body's frame [2] is the correlation id (see mdp_test::make_body).
constexpr std::size_t kRequestClient = 3;
constexpr std::size_t kRequestCorrelation = 7;

// Heartbeats as fast as the other messaging tests, but a 1 s expiry: the raw workers here
// heartbeat from the test thread, which a loaded 2-core machine may stall for a while.
HeartbeatPolicy patient_heartbeat() {
    return HeartbeatPolicy{50ms, 20};
}

// A worker spoken by hand on a DEALER: registers with an optional credit frame, heartbeats
// whenever the test waits through it, and answers only when told.
class RawWorker {
 public:
    RawWorker(zmq::context_t& context, const std::string& endpoint, const std::string& service,
              std::optional<std::string> credit)
        : socket_(context, zmq::socket_type::dealer) {
        socket_.set(zmq::sockopt::linger, 0);
        socket_.connect(endpoint);
        std::vector<std::string> ready{"", "MDPW01", kReady, service};
        if (credit) ready.push_back(*credit);
        mdp_test::send_raw(socket_, ready);
    }

    void heartbeat() { mdp_test::send_raw(socket_, {"", "MDPW01", kHeartbeat}); }
    zmq::socket_t& socket() { return socket_; }

    // The next REQUEST or DISCONNECT, heartbeating meanwhile; nullopt after kPatience.
    std::optional<std::vector<std::string>> next_command() {
        const auto deadline = std::chrono::steady_clock::now() + mdp_test::kPatience;
        while (std::chrono::steady_clock::now() < deadline) {
            heartbeat();
            auto frames = mdp_test::receive_raw(socket_, 20ms);
            if (!frames || (frames->size() == 3 && (*frames)[2] == kHeartbeat)) continue;
            return frames;
        }
        return std::nullopt;
    }

    // Answers `request` (a REQUEST received by next_command) with its body echoed.
    void reply(const std::vector<std::string>& request) {
        std::vector<std::string> frames{"", "MDPW01", kReply, request.at(kRequestClient), ""};
        frames.insert(frames.end(), request.begin() + kRequestClient + 2, request.end());
        mdp_test::send_raw(socket_, frames);
    }

 private:
    zmq::socket_t socket_;
};

// Holds a handler until opened. Every way out of a test opens it (OpenOnExit, declared after
// the worker): a handler left waiting would make the worker's destructor wait forever after a
// failed assertion.
class Gate {
 public:
    void open() {
        open_ = true;
        open_.notify_all();
    }
    void wait() const { open_.wait(false); }

 private:
    std::atomic<bool> open_{false};
};

struct OpenOnExit {
    Gate& gate;
    ~OpenOnExit() { gate.open(); }
};

class PrefetchTest : public ::testing::TestWithParam<Transport> {
 protected:
    BrokerOptions options() const {
        auto opts = mdp_test::broker_options(GetParam());
        opts.heartbeat = patient_heartbeat();
        return opts;
    }
    WorkerOptions worker_options(const std::string& endpoint, int prefetch) const {
        auto opts = mdp_test::worker_options(endpoint, "echo");
        opts.heartbeat = patient_heartbeat();
        opts.prefetch = prefetch;
        return opts;
    }
    static std::string id(int i) { return "id-" + std::to_string(i); }

    zmq::context_t context;  // declared first: destroyed after every socket below
};

TEST_P(PrefetchTest, WorkerGetsItsWholeCreditBeforeItsFirstReply) {
    RunningBroker broker(context, options());
    RawWorker worker(context, broker.endpoint(), "echo", "4");
    ASSERT_TRUE(mdp_test::wait_until([&] {
        worker.heartbeat();
        return broker.service("echo").workers_idle == 1;
    }));
    AsyncClient client(context, broker.endpoint());
    for (int i = 0; i < 6; ++i) {
        ASSERT_TRUE(client.send("echo", mdp_test::make_body(id(i))).is_ok());
    }

    std::vector<std::vector<std::string>> held;
    for (int i = 0; i < 4; ++i) {
        auto request = worker.next_command();
        ASSERT_TRUE(request.has_value()) << "after " << i << " requests";
        ASSERT_EQ(request->at(2), kRequest);
        EXPECT_EQ(request->at(kRequestCorrelation), id(i));  // in the order they were sent
        held.push_back(std::move(*request));
    }
    ASSERT_TRUE(mdp_test::wait_until([&] {
        worker.heartbeat();
        const auto stats = broker.service("echo");
        return stats.in_flight == 4 && stats.queued == 2 && stats.workers_busy == 1;
    })) << "in_flight="
        << broker.service("echo").in_flight;

    // One reply frees one credit: the fifth request follows, and the client gets its answer.
    worker.reply(held[0]);
    const auto fifth = worker.next_command();
    ASSERT_TRUE(fifth.has_value());
    EXPECT_EQ(fifth->at(kRequestCorrelation), id(4));
    const auto answer = client.receive(mdp_test::kPatience);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->first, "echo");
    EXPECT_EQ(answer->second.at(2), id(0));
}

TEST_P(PrefetchTest, RequestsOfADeadWorkerAreAnsweredOnceEachInOrder) {
    RunningBroker broker(context, options());
    auto dead = std::make_unique<RawWorker>(context, broker.endpoint(), "echo", "4");
    ASSERT_TRUE(mdp_test::wait_until([&] {
        dead->heartbeat();
        return broker.service("echo").workers_idle == 1;
    }));
    AsyncClient client(context, broker.endpoint());
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(client.send("echo", mdp_test::make_body(id(i))).is_ok());
    }
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(dead->next_command().has_value());
    dead.reset();  // dies holding all four, unanswered

    RunningWorker live(context, worker_options(broker.endpoint(), /*prefetch=*/1),
                       mdp_test::named_echo("live"));
    std::vector<std::string> answered;
    while (answered.size() < 4) {
        const auto reply = client.receive(mdp_test::kPatience);
        ASSERT_TRUE(reply.has_value()) << "after " << answered.size() << " replies";
        EXPECT_EQ(reply->second.at(0), "live");
        answered.push_back(reply->second.at(2));
    }
    // Requeued at the front in their original order; one plain worker answers in that order.
    EXPECT_EQ(answered, (std::vector<std::string>{id(0), id(1), id(2), id(3)}));
    EXPECT_FALSE(client.receive(0ms).has_value());
    EXPECT_TRUE(mdp_test::wait_until([&] { return broker.stats().requeued == 4; }))
        << "requeued=" << broker.stats().requeued;
    EXPECT_FALSE(client.receive(0ms).has_value()) << "a request was answered twice";
}

TEST_P(PrefetchTest, WorkersWithDifferentCreditsShareTheLoad) {
    RunningBroker broker(context, options());
    RunningWorker plain(context, worker_options(broker.endpoint(), /*prefetch=*/1),
                        mdp_test::named_echo("plain"));
    RunningWorker deep(context, worker_options(broker.endpoint(), /*prefetch=*/8),
                       mdp_test::named_echo("deep"));
    ASSERT_TRUE(mdp_test::wait_until([&] { return broker.service("echo").workers_idle == 2; }));

    AsyncClient client(context, broker.endpoint());
    constexpr int kRequests = 500;
    for (int i = 0; i < kRequests; ++i) {
        ASSERT_TRUE(client.send("echo", mdp_test::make_body(id(i))).is_ok());
    }
    std::set<std::string> answered;
    std::map<std::string, int> by_worker;
    while (answered.size() < kRequests) {
        const auto reply = client.receive(mdp_test::kPatience);
        ASSERT_TRUE(reply.has_value()) << "after " << answered.size() << " replies";
        EXPECT_TRUE(answered.insert(reply->second.at(2)).second) << "duplicate reply";
        ++by_worker[reply->second.at(0)];
    }
    EXPECT_GT(by_worker["plain"], 0);
    EXPECT_GT(by_worker["deep"], 0);
    EXPECT_FALSE(client.receive(0ms).has_value());
    EXPECT_TRUE(mdp_test::wait_until([&] {
        const auto stats = broker.service("echo");
        return stats.in_flight == 0 && stats.queued == 0 && stats.workers_idle == 2;
    }));
}

TEST_P(PrefetchTest, ReadyWithoutACreditFrameMeansOne) {
    RunningBroker broker(context, options());
    RawWorker worker(context, broker.endpoint(), "echo", std::nullopt);
    ASSERT_TRUE(mdp_test::wait_until([&] {
        worker.heartbeat();
        return broker.service("echo").workers_idle == 1;
    }));
    AsyncClient client(context, broker.endpoint());
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(client.send("echo", mdp_test::make_body(id(i))).is_ok());
    }

    const auto first = worker.next_command();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->at(kRequestCorrelation), id(0));
    ASSERT_TRUE(mdp_test::wait_until([&] {
        worker.heartbeat();
        const auto stats = broker.service("echo");
        return stats.in_flight == 1 && stats.queued == 2;
    })) << "in_flight="
        << broker.service("echo").in_flight;
    worker.reply(*first);
    const auto second = worker.next_command();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->at(kRequestCorrelation), id(1));
}

TEST_P(PrefetchTest, ABadCreditFrameIsAProtocolError) {
    RunningBroker broker(context, options());
    std::uint64_t malformed = 0;
    for (const std::string credit : {"0", "abc", "5000", "-3", ""}) {
        SCOPED_TRACE("credit '" + credit + "'");
        RawWorker worker(context, broker.endpoint(), "echo", credit);
        // Without heartbeats: from a worker that is not registered they are malformed too.
        const auto answer = mdp_test::receive_raw_command(worker.socket());
        ASSERT_TRUE(answer.has_value());
        EXPECT_EQ(answer->at(2), kDisconnect);
        ++malformed;
        EXPECT_TRUE(mdp_test::wait_until([&] { return broker.stats().malformed == malformed; }))
            << "malformed=" << broker.stats().malformed;
        EXPECT_EQ(broker.service("echo").workers_idle, 0u);
    }
}

TEST_P(PrefetchTest, SessionQueuesItsCreditAndAnswersInOrder) {
    RunningBroker broker(context, options());
    Gate release;
    std::atomic<int> running{0};
    std::atomic<bool> overlapped{false};
    std::atomic<int> calls{0};
    RunningWorker worker(context, worker_options(broker.endpoint(), /*prefetch=*/4),
                         [&](Frames&& body) {
                             // The Stage contract holds: one request at a time.
                             if (running.fetch_add(1) != 0) overlapped = true;
                             if (calls.fetch_add(1) == 0) release.wait();
                             body[0] = "w";
                             running.fetch_sub(1);
                             return std::move(body);
                         });
    const OpenOnExit open_on_exit{release};
    ASSERT_TRUE(mdp_test::wait_until([&] { return broker.service("echo").workers_idle == 1; }));
    AsyncClient client(context, broker.endpoint());
    for (int i = 0; i < 6; ++i) {
        ASSERT_TRUE(client.send("echo", mdp_test::make_body(id(i))).is_ok());
    }
    ASSERT_TRUE(mdp_test::wait_until([&] { return calls.load() == 1; }));
    // The handler is stuck in the first request and the worker still took its whole credit.
    ASSERT_TRUE(mdp_test::wait_until([&] {
        const auto stats = broker.service("echo");
        return stats.in_flight == 4 && stats.queued == 2;
    })) << "in_flight="
        << broker.service("echo").in_flight;
    EXPECT_EQ(calls.load(), 1);

    release.open();
    std::vector<std::string> answered;
    while (answered.size() < 6) {
        const auto reply = client.receive(mdp_test::kPatience);
        ASSERT_TRUE(reply.has_value()) << "after " << answered.size() << " replies";
        answered.push_back(reply->second.at(2));
    }
    EXPECT_EQ(answered, (std::vector<std::string>{id(0), id(1), id(2), id(3), id(4), id(5)}));
    EXPECT_FALSE(overlapped.load());
    EXPECT_EQ(broker.stats().requeued, 0u);
}

TEST_P(PrefetchTest, StoppedSessionLeavesItsQueuedRequestsToTheBroker) {
    RunningBroker broker(context, options());
    Gate release;
    std::atomic<int> calls{0};
    auto stuck = std::make_unique<RunningWorker>(
        context, worker_options(broker.endpoint(), /*prefetch=*/4), [&](Frames&& body) {
            if (calls.fetch_add(1) == 0) release.wait();
            body[0] = "stuck";
            return std::move(body);
        });
    const OpenOnExit open_on_exit{release};
    ASSERT_TRUE(mdp_test::wait_until([&] { return broker.service("echo").workers_idle == 1; }));
    AsyncClient client(context, broker.endpoint());
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(client.send("echo", mdp_test::make_body(id(i))).is_ok());
    }
    ASSERT_TRUE(mdp_test::wait_until([&] { return calls.load() == 1; }));
    ASSERT_TRUE(mdp_test::wait_until([&] { return broker.service("echo").in_flight == 4; }));

    RunningWorker other(context, worker_options(broker.endpoint(), /*prefetch=*/1),
                        mdp_test::named_echo("other"));
    // Three requests wait unstarted and are dropped; the one in progress outlives stop_grace.
    // The DISCONNECT hands all four back to the broker, in order, for the other worker.
    stuck->stop();  // returns after stop_grace with the handler still stuck
    std::vector<std::string> answered;
    while (answered.size() < 4) {
        const auto reply = client.receive(mdp_test::kPatience);
        ASSERT_TRUE(reply.has_value()) << "after " << answered.size() << " replies";
        EXPECT_EQ(reply->second.at(0), "other");
        answered.push_back(reply->second.at(2));
    }
    release.open();
    stuck.reset();  // the destructor waits for the abandoned handler
    EXPECT_EQ(answered, (std::vector<std::string>{id(0), id(1), id(2), id(3)}));
    EXPECT_EQ(calls.load(), 1);  // the queued requests never reached the stuck handler
    EXPECT_TRUE(mdp_test::wait_until([&] { return broker.stats().requeued == 4; }))
        << "requeued=" << broker.stats().requeued;
    EXPECT_FALSE(client.receive(0ms).has_value());
}

INSTANTIATE_TEST_SUITE_P(Transports, PrefetchTest,
                         ::testing::Values(Transport::kInproc, Transport::kTcp),
                         [](const auto& info) { return mdp_test::transport_name(info.param); });

TEST(WorkerOptionsTest, RejectsAPrefetchOutOfRange) {
    zmq::context_t context;
    for (const int prefetch : {0, -1, kMaxPrefetch + 1}) {
        auto options = mdp_test::worker_options("inproc://x", "echo");
        options.prefetch = prefetch;
        EXPECT_THROW(WorkerSession(context, options), std::invalid_argument) << prefetch;
    }
    auto options = mdp_test::worker_options("inproc://x", "echo");
    options.prefetch = kMaxPrefetch;
    EXPECT_NO_THROW(WorkerSession(context, options));
}

}  // namespace
}  // namespace digitpipe::framework
