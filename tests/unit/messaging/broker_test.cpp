// In-process tests of the 7/MDP broker, worker session and clients (framework/src/messaging),
// each run over inproc:// and over tcp://127.0.0.1:*. Workers and the broker run on threads;
// raw DEALER sockets play dead or malformed peers.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>
#include <string>

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

class BrokerTest : public ::testing::TestWithParam<Transport> {
 protected:
    BrokerOptions options() const { return mdp_test::broker_options(GetParam()); }

    zmq::context_t context;  // declared first: destroyed after every socket below
};

TEST_P(BrokerTest, RoundTripsARequest) {
    RunningBroker broker(context, options());
    RunningWorker worker(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                         mdp_test::named_echo("w1"));
    Client client(context, mdp_test::client_options(broker.endpoint()));

    const auto reply = client.request("echo", mdp_test::make_body("id-1", "hello"));
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(reply.value(), (Frames{"w1", "echo", "id-1", "hello"}));
    EXPECT_TRUE(mdp_test::wait_until([&] { return broker.stats().replies >= 1; }));
    EXPECT_GE(broker.stats().requests, 1u);
}

TEST_P(BrokerTest, CarriesEmptyAndLargeFrames) {
    RunningBroker broker(context, options());
    RunningWorker worker(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                         [](Frames&& body) { return std::move(body); });
    Client client(context, mdp_test::client_options(broker.endpoint()));

    const std::string large(1u << 20, 'x');  // past the zero-copy threshold
    const Frames body{"DPP01", "", "id-large", large, std::string("\x00\x01", 2)};
    const auto reply = client.request("echo", body);
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(reply.value(), body);
}

TEST_P(BrokerTest, MmiServiceReportsLiveAndUnknownServices) {
    RunningBroker broker(context, options());
    RunningWorker worker(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                         mdp_test::named_echo("w1"));
    Client client(context, mdp_test::client_options(broker.endpoint()));

    // Registration is asynchronous: poll for presence, as the integration tests do.
    EXPECT_TRUE(mdp_test::wait_until([&] {
        const auto available = client.service_available("echo");
        return available.is_ok() && available.value();
    }));
    const auto unknown = client.service_available("nobody");
    ASSERT_TRUE(unknown.is_ok()) << unknown.status().to_string();
    EXPECT_FALSE(unknown.value());

    const auto services = client.services();
    ASSERT_TRUE(services.is_ok()) << services.status().to_string();
    ASSERT_EQ(services->count("echo"), 1u);
    EXPECT_EQ(services->at("echo").workers_idle + services->at("echo").workers_busy, 1u);

    const auto not_implemented = client.request("mmi.nonsense", Frames{});
    ASSERT_TRUE(not_implemented.is_ok());
    EXPECT_EQ(not_implemented.value(), Frames{"501"});
}

TEST_P(BrokerTest, TwoWorkersShareTheLoad) {
    RunningBroker broker(context, options());
    RunningWorker first(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                        mdp_test::named_echo("first"));
    RunningWorker second(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                         mdp_test::named_echo("second"));
    ASSERT_TRUE(mdp_test::wait_until([&] { return broker.service("echo").workers_idle == 2; }));

    Client client(context, mdp_test::client_options(broker.endpoint()));
    std::map<std::string, int> answered;
    for (int i = 0; i < 100; ++i) {
        const auto reply = client.request("echo", mdp_test::make_body("id-" + std::to_string(i)));
        ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
        ++answered[reply.value().at(0)];
    }
    EXPECT_GT(answered["first"], 0);
    EXPECT_GT(answered["second"], 0);
    EXPECT_EQ(answered["first"] + answered["second"], 100);
}

