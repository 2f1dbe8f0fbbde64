// Unit tests of the metrics registry (framework/src/metrics/metrics.cpp): the exact Prometheus
// text of a small registry, series identity, histogram bucket placement, escaping, name
// validation, and exact totals under concurrent updates.
#include "digitpipe/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace digitpipe::framework {
namespace {

using ::testing::HasSubstr;

TEST(MetricsRegistryTest, RendersExactPrometheusText) {
    MetricsRegistry registry;
    registry.counter("digitpipe_requests_total", "Requests served.", {{"verb", "predict"}})
        .increment(3);
    registry.counter("digitpipe_requests_total", "Requests served.", {{"verb", "health"}})
        .increment();
    registry.gauge("digitpipe_queue_depth", "Requests waiting.").set(-2.5);
    Histogram& latency = registry.histogram("digitpipe_latency_seconds", "Request latency.",
                                            {0.25, 0.5, 1}, {{"stage", "infer"}});
    // Binary fractions, so the sum is exact whatever the order of additions.
    latency.observe(0.125);
    latency.observe(0.5);  // on a bound: counted in that bucket (le is <=)
    latency.observe(0.75);
    latency.observe(8);

    EXPECT_EQ(registry.render_prometheus(),
              "# HELP digitpipe_latency_seconds Request latency.\n"
              "# TYPE digitpipe_latency_seconds histogram\n"
              "digitpipe_latency_seconds_bucket{stage=\"infer\",le=\"0.25\"} 1\n"
              "digitpipe_latency_seconds_bucket{stage=\"infer\",le=\"0.5\"} 2\n"
              "digitpipe_latency_seconds_bucket{stage=\"infer\",le=\"1\"} 3\n"
              "digitpipe_latency_seconds_bucket{stage=\"infer\",le=\"+Inf\"} 4\n"
              "digitpipe_latency_seconds_sum{stage=\"infer\"} 9.375\n"
              "digitpipe_latency_seconds_count{stage=\"infer\"} 4\n"
              "# HELP digitpipe_queue_depth Requests waiting.\n"
              "# TYPE digitpipe_queue_depth gauge\n"
              "digitpipe_queue_depth -2.5\n"
              "# HELP digitpipe_requests_total Requests served.\n"
              "# TYPE digitpipe_requests_total counter\n"
              "digitpipe_requests_total{verb=\"health\"} 1\n"
              "digitpipe_requests_total{verb=\"predict\"} 3\n");
}

TEST(MetricsRegistryTest, EmptyRegistryRendersNothing) {
    MetricsRegistry registry;
    EXPECT_EQ(registry.render_prometheus(), "");
}

TEST(MetricsRegistryTest, SameSeriesIsSameObjectWhateverTheLabelOrder) {
    MetricsRegistry registry;
    Counter& a = registry.counter("c", "h", {{"x", "1"}, {"y", "2"}});
    Counter& b = registry.counter("c", "h", {{"y", "2"}, {"x", "1"}});
    Counter& other = registry.counter("c", "h", {{"x", "1"}, {"y", "3"}});
    EXPECT_EQ(&a, &b);
    EXPECT_NE(&a, &other);
    Histogram& h1 = registry.histogram("h", "", {1, 2});
    Histogram& h2 = registry.histogram("h", "", {1, 2, std::numeric_limits<double>::infinity()});
    EXPECT_EQ(&h1, &h2);
    EXPECT_EQ(&registry.gauge("g", ""), &registry.gauge("g", ""));
}

TEST(MetricsRegistryTest, LabelsRenderSortedByName) {
    MetricsRegistry registry;
    registry.gauge("g", "", {{"zone", "a"}, {"app", "b"}}).set(1);
    EXPECT_THAT(registry.render_prometheus(), HasSubstr("g{app=\"b\",zone=\"a\"} 1\n"));
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
    MetricsRegistry registry;
    registry.counter("c", "line one\nback\\slash \"quoted\"", {{"path", "a\\b\"c\"\nd"}})
        .increment(2);
    EXPECT_EQ(registry.render_prometheus(),
              "# HELP c line one\\nback\\\\slash \"quoted\"\n"
              "# TYPE c counter\n"
              "c{path=\"a\\\\b\\\"c\\\"\\nd\"} 2\n");
}

TEST(MetricsRegistryTest, OmitsHelpLineWhenHelpIsEmpty) {
    MetricsRegistry registry;
    registry.counter("c", "").increment();
    EXPECT_EQ(registry.render_prometheus(), "# TYPE c counter\nc 1\n");
}

TEST(MetricsRegistryTest, FormatsSpecialAndLargeValues) {
    MetricsRegistry registry;
    registry.gauge("a", "").set(std::numeric_limits<double>::infinity());
    registry.gauge("b", "").set(-std::numeric_limits<double>::infinity());
    registry.gauge("c", "").set(std::nan(""));
    registry.gauge("d", "").set(1e21);
    registry.gauge("e", "").set(0.1);
    const std::string text = registry.render_prometheus();
    EXPECT_THAT(text, HasSubstr("\na +Inf\n"));
    EXPECT_THAT(text, HasSubstr("\nb -Inf\n"));
    EXPECT_THAT(text, HasSubstr("\nc NaN\n"));
    EXPECT_THAT(text, HasSubstr("\nd 1e+21\n"));
    EXPECT_THAT(text, HasSubstr("\ne 0.1\n"));
}

TEST(MetricsRegistryTest, RejectsBadNamesAtRegistration) {
    MetricsRegistry registry;
    for (const char* bad : {"", "1abc", "a-b", "a b", "é", "a.b"}) {
        EXPECT_THROW(registry.counter(bad, ""), std::invalid_argument) << bad;
    }
    for (const char* good : {"a", "_a", ":a", "a:b_c9", "ABC"}) {
        EXPECT_NO_THROW(registry.counter(good, "")) << good;
    }
    EXPECT_THROW(registry.gauge("g", "", {{"1x", "v"}}), std::invalid_argument);
    EXPECT_THROW(registry.gauge("g", "", {{"a:b", "v"}}), std::invalid_argument);
    EXPECT_THROW(registry.gauge("g", "", {{"__name__", "v"}}), std::invalid_argument);
    EXPECT_THROW(registry.gauge("g", "", {{"a", "1"}, {"a", "2"}}), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h", "", {1}, {{"le", "1"}}), std::invalid_argument);
    try {
        registry.counter("bad-name", "");
        ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_THAT(e.what(), HasSubstr("\"bad-name\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"));
    }
}

TEST(MetricsRegistryTest, RejectsConflictingRegistrations) {
    MetricsRegistry registry;
    registry.counter("x", "help");
    EXPECT_THROW(registry.gauge("x", "help"), std::invalid_argument);
    EXPECT_THROW(registry.counter("x", "other help"), std::invalid_argument);
    registry.histogram("lat", "", {1, 2});
    EXPECT_THROW(registry.histogram("lat", "", {1, 3}), std::invalid_argument);
    // Sample names a histogram exposes may not be taken by another family, either way round.
    EXPECT_THROW(registry.counter("lat_count", ""), std::invalid_argument);
    registry.gauge("size_sum", "");
    EXPECT_THROW(registry.histogram("size", "", {1}), std::invalid_argument);
}

TEST(HistogramTest, PlacesObservationsInLeBuckets) {
    Histogram h({1, 2, 5});
    for (double v : {-3.0, 0.0, 1.0, 1.0000001, 2.0, 4.9, 5.0, 5.1, 1e300}) h.observe(v);
    const auto s = h.snapshot();
    // Cumulative: <=1: {-3, 0, 1}; <=2: +{1.0000001, 2}; <=5: +{4.9, 5}; +Inf: +{5.1, 1e300}.
    EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{3, 5, 7, 9}));
    EXPECT_EQ(s.count, 9u);
}

