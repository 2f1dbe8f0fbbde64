// Assembling and running the gateway (see server.hpp).
#include "server.hpp"

#include <pistache/endpoint.h>
#include <pistache/router.h>

#include "bridge.hpp"
#include "digitpipe/log.hpp"
#include "http_handler.hpp"
#include "routes.hpp"
#include "security.hpp"
#include "static_files.hpp"

namespace digitpipe::gateway {

namespace {

// Room for the request line and headers on top of max_body_bytes in Pistache's per-request
// buffer; a request whose headers alone exceed it gets the JSON 413 too.
constexpr std::size_t kHeaderAllowanceBytes = 64 * 1024;
// Keep-alive connections idle longer than this are closed by Pistache.
constexpr auto kKeepaliveTimeout = std::chrono::seconds(120);

}  // namespace

struct GatewayServer::Impl {
    Impl(zmq::context_t& zmq_context, GatewayConfig gateway_config)
        : config(std::move(gateway_config)),
          static_files(config.dashboard),
          bridge(zmq_context, config, metrics),
          api(config, bridge, metrics, static_files) {}

    GatewayConfig config;
    GatewayMetrics metrics;
    StaticFiles static_files;
    Bridge bridge;
    Api api;
    std::shared_ptr<Pistache::Rest::Router> router;
    std::unique_ptr<Pistache::Http::Endpoint> endpoint;
    std::uint16_t port = 0;
    bool serving = false;
    const framework::Logger log{"gateway"};
};

GatewayServer::GatewayServer(zmq::context_t& context, GatewayConfig config)
    : impl_(std::make_unique<Impl>(context, std::move(config))) {
    if (!impl_->static_files.available()) {
        impl_->log.warn("dashboard not built: static routes answer 404 (run deploy/setup.sh)",
                        {{"dashboard", impl_->config.dashboard.string()}});
    }
}

GatewayServer::~GatewayServer() {
    stop();
}

std::uint16_t GatewayServer::start() {
    auto& s = *impl_;
    if (s.serving) return s.port;
    // main() reports this as a configuration error first; kept here for in-process users.
    if (const auto secure = check_listen_security(s.config); !secure.is_ok()) {
        throw std::runtime_error(secure.message());
    }
    s.bridge.start();
    s.router = std::make_shared<Pistache::Rest::Router>();
    setup_routes(*s.router, s.api);
    const Pistache::Address address(s.config.listen.host, Pistache::Port(s.config.listen.port));
    s.endpoint = std::make_unique<Pistache::Http::Endpoint>(address);
    auto options = Pistache::Http::Endpoint::options()
                       .threads(s.config.threads)
                       .flags(Pistache::Tcp::Options::ReuseAddr)
                       .maxRequestSize(s.config.max_body_bytes + kHeaderAllowanceBytes)
                       .headerTimeout(s.config.header_timeout)
                       .bodyTimeout(s.config.body_timeout)
                       .keepaliveTimeout(kKeepaliveTimeout);
    s.endpoint->init(options);  // before setHandler: it copies the size limits into the handler
    s.endpoint->setHandler(
        std::make_shared<HttpHandler>(s.router, s.api, s.metrics, s.config.max_body_bytes));
    try {
        s.endpoint->serveThreaded();
    } catch (const std::exception& e) {
        s.bridge.stop();
        // Pistache says only "Invalid argument" for a port in use: name the address.
        throw std::runtime_error("cannot listen on " + s.config.listen.to_string() + ": " +
                                 e.what() + " (address in use or not local?)");
    }
    s.port = static_cast<std::uint16_t>(s.endpoint->getPort());
    s.serving = true;
    s.log.info("gateway listening",
               {{"address", s.config.listen.host + ":" + std::to_string(s.port)},
                {"broker", s.config.broker_endpoint},
                {"events", s.config.events_out},
                {"dashboard", s.config.dashboard.string()}});
    return s.port;
}

void GatewayServer::stop() noexcept {
    auto& s = *impl_;
    // The bridge first: it answers what it holds while Pistache can still write the answers.
    s.bridge.stop();
    if (s.serving) {
        try {
            s.endpoint->shutdown();
        } catch (const std::exception& e) {
            s.log.warn("pistache shutdown failed", {{"error", e.what()}});
        }
        s.serving = false;
    }
}

std::uint16_t GatewayServer::port() const noexcept {
    return impl_->port;
}

const GatewayConfig& GatewayServer::config() const noexcept {
    return impl_->config;
}

GatewayMetrics& GatewayServer::metrics() noexcept {
    return impl_->metrics;
}

}  // namespace digitpipe::gateway
