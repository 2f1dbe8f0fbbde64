// The gateway's own Prometheus series (GET /metrics): requests by route and status code,
// latency per route, requests parked in the bridge, events received, and the broker's view of
// each service. Series are registered on first use in one framework::MetricsRegistry.
// Thread-safety: every method may be called from any thread (the registry locks; updates are
// atomics).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "digitpipe/mdp.hpp"
#include "digitpipe/metrics.hpp"

namespace digitpipe::gateway {

class GatewayMetrics {
 public:
    GatewayMetrics();
    GatewayMetrics(const GatewayMetrics&) = delete;
    GatewayMetrics& operator=(const GatewayMetrics&) = delete;

    // One answered request: route is the route template ("/api/jobs/{id}", "static"), never
    // the raw path (unbounded label values would grow the registry without limit).
    void record_request(std::string_view route, int http_code, double seconds);
    void set_pending(std::size_t pending) noexcept;
    void count_event() noexcept;
    // The broker's numbers for one service (from mmi.services).
    void set_service(const std::string& service, const framework::ServiceStats& stats);

    std::string render() const { return registry_.render_prometheus(); }
    framework::MetricsRegistry& registry() noexcept { return registry_; }

 private:
    framework::MetricsRegistry registry_;
    framework::Gauge& pending_;
    framework::Counter& events_;
};

}  // namespace digitpipe::gateway