TEST(HistogramTest, NanGoesToInfBucketOnly) {
    Histogram h({1});
    h.observe(std::nan(""));
    const auto s = h.snapshot();
    EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{0, 1}));
    EXPECT_TRUE(std::isnan(s.sum));
}

TEST(HistogramTest, RejectsBadBounds) {
    EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
    EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
    EXPECT_THROW(Histogram({std::nan("")}), std::invalid_argument);
    EXPECT_THROW(Histogram({-std::numeric_limits<double>::infinity(), 1}), std::invalid_argument);
    EXPECT_NO_THROW(Histogram({}));  // just +Inf
}

TEST(HistogramTest, BucketHelpers) {
    EXPECT_EQ(linear_buckets(0, 0.5, 3), (std::vector<double>{0, 0.5, 1}));
    EXPECT_EQ(exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
    EXPECT_THROW(linear_buckets(0, 0, 3), std::invalid_argument);
    EXPECT_THROW(exponential_buckets(0, 2, 3), std::invalid_argument);
    EXPECT_THROW(exponential_buckets(1, 1, 3), std::invalid_argument);
}

TEST(CounterTest, IsMonotonic) {
    Counter c;
    c.increment(2);
    EXPECT_THROW(c.increment(-1), std::invalid_argument);
    EXPECT_THROW(c.increment(std::nan("")), std::invalid_argument);
    c.advance_to(10);
    c.advance_to(4);  // never goes down
    EXPECT_EQ(c.value(), 10);
}

TEST(GaugeTest, SetAndAdd) {
    Gauge g;
    g.set(5);
    g.add(-7.5);
    EXPECT_EQ(g.value(), -2.5);
}

TEST(MetricsRegistryTest, ConcurrentUpdatesGiveExactTotals) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 50000;
    MetricsRegistry registry;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&registry, t] {
            // Each thread registers the shared series itself, racing the others.
            Counter& counter = registry.counter("ops_total", "ops", {{"kind", "shared"}});
            Gauge& gauge = registry.gauge("level", "level");
            Histogram& histogram = registry.histogram("sizes", "sizes", {10, 100});
            Counter& own = registry.counter("ops_total", "ops", {{"kind", std::to_string(t)}});
            for (int i = 0; i < kPerThread; ++i) {
                counter.increment();
                own.increment(2);
                gauge.add(1);
                histogram.observe(i % 3 == 0 ? 5 : 50);
                if (i % 1000 == 0) (void)registry.render_prometheus();  // renders race updates
            }
        });
    }
    for (auto& thread : threads) thread.join();

    EXPECT_EQ(registry.counter("ops_total", "ops", {{"kind", "shared"}}).value(),
              kThreads * kPerThread);
    for (int t = 0; t < kThreads; ++t) {
        EXPECT_EQ(registry.counter("ops_total", "ops", {{"kind", std::to_string(t)}}).value(),
                  2.0 * kPerThread);
    }
    EXPECT_EQ(registry.gauge("level", "level").value(), kThreads * kPerThread);
    const auto s = registry.histogram("sizes", "sizes", {10, 100}).snapshot();
    const std::uint64_t small_per_thread = (kPerThread + 2) / 3;  // i % 3 == 0
    EXPECT_EQ(s.count, static_cast<std::uint64_t>(kThreads * kPerThread));
    EXPECT_EQ(s.cumulative[0], kThreads * small_per_thread);
    EXPECT_EQ(s.cumulative[1], s.count);
    EXPECT_EQ(s.sum, kThreads * (5.0 * small_per_thread + 50.0 * (kPerThread - small_per_thread)));
}

}  // namespace
}  // namespace digitpipe::framework
