// Unit tests of CURVE with the ZAP allow-list (curve.hpp) on the broker's links: an allowed
// worker and client talk through a CURVE broker; a client with an unknown key, a plaintext
// client and a client expecting another server key get nothing, and the refusals are counted;
// events flow over CURVE; misconfigured keys fail loudly before anything connects.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "digitpipe/curve.hpp"
#include "messaging_test_support.hpp"

namespace digitpipe::framework {
namespace {

using namespace mdp_test;
using ::testing::HasSubstr;

// One process's security settings with a fresh key pair.
SecurityConfig with_keys(const KeyFile& own, const std::string& broker_public,
                         std::vector<std::string> allowed = {}) {
    return SecurityConfig{own.public_key, own.secret_key, broker_public, std::move(allowed)};
}

class CurveBrokerTest : public ::testing::Test {
 protected:
    CurveBrokerTest() {
        broker_keys_ = make_curve_key_pair();
        worker_keys_ = make_curve_key_pair();
        client_keys_ = make_curve_key_pair();
        stranger_keys_ = make_curve_key_pair();
        BrokerOptions options = broker_options(Transport::kTcp);
        options.events_in = "tcp://127.0.0.1:*";
        options.events_out = "tcp://127.0.0.1:*";
        options.security = with_keys(broker_keys_, broker_keys_.public_key,
                                     {worker_keys_.public_key, client_keys_.public_key});
        broker_.emplace(context_, options);
        // The same context's handler: the test reads its counters.
        zap_ = ZapHandler::acquire(context_, {});
        WorkerOptions worker = worker_options(broker_->endpoint(), "svc");
        worker.security = with_keys(worker_keys_, broker_keys_.public_key);
        worker_.emplace(context_, worker, named_echo("worker"));
    }

    ClientOptions client(const SecurityConfig& security, int attempts = 3) {
        ClientOptions options = client_options(broker_->endpoint(), 1500ms, attempts);
        options.security = security;
        return options;
    }

    zmq::context_t context_;
    KeyFile broker_keys_, worker_keys_, client_keys_, stranger_keys_;
    std::optional<RunningBroker> broker_;
    std::shared_ptr<ZapHandler> zap_;
    std::optional<RunningWorker> worker_;
};

TEST_F(CurveBrokerTest, AllowedWorkerAndClientTalkThroughTheBroker) {
    Client client(context_, this->client(with_keys(client_keys_, broker_keys_.public_key)));
    const auto reply = client.request("svc", make_body("c1"));
    ASSERT_TRUE(reply.is_ok()) << reply.status().message();
    EXPECT_EQ((*reply)[0], "worker");
    EXPECT_EQ((*reply)[2], "c1");
    EXPECT_GE(zap_->admitted(), 2u);  // the worker and the client
    EXPECT_EQ(zap_->denied(), 0u);
}

TEST_F(CurveBrokerTest, AClientWithAKeyNotOnTheListGetsNothingAndIsCounted) {
    Client client(context_,
                  this->client(with_keys(stranger_keys_, broker_keys_.public_key), 1));
    const auto reply = client.request("svc", make_body("c2"));
    EXPECT_FALSE(reply.is_ok());
    EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
    EXPECT_TRUE(wait_until([&] { return zap_->denied() >= 1; }));
    EXPECT_EQ(broker_->stats().requests, 0u);  // nothing reached the broker's logic
}

TEST_F(CurveBrokerTest, PlaintextAndWrongServerKeyClientsGetNothing) {
    Client plaintext(context_, this->client(SecurityConfig{}, 1));
    EXPECT_FALSE(plaintext.request("svc", make_body("p")).is_ok());
    // Allowed key, but it expects another server: the handshake fails on the client side.
    Client misled(context_,
                  this->client(with_keys(client_keys_, stranger_keys_.public_key), 1));
    EXPECT_FALSE(misled.request("svc", make_body("m")).is_ok());
    EXPECT_EQ(broker_->stats().requests, 0u);
    // The broker is unharmed: an allowed client is still served.
    Client good(context_, this->client(with_keys(client_keys_, broker_keys_.public_key)));
    EXPECT_TRUE(good.request("svc", make_body("g")).is_ok());
}

TEST_F(CurveBrokerTest, EventsFlowOverCurveToAllowedPeersOnly) {
    const auto security = with_keys(client_keys_, broker_keys_.public_key);
    EventSubscriber subscriber(context_, broker_->broker().events_out(), {"t."}, security);
    EventPublisher publisher(context_, broker_->broker().events_in(), security);
    EventSubscriber stranger(context_, broker_->broker().events_out(), {"t."},
                             with_keys(stranger_keys_, broker_keys_.public_key));
    std::optional<Event> event;
    // PUB/SUB joins late: publish until the subscription has reached the publisher.
    ASSERT_TRUE(wait_until([&] {
        publisher.publish("t.one", "{\"n\":1}");
        event = subscriber.receive(50ms);
        return event.has_value();
    }));
    EXPECT_EQ(event->topic, "t.one");
    EXPECT_FALSE(stranger.receive(200ms).has_value());
}

TEST(CurveConfigTest, MisconfiguredKeysFailBeforeConnecting) {
    zmq::context_t context;
    const auto own = make_curve_key_pair();
    const auto other = make_curve_key_pair();
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    // A secret key that does not belong to the public key.
    SecurityConfig mixed{own.public_key, other.secret_key, other.public_key, {}};
    try {
        secure_client(socket, mixed, other.public_key, "tcp://127.0.0.1:1");
        FAIL() << "expected invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_THAT(e.what(), HasSubstr("does not belong"));
    }
    // A server with nobody on its allow-list would only ever refuse.
    SecurityConfig lonely{own.public_key, own.secret_key, own.public_key, {}};
    try {
        (void)secure_server(socket, context, lonely, "tcp://127.0.0.1:*");
        FAIL() << "expected invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_THAT(e.what(), HasSubstr("allowed_clients is empty"));
    }
    // A missing server key.
    try {
        secure_client(socket, lonely, "", "tcp://127.0.0.1:1");
        FAIL() << "expected invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_THAT(e.what(), HasSubstr("no server public key"));
    }
    // ipc and inproc links never use CURVE: nothing to check there.
    EXPECT_NO_THROW(secure_client(socket, mixed, "", "ipc:///tmp/x"));
    EXPECT_EQ(secure_server(socket, context, lonely, "inproc://x"), nullptr);
}

TEST(CurveConfigTest, KeyPairsAreFreshAndWellFormed) {
    const auto a = make_curve_key_pair();
    const auto b = make_curve_key_pair();
    EXPECT_TRUE(is_z85_key(a.public_key));
    EXPECT_TRUE(is_z85_key(a.secret_key));
    EXPECT_NE(a.public_key, b.public_key);
    EXPECT_NE(a.secret_key, b.secret_key);
}

}  // namespace
}  // namespace digitpipe::framework
