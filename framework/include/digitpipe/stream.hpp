// Streams: one-way flows of envelope requests between stages over ZeroMQ PUSH/PULL, e.g. the
// augment stage's batches fanned in to the train stage. The high-water mark on both ends
// bounds what is queued, so a slow reader blocks its writers (back-pressure) instead of
// growing memory. Each message is one envelope request (encode_request / decode_request).
//
// The host opens these for a stage from the deployment's `streams` block (StreamConfig) and
// hands them out through StageContext; the stage sees only StreamWriter / StreamReader.
// One side binds, the other connects (`bind: reader`, the default, suits many writers and one
// reader). With `security` enabled a tcp:// stream speaks CURVE (curve.hpp): the binding side
// admits security.allowed_clients, the connecting side checks config.server_public_key. Threading: each object owns one socket and is used by one thread at a time; it
// must be destroyed before the zmq::context_t it was opened on.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "digitpipe/curve.hpp"
#include "digitpipe/deployment.hpp"
#include "digitpipe/envelope.hpp"
#include "digitpipe/log.hpp"
#include "digitpipe/stage.hpp"
#include "digitpipe/status.hpp"

namespace digitpipe::framework {

// The writing end: a PUSH socket with SNDHWM = config.hwm.
class PushStreamWriter final : public StreamWriter {
 public:
    // Binds (config.reader_binds == false) or connects to config.endpoint.
    // requires: config.hwm > 0; max_message_bytes > 0.
    // throws: zmq::error_t when the endpoint cannot be bound or parsed;
    //         std::invalid_argument for a non-positive hwm or max_message_bytes.
    PushStreamWriter(zmq::context_t& context, const StreamConfig& config,
                     std::size_t max_message_bytes, const SecurityConfig& security = {});
    ~PushStreamWriter() override;
    PushStreamWriter(const PushStreamWriter&) = delete;
    PushStreamWriter& operator=(const PushStreamWriter&) = delete;

    // Sends `message` as one multipart envelope. Blocks while every reader's queue is at its
    // high-water mark (or, on the connecting side, while no reader is connected), at most
    // `timeout` (0 = do not block). Never throws.
    // Returns kOk once the message is queued (delivery continues after return);
    // kUnavailable on timeout or when interrupted (retry after checking for cancellation);
    // kInvalidArgument when `message` breaks encode_request's preconditions;
    // kResourceExhausted when a frame exceeds max_message_bytes (the reader would drop it).
    Status send(const Request& message, std::chrono::milliseconds timeout) override;

    // The endpoint as bound ("tcp://127.0.0.1:41234" for a "*" port) or as connected.
    const std::string& endpoint() const noexcept { return endpoint_; }
    // Messages queued so far. Any thread may read it.
    std::uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }

 private:
    std::string name_;
    std::string endpoint_;
    std::size_t max_message_bytes_;
    zmq::socket_t socket_;
    std::shared_ptr<ZapHandler> zap_;  // while this side binds with CURVE
    std::atomic<std::uint64_t> sent_{0};
};

// The reading end: a PULL socket with RCVHWM = config.hwm, MAXMSGSIZE = max_message_bytes
// (a tcp/ipc peer that sends a larger frame is disconnected by ZeroMQ) and linger 0.
class PullStreamReader final : public StreamReader {
 public:
    // Binds (config.reader_binds, the default) or connects to config.endpoint.
    // requires: config.hwm > 0; max_message_bytes > 0.
    // throws: zmq::error_t when the endpoint cannot be bound or parsed;
    //         std::invalid_argument for a non-positive hwm or max_message_bytes.
    PullStreamReader(zmq::context_t& context, const StreamConfig& config,
                     std::size_t max_message_bytes, const SecurityConfig& security = {});
    ~PullStreamReader() override;
    PullStreamReader(const PullStreamReader&) = delete;
    PullStreamReader& operator=(const PullStreamReader&) = delete;

    // The next well-formed message, waiting at most `timeout` in all (0 = poll once).
    // Malformed messages are dropped, counted (malformed()) and logged with the reason and,
    // where ZeroMQ knows it, the peer address; they never end the wait early. Never throws.
    // Returns kUnavailable on timeout or when interrupted.
    Result<Request> receive(std::chrono::milliseconds timeout) override;

    // The endpoint as bound ("tcp://127.0.0.1:41234" for a "*" port) or as connected.
    const std::string& endpoint() const noexcept { return endpoint_; }
    // Well-formed messages returned and malformed ones dropped so far. Any thread may read.
    std::uint64_t received() const noexcept { return received_.load(std::memory_order_relaxed); }
    std::uint64_t malformed() const noexcept { return malformed_.load(std::memory_order_relaxed); }

 private:
    std::string name_;
    std::string endpoint_;
    zmq::socket_t socket_;
    std::shared_ptr<ZapHandler> zap_;  // while this side binds with CURVE
    Logger logger_;
    std::atomic<std::uint64_t> received_{0};
    std::atomic<std::uint64_t> malformed_{0};
};

// Factories for the host's StageContext: the concrete classes above behind the stage API.
// Same requirements, errors and thread-safety as the constructors.
std::unique_ptr<StreamWriter> open_stream_writer(zmq::context_t& context,
                                                 const StreamConfig& config,
                                                 std::size_t max_message_bytes,
                                                 const SecurityConfig& security = {});
std::unique_ptr<StreamReader> open_stream_reader(zmq::context_t& context,
                                                 const StreamConfig& config,
                                                 std::size_t max_message_bytes,
                                                 const SecurityConfig& security = {});

}  // namespace digitpipe::framework
