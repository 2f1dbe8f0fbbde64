// A tcp:// stream with security enabled speaks CURVE: the binding reader admits an allowed
// writer and refuses one whose key is not on its list (curve.hpp, stream.hpp).
#include <gtest/gtest.h>

#include <chrono>

#include "digitpipe/curve.hpp"
#include "digitpipe/stream.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;

StreamConfig tcp_stream(std::string endpoint, std::string server_key) {
    StreamConfig config;
    config.name = "secure";
    config.endpoint = std::move(endpoint);
    config.server_public_key = std::move(server_key);
    return config;
}

Request numbered(int n) {
    Request request;
    request.verb = "batch";
    request.correlation_id = "c" + std::to_string(n);
    request.header = {{"n", n}};
    return request;
}

TEST(CurveStreamTest, TheReaderAdmitsAllowedWritersOnly) {
    zmq::context_t context;
    const auto reader_keys = make_curve_key_pair();
    const auto writer_keys = make_curve_key_pair();
    const auto stranger_keys = make_curve_key_pair();
    const SecurityConfig reader_security{reader_keys.public_key, reader_keys.secret_key,
                                         reader_keys.public_key, {writer_keys.public_key}};
    PullStreamReader reader(context, tcp_stream("tcp://127.0.0.1:*", ""), 1 << 20,
                            reader_security);

    const SecurityConfig writer_security{writer_keys.public_key, writer_keys.secret_key, "", {}};
    PushStreamWriter writer(context, tcp_stream(reader.endpoint(), reader_keys.public_key),
                            1 << 20, writer_security);
    ASSERT_TRUE(writer.send(numbered(1), 5000ms).is_ok());
    const auto received = reader.receive(5000ms);
    ASSERT_TRUE(received.is_ok()) << received.status().message();
    EXPECT_EQ(received->header.at("n"), 1);

    // Not on the list: its handshake is refused, so with ZMQ_IMMEDIATE it never has a peer.
    const SecurityConfig stranger_security{stranger_keys.public_key, stranger_keys.secret_key,
                                           "", {}};
    PushStreamWriter stranger(context, tcp_stream(reader.endpoint(), reader_keys.public_key),
                              1 << 20, stranger_security);
    EXPECT_FALSE(stranger.send(numbered(2), 500ms).is_ok());
    EXPECT_FALSE(reader.receive(300ms).is_ok());
}

}  // namespace
}  // namespace digitpipe::framework