TEST_P(BrokerTest, RequeuesTheRequestOfADeadWorker) {
    RunningBroker broker(context, options());

    // A worker that registers, takes one request and then never speaks again.
    zmq::socket_t dead(context, zmq::socket_type::dealer);
    dead.set(zmq::sockopt::linger, 0);
    dead.connect(broker.endpoint());
    mdp_test::send_raw(dead, {"", "MDPW01", kReady, "echo"});
    ASSERT_TRUE(mdp_test::wait_until([&] { return broker.service("echo").workers_idle == 1; }));

    // One attempt with a long timeout: only the broker's requeue can produce the answer.
    Client client(context, mdp_test::client_options(broker.endpoint(), /*attempt_timeout=*/20s,
                                                    /*attempts=*/1));
    auto pending = std::async(
        std::launch::async, [&] { return client.request("echo", mdp_test::make_body("id-dead")); });
    const auto request = mdp_test::receive_raw_command(dead);
    ASSERT_TRUE(request.has_value());
    ASSERT_GE(request->size(), 6u);
    EXPECT_EQ((*request)[2], kRequest);

    RunningWorker live(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                       mdp_test::named_echo("live"));
    const auto reply = pending.get();
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(reply.value().at(0), "live");
    EXPECT_EQ(reply.value().at(2), "id-dead");
    EXPECT_TRUE(mdp_test::wait_until([&] {
        const auto stats = broker.stats();
        return stats.requeued >= 1 && stats.workers_expired >= 1;
    }));
}

TEST_P(BrokerTest, SlowHandlerKeepsItsWorkerAlive) {
    RunningBroker broker(context, options());
    const auto expiry = mdp_test::fast_heartbeat().expiry();
    RunningWorker worker(context, mdp_test::worker_options(broker.endpoint(), "slow"),
                         [expiry](Frames&& body) {
                             std::this_thread::sleep_for(expiry * 4);  // well past expiry
                             return std::move(body);
                         });
    Client client(context, mdp_test::client_options(broker.endpoint(), /*attempt_timeout=*/20s,
                                                    /*attempts=*/1));
    const auto reply = client.request("slow", mdp_test::make_body("id-slow"));
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(reply.value().at(2), "id-slow");
    const auto stats = broker.stats();
    EXPECT_EQ(stats.workers_expired, 0u);
    EXPECT_EQ(stats.requeued, 0u);
}

TEST_P(BrokerTest, WorkerStoppedMidRequestHandsItBack) {
    RunningBroker broker(context, options());
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future().share();
    auto stuck = std::make_unique<RunningWorker>(
        context, mdp_test::worker_options(broker.endpoint(), "echo"),
        [&entered, released](Frames&& body) {
            entered.set_value();
            released.wait();
            return std::move(body);
        });
    Client client(context, mdp_test::client_options(broker.endpoint(), /*attempt_timeout=*/20s,
                                                    /*attempts=*/1));
    auto pending = std::async(
        std::launch::async, [&] { return client.request("echo", mdp_test::make_body("id-stop")); });
    entered.get_future().wait();

    RunningWorker other(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                        mdp_test::named_echo("other"));
    // run() returns after stop_grace; its DISCONNECT makes the broker requeue the request.
    std::thread stopper([&] { stuck->stop(); });
    const auto reply = pending.get();
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(reply.value().at(0), "other");
    stopper.join();
    release.set_value();
    stuck.reset();  // the destructor waits for the abandoned handler
    EXPECT_TRUE(mdp_test::wait_until([&] { return broker.stats().requeued >= 1; }));
}

