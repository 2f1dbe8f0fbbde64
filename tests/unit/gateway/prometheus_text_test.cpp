// Merging Prometheus expositions by family (web/gateway/prometheus_text.hpp).
#include "prometheus_text.hpp"

#include <gtest/gtest.h>

namespace digitpipe::gateway {
namespace {

TEST(PrometheusTextTest, MergesFamiliesAcrossTextsWithOneHelpAndType) {
    const std::string gateway =
        "# HELP digitpipe_gateway_events_total Events\n"
        "# TYPE digitpipe_gateway_events_total counter\n"
        "digitpipe_gateway_events_total 3\n";
    const auto stage = [](const std::string& name) {
        return "# HELP digitpipe_worker_requests_total Requests\n"
               "# TYPE digitpipe_worker_requests_total counter\n"
               "digitpipe_worker_requests_total{stage=\"" +
               name +
               "\"} 5\n"
               "# HELP digitpipe_worker_request_seconds Time\n"
               "# TYPE digitpipe_worker_request_seconds histogram\n"
               "digitpipe_worker_request_seconds_bucket{stage=\"" +
               name + "\",le=\"+Inf\"} 5\ndigitpipe_worker_request_seconds_sum{stage=\"" + name +
               "\"} 0.5\ndigitpipe_worker_request_seconds_count{stage=\"" + name + "\"} 5\n\n";
    };
    const auto merged = merge_prometheus_texts({gateway, stage("infer"), stage("train")});
    EXPECT_EQ(merged,
              "# HELP digitpipe_gateway_events_total Events\n"
              "# TYPE digitpipe_gateway_events_total counter\n"
              "digitpipe_gateway_events_total 3\n"
              "# HELP digitpipe_worker_requests_total Requests\n"
              "# TYPE digitpipe_worker_requests_total counter\n"
              "digitpipe_worker_requests_total{stage=\"infer\"} 5\n"
              "digitpipe_worker_requests_total{stage=\"train\"} 5\n"
              "# HELP digitpipe_worker_request_seconds Time\n"
              "# TYPE digitpipe_worker_request_seconds histogram\n"
              "digitpipe_worker_request_seconds_bucket{stage=\"infer\",le=\"+Inf\"} 5\n"
              "digitpipe_worker_request_seconds_sum{stage=\"infer\"} 0.5\n"
              "digitpipe_worker_request_seconds_count{stage=\"infer\"} 5\n"
              "digitpipe_worker_request_seconds_bucket{stage=\"train\",le=\"+Inf\"} 5\n"
              "digitpipe_worker_request_seconds_sum{stage=\"train\"} 0.5\n"
              "digitpipe_worker_request_seconds_count{stage=\"train\"} 5\n");
    EXPECT_EQ(merge_prometheus_texts({}), "");
}

}  // namespace
}  // namespace digitpipe::gateway
