// CURVE on sockets (ZeroMQ RFC 26) with a ZAP allow-list (RFC 27), following the rule in
// transport_security.hpp: only tcp:// sockets of a process whose SecurityConfig is enabled.
// Every socket digitpipe makes goes through secure_client() or secure_server() just before
// connect() or bind(), so no link can forget it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "digitpipe/key_files.hpp"
#include "digitpipe/transport_security.hpp"

namespace digitpipe::framework {

// A fresh key pair from libzmq's CSPRNG (zmq_curve_keypair).
// throws: std::runtime_error when libzmq was built without CURVE.
KeyFile make_curve_key_pair();

// Admits CURVE clients whose public key is on the allow-list of the process's sockets, over
// ZAP on "inproc://zeromq.zap.01" of one context, and counts who it turned away. One per
// context: acquire() shares it between the sockets that bind (their allow-lists merge) and it
// stops when the last holder lets go. Must be released before its context is closed.
class ZapHandler {
 public:
    // The context's handler, started if needed, with `allowed` (Z85 public keys) added.
    // throws: std::invalid_argument for a key that is not Z85; zmq::error_t when the ZAP
    // endpoint cannot be bound.
    static std::shared_ptr<ZapHandler> acquire(zmq::context_t& context,
                                               const std::vector<std::string>& allowed);
    ~ZapHandler();
    ZapHandler(const ZapHandler&) = delete;
    ZapHandler& operator=(const ZapHandler&) = delete;

    std::uint64_t admitted() const noexcept;  // handshakes let through so far
    std::uint64_t denied() const noexcept;    // handshakes refused (unknown key or mechanism)

    struct Impl;

 private:
    explicit ZapHandler(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Makes `socket`, about to connect to `endpoint`, a CURVE client of the server whose public
// key is `server_public_key` (Z85) when security applies to it (enabled and tcp://); a no-op
// otherwise. throws: std::invalid_argument when security applies and a key is missing or
// not Z85, or the key pair does not belong together, naming what is wrong.
void secure_client(zmq::socket_t& socket, const SecurityConfig& security,
                   std::string_view server_public_key, std::string_view endpoint);

// Makes `socket`, about to bind `endpoint`, a CURVE server with the process's key pair that
// admits only security.allowed_clients, when security applies (enabled and tcp://). Returns
// the context's ZAP handler to keep alive as long as the socket (null when not applied).
// throws: std::invalid_argument when security applies and the allow-list is empty or a key is
// malformed, naming what is wrong.
std::shared_ptr<ZapHandler> secure_server(zmq::socket_t& socket, zmq::context_t& context,
                                          const SecurityConfig& security,
                                          std::string_view endpoint);

}  // namespace digitpipe::framework