TEST_P(BrokerTest, CountsMalformedMessagesAndKeepsServing) {
    auto opts = options();
    opts.max_message_bytes = 64 * 1024;
    RunningBroker broker(context, opts);
    RunningWorker worker(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                         mdp_test::named_echo("w1"));

    zmq::socket_t raw(context, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    raw.connect(broker.endpoint());
    const std::string chunk(20 * 1024, 'z');
    const std::vector<std::vector<std::string>> bad = {
        {"", "XXXX01", "echo"},                              // unknown protocol tag
        {"only"},                                            // too few frames
        {"not-empty", "MDPC01", "echo"},                     // no empty delimiter
        {"", "MDPC01"},                                      // client request without service
        {"", "MDPC01", ""},                                  // empty service name
        {"", "MDPW01", std::string(1, '\x09')},              // unknown command
        {"", "MDPW01"},                                      // missing command
        {"", "MDPW01", kReady},                              // READY without service
        {"", "MDPW01", kReady, "mmi.service"},               // READY for a reserved service
        {"", "MDPW01", kHeartbeat},                          // worker not READY
        {"", "MDPW01", kReply, "client", "", "body"},        // REPLY from an unknown worker
        {"", "MDPC01", "echo", chunk, chunk, chunk, chunk},  // larger than max_message_bytes
    };
    for (const auto& frames : bad) mdp_test::send_raw(raw, frames);
    EXPECT_TRUE(mdp_test::wait_until([&] { return broker.stats().malformed >= bad.size(); }))
        << "malformed=" << broker.stats().malformed;

    // 7/MDP: a command from a worker that is not READY is answered with DISCONNECT.
    bool disconnected = false;
    while (auto frames = mdp_test::receive_raw(raw, 200ms)) {
        if (frames->size() == 3 && (*frames)[2] == kDisconnect) disconnected = true;
    }
    EXPECT_TRUE(disconnected);

    // A registered worker that breaks the protocol is disconnected.
    zmq::socket_t rogue(context, zmq::socket_type::dealer);
    rogue.set(zmq::sockopt::linger, 0);
    rogue.connect(broker.endpoint());
    mdp_test::send_raw(rogue, {"", "MDPW01", kReady, "rogue"});
    ASSERT_TRUE(mdp_test::wait_until([&] { return broker.service("rogue").workers_idle == 1; }));
    mdp_test::send_raw(rogue, {"", "MDPW01", kReply, "nobody", "", "x"});  // REPLY while idle
    const auto answer = mdp_test::receive_raw_command(rogue);
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->at(2), kDisconnect);
    EXPECT_TRUE(mdp_test::wait_until([&] { return broker.stats().services.count("rogue") == 0; }));

    // A single frame over ZMQ_MAXMSGSIZE: libzmq drops that connection (not counted here).
    zmq::socket_t huge(context, zmq::socket_type::dealer);
    huge.set(zmq::sockopt::linger, 0);
    huge.connect(broker.endpoint());
    mdp_test::send_raw(huge, {"", "MDPC01", "echo", std::string(128 * 1024, 'h')});

    Client client(context, mdp_test::client_options(broker.endpoint()));
    const auto reply = client.request("echo", mdp_test::make_body("id-after"));
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(reply.value().at(2), "id-after");
}

TEST_P(BrokerTest, DropsTheOldestQueuedRequestsBeyondTheCap) {
    auto opts = options();
    opts.max_queued_per_service = 3;
    RunningBroker broker(context, opts);
    AsyncClient client(context, broker.endpoint());
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(client.send("later", mdp_test::make_body("id-" + std::to_string(i))).is_ok());
    }
    ASSERT_TRUE(mdp_test::wait_until(
        [&] { return broker.stats().dropped == 2 && broker.service("later").queued == 3; }));

    RunningWorker worker(context, mdp_test::worker_options(broker.endpoint(), "later"),
                         mdp_test::named_echo("w"));
    std::set<std::string> answered;
    while (answered.size() < 3) {
        const auto reply = client.receive(mdp_test::kPatience);
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->first, "later");
        answered.insert(reply->second.at(2));
    }
    EXPECT_EQ(answered, (std::set<std::string>{"id-2", "id-3", "id-4"}));
}

TEST_P(BrokerTest, DropsQueuedRequestsPastTheirAge) {
    auto opts = options();
    opts.max_queue_age = 100ms;
    RunningBroker broker(context, opts);
    AsyncClient client(context, broker.endpoint());
    ASSERT_TRUE(client.send("absent", mdp_test::make_body("id-old")).is_ok());
    EXPECT_TRUE(mdp_test::wait_until([&] {
        const auto stats = broker.stats();
        return stats.dropped == 1 && stats.services.count("absent") == 0;
    }));
}

