// Recovery tests of the 7/MDP worker session and client (framework/src/messaging) when the
// broker goes away and comes back on the same tcp endpoint, and the client's retry limits.
// tcp only: a new inproc bind does not reconnect peers of the old one.
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include "digitpipe/mdp.hpp"
#include "messaging_test_support.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using mdp_test::RunningBroker;
using mdp_test::RunningWorker;

// A broker on `endpoint`; binding right after the previous broker closed can briefly fail, so
// retry under the usual patience.
std::unique_ptr<RunningBroker> start_broker_on(zmq::context_t& context,
                                               const std::string& endpoint) {
    BrokerOptions options;
    options.endpoint = endpoint;
    options.heartbeat = mdp_test::fast_heartbeat();
    const auto deadline = std::chrono::steady_clock::now() + mdp_test::kPatience;
    while (true) {
        try {
            return std::make_unique<RunningBroker>(context, options);
        } catch (const zmq::error_t& e) {
            if (std::chrono::steady_clock::now() >= deadline) throw;
            std::this_thread::sleep_for(20ms);
        }
    }
}

// A loopback endpoint with a concrete port, free when returned (a broker bound and closed it).
std::string fixed_tcp_endpoint(zmq::context_t& context) {
    BrokerOptions options;
    options.endpoint = "tcp://127.0.0.1:*";
    options.heartbeat = mdp_test::fast_heartbeat();
    const Broker probe(context, options);
    return probe.endpoint();
}

class ReconnectTest : public ::testing::Test {
 protected:
    zmq::context_t context;  // declared first: destroyed after every socket
};

TEST_F(ReconnectTest, WorkerReRegistersAfterTheBrokerRestarts) {
    auto broker = start_broker_on(context, "tcp://127.0.0.1:*");
    const std::string endpoint = broker->endpoint();
    RunningWorker worker(context, mdp_test::worker_options(endpoint, "echo"),
                         mdp_test::named_echo("w1"));
    Client client(context, mdp_test::client_options(endpoint, /*attempt_timeout=*/1s,
                                                    /*attempts=*/10));
    const auto before = client.request("echo", mdp_test::make_body("id-before"));
    ASSERT_TRUE(before.is_ok()) << before.status().to_string();

    broker.reset();  // the broker process "dies"
    broker = start_broker_on(context, endpoint);
    EXPECT_TRUE(mdp_test::wait_until([&] { return broker->service("echo").workers_idle == 1; }));

    const auto after = client.request("echo", mdp_test::make_body("id-after"));
    ASSERT_TRUE(after.is_ok()) << after.status().to_string();
    EXPECT_EQ(after.value().at(0), "w1");
    EXPECT_EQ(after.value().at(2), "id-after");
}

TEST_F(ReconnectTest, RequestSentWhileTheBrokerIsDownIsAnsweredWhenItReturns) {
    const std::string endpoint = fixed_tcp_endpoint(context);
    Client client(context, mdp_test::client_options(endpoint, /*attempt_timeout=*/250ms,
                                                    /*attempts=*/60));
    auto pending = std::async(
        std::launch::async, [&] { return client.request("echo", mdp_test::make_body("id-down")); });
    // Let at least one attempt go out into the void (not a correctness condition).
    std::this_thread::sleep_for(300ms);

    auto broker = start_broker_on(context, endpoint);
    RunningWorker worker(context, mdp_test::worker_options(endpoint, "echo"),
                         mdp_test::named_echo("w1"));
    const auto reply = pending.get();
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(reply.value().at(2), "id-down");
}

TEST_F(ReconnectTest, ClientIsUnavailableAfterItsLastAttempt) {
    const std::string endpoint = fixed_tcp_endpoint(context);
    Client client(context, mdp_test::client_options(endpoint, /*attempt_timeout=*/30ms,
                                                    /*attempts=*/2));
    const auto reply = client.request("echo", mdp_test::make_body("id-none"));
    ASSERT_FALSE(reply.is_ok());
    EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);

    // Without a correlation id too (the client replaces its socket afterwards).
    const auto mmi = client.service_available("echo");
    ASSERT_FALSE(mmi.is_ok());
    EXPECT_EQ(mmi.status().code(), StatusCode::kUnavailable);
}

TEST_F(ReconnectTest, ClientHonoursItsDeadline) {
    const std::string endpoint = fixed_tcp_endpoint(context);
    Client client(context, mdp_test::client_options(endpoint, /*attempt_timeout=*/50ms,
                                                    /*attempts=*/1000));
    const auto reply = client.request("echo", mdp_test::make_body("id-late"),
                                      std::chrono::steady_clock::now() + 120ms);
    ASSERT_FALSE(reply.is_ok());
    EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(ReconnectTest, ClientRejectsAnEmptyService) {
    const std::string endpoint = fixed_tcp_endpoint(context);
    Client client(context, mdp_test::client_options(endpoint));
    const auto reply = client.request("", mdp_test::make_body("id"));
    ASSERT_FALSE(reply.is_ok());
    EXPECT_EQ(reply.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ReconnectTest, AsyncClientRefusesRatherThanBlocksWhenItsQueueIsFull) {
    const std::string endpoint = fixed_tcp_endpoint(context);
    AsyncClient client(context, endpoint);
    Status last;
    for (int i = 0; i < 50'000 && last.is_ok(); ++i) {
        last = client.send("echo", mdp_test::make_body("id-" + std::to_string(i)));
    }
    EXPECT_EQ(last.code(), StatusCode::kResourceExhausted);
    EXPECT_FALSE(client.receive(0ms).has_value());
}

TEST_F(ReconnectTest, EventPublisherNeverBlocksWithoutAProxy) {
    const std::string endpoint = fixed_tcp_endpoint(context);
    EventPublisher publisher(context, endpoint);
    for (int i = 0; i < 20'000; ++i) publisher.publish("train.progress", R"({"step":1})");
    SUCCEED();  // reaching this line is the test: publish() dropped instead of blocking
}

}  // namespace
}  // namespace digitpipe::framework
