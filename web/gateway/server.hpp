// The gateway, in-process: Pistache endpoint, route table, static files and the bridge thread
// assembled from one GatewayConfig. digitpipe-gateway (main.cpp) is a thin shell over it, and
// tests can run it in their own process.
#pragma once

#include <cstdint>
#include <memory>

#include <zmq.hpp>

#include "gateway_config.hpp"
#include "gateway_metrics.hpp"

namespace digitpipe::gateway {

class GatewayServer {
 public:
    // Builds everything; binds and connects nothing. A missing dashboard folder is logged as a
    // warning (its routes answer 404 JSON). `context` must outlive the server.
    GatewayServer(zmq::context_t& context, GatewayConfig config);
    // Calls stop().
    ~GatewayServer();
    GatewayServer(const GatewayServer&) = delete;
    GatewayServer& operator=(const GatewayServer&) = delete;

    // Connects the bridge, binds the listen address (ReuseAddr) and serves on Pistache's own
    // threads. Returns the bound port (the real one when the config asked for 0).
    // throws: std::runtime_error (address in use, bad host, or a listen host beyond loopback
    // with no token: check_listen_security), zmq::error_t (bad endpoint).
    std::uint16_t start();
    // Answers everything parked in the bridge (503), then shuts Pistache down. Idempotent.
    void stop() noexcept;

    std::uint16_t port() const noexcept;
    const GatewayConfig& config() const noexcept;
    GatewayMetrics& metrics() noexcept;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace digitpipe::gateway