TEST_P(BrokerTest, AsyncClientKeepsManyRequestsInFlight) {
    RunningBroker broker(context, options());
    RunningWorker first(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                        mdp_test::named_echo("first"));
    RunningWorker second(context, mdp_test::worker_options(broker.endpoint(), "echo"),
                         mdp_test::named_echo("second"));
    AsyncClient client(context, broker.endpoint());
    constexpr int kRequests = 500;
    for (int i = 0; i < kRequests; ++i) {
        ASSERT_TRUE(client.send("echo", mdp_test::make_body("id-" + std::to_string(i))).is_ok());
    }
    std::set<std::string> answered;
    while (answered.size() < kRequests) {
        const auto reply = client.receive(mdp_test::kPatience);
        ASSERT_TRUE(reply.has_value()) << "after " << answered.size() << " replies";
        EXPECT_TRUE(answered.insert(reply->second.at(2)).second) << "duplicate reply";
    }
    EXPECT_FALSE(client.receive(0ms).has_value());
}

TEST_P(BrokerTest, VerboseModeLogsAndStillRoutes) {
    auto opts = options();
    opts.verbose = true;
    RunningBroker broker(context, opts);
    auto worker_opts = mdp_test::worker_options(broker.endpoint(), "echo");
    worker_opts.verbose = true;
    RunningWorker worker(context, worker_opts, mdp_test::named_echo("w1"));
    Client client(context, mdp_test::client_options(broker.endpoint()));
    const auto reply = client.request("echo", mdp_test::make_body("id-verbose"));
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(reply.value().at(2), "id-verbose");
}

TEST_P(BrokerTest, EventsReachASubscriberThroughTheProxy) {
    auto opts = options();
    opts.events_in = mdp_test::bind_endpoint(GetParam(), "events-in");
    opts.events_out = mdp_test::bind_endpoint(GetParam(), "events-out");
    RunningBroker broker(context, opts);
    EventSubscriber subscriber(context, broker.broker().events_out(), {"train."});
    EventPublisher publisher(context, broker.broker().events_in());

    // Slow joiner: the subscription travels SUB -> XPUB -> XSUB -> PUB after connecting, and
    // PUB drops what it publishes before then; publish until one arrives.
    std::optional<Event> event;
    const auto deadline = std::chrono::steady_clock::now() + mdp_test::kPatience;
    while (!event && std::chrono::steady_clock::now() < deadline) {
        publisher.publish("other.topic", R"({"ignored":true})");
        publisher.publish("train.progress", R"({"epoch":1})");
        event = subscriber.receive(20ms);
    }
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->topic, "train.progress");
    EXPECT_EQ(event->json_text, R"({"epoch":1})");
    // The prefix filter holds for everything that arrives.
    while (auto more = subscriber.receive(50ms)) EXPECT_EQ(more->topic, "train.progress");
}

INSTANTIATE_TEST_SUITE_P(Transports, BrokerTest,
                         ::testing::Values(Transport::kInproc, Transport::kTcp),
                         [](const auto& info) { return mdp_test::transport_name(info.param); });

TEST(BrokerOptionsTest, RejectsHalfAnEventProxy) {
    zmq::context_t context;
    BrokerOptions options;
    options.endpoint = "inproc://half-proxy";
    options.events_in = "inproc://half-proxy-in";
    EXPECT_THROW(Broker(context, options), std::invalid_argument);
}

TEST(WorkerOptionsTest, RejectsReservedServiceNames) {
    zmq::context_t context;
    EXPECT_THROW(WorkerSession(context, mdp_test::worker_options("inproc://x", "mmi.service")),
                 std::invalid_argument);
    EXPECT_THROW(WorkerSession(context, mdp_test::worker_options("inproc://x", "")),
                 std::invalid_argument);
}

}  // namespace
}  // namespace digitpipe::framework
