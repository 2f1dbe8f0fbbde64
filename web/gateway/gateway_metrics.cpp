// The gateway's Prometheus series (see gateway_metrics.hpp).
#include "gateway_metrics.hpp"

namespace digitpipe::gateway {

namespace {

// Latency buckets: a predict is ~2-10 ms; long-polls run to their timeout (up to 60 s).
const std::vector<double> kLatencyBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,      2.5,   5,    10,    30,   60};

}  // namespace

GatewayMetrics::GatewayMetrics()
    : pending_(registry_.gauge("digitpipe_gateway_pending_requests",
                               "Requests parked in the gateway (waiting on the broker or on "
                               "events)")),
      events_(registry_.counter("digitpipe_gateway_events_total",
                                "Events received from the broker's event proxy")) {}

void GatewayMetrics::record_request(std::string_view route, int http_code, double seconds) {
    registry_
        .counter("digitpipe_gateway_http_requests_total", "HTTP requests answered",
                 {{"route", std::string(route)}, {"code", std::to_string(http_code)}})
        .increment();
    registry_
        .histogram("digitpipe_gateway_http_request_seconds", "Time from request in to answer out",
                   kLatencyBuckets, {{"route", std::string(route)}})
        .observe(seconds);
}

void GatewayMetrics::set_pending(std::size_t pending) noexcept {
    pending_.set(static_cast<double>(pending));
}

void GatewayMetrics::count_event() noexcept {
    events_.increment();
}

void GatewayMetrics::set_service(const std::string& service, const framework::ServiceStats& stats) {
    const framework::MetricLabels labels{{"service", service}};
    registry_
        .gauge("digitpipe_broker_service_workers", "Live workers of the service (broker view)",
               labels)
        .set(static_cast<double>(stats.workers_idle + stats.workers_busy));
    registry_.gauge("digitpipe_broker_service_queued", "Requests queued at the broker", labels)
        .set(static_cast<double>(stats.queued));
    registry_
        .gauge("digitpipe_broker_service_in_flight", "Requests held by the service's workers",
               labels)
        .set(static_cast<double>(stats.in_flight));
}

}  // namespace digitpipe::gateway
