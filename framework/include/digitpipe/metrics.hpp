// Metrics: counters, gauges and histograms kept in one registry per process, rendered as
// Prometheus text exposition format 0.0.4 for the framework's `metrics` verb and the
// gateway's /metrics route. Hosts register their own series (requests, latencies, queue
// depth) and mirror what stages report through MetricSink.
//
// A series is identified by its metric name plus its label set (order of labels does not
// matter); asking the registry for the same series twice returns the same object. Series live
// as long as the registry, so callers keep references instead of looking names up per event.
// Thread-safety: registration and rendering may run on any thread; updates are lock-free
// atomics and may race with each other and with rendering.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace digitpipe::framework {

// Label name -> value pairs. Names match [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__";
// values are any UTF-8 text (escaped when rendered).
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A monotonic total (requests served, bytes read). Starts at 0.
class Counter {
 public:
    Counter() = default;
    Counter(const Counter&) = delete;
    Counter& operator=(const Counter&) = delete;

    // Adds `amount`. requires: amount >= 0 and not NaN. throws: std::invalid_argument otherwise
    // (a counter that goes down is a bug, and Prometheus would read it as a restart).
    void increment(double amount = 1.0);
    // Raises the value to `total` when it is larger; otherwise leaves it. For mirroring a
    // total counted elsewhere (MetricSink::counter reports running totals).
    void advance_to(double total) noexcept;
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
    std::atomic<double> value_{0.0};
};

// A value that goes up and down (queue depth, loaded model age). Starts at 0.
class Gauge {
 public:
    Gauge() = default;
    Gauge(const Gauge&) = delete;
    Gauge& operator=(const Gauge&) = delete;

    void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
    void add(double delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
    std::atomic<double> value_{0.0};
};

// Observations counted into fixed buckets (latencies, batch sizes), plus their sum and count.
// Bucket i counts observations v <= bounds[i] (Prometheus' `le`); an implicit last bucket,
// +Inf, counts everything, NaN included.
class Histogram {
 public:
    // requires: `bounds` finite and strictly increasing (a trailing +Inf is dropped as
    // implicit). throws: std::invalid_argument otherwise.
    explicit Histogram(std::vector<double> bounds);
    Histogram(const Histogram&) = delete;
    Histogram& operator=(const Histogram&) = delete;

    void observe(double value) noexcept;

    struct Snapshot {
        std::vector<std::uint64_t> cumulative;  // per bound, then +Inf; cumulative.back() == count
        double sum = 0.0;
        std::uint64_t count = 0;
    };
    // The counts at one moment. Under concurrent observe() the sum may lag the buckets by the
    // observations in flight; the buckets and count are always consistent with each other.
    Snapshot snapshot() const;
    const std::vector<double>& bounds() const noexcept { return bounds_; }

 private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
    std::atomic<double> sum_{0.0};
};

// Bucket bounds start, start + width, ... (count of them). requires: count >= 1, width > 0.
std::vector<double> linear_buckets(double start, double width, std::size_t count);
// Bucket bounds start, start * factor, ... (count of them). requires: count >= 1, start > 0,
// factor > 1.
std::vector<double> exponential_buckets(double start, double factor, std::size_t count);

// Owns every series of a process. Not copyable; references it hands out stay valid until it
// is destroyed.
class MetricsRegistry {
 public:
    MetricsRegistry();
    ~MetricsRegistry();
    MetricsRegistry(const MetricsRegistry&) = delete;
    MetricsRegistry& operator=(const MetricsRegistry&) = delete;

    // Returns the series `name`{labels}, creating it (and its family, with `help`) on first use.
    // throws: std::invalid_argument when the name does not match [a-zA-Z_:][a-zA-Z0-9_:]*, a
    //         label name is invalid, reserved or repeated, the name is already registered as
    //         another type or with another help text (or other buckets), or the names it
    //         exposes (a histogram's name_bucket, name_sum, name_count) clash with another
    //         family's.
    Counter& counter(std::string_view name, std::string_view help, MetricLabels labels = {});
    Gauge& gauge(std::string_view name, std::string_view help, MetricLabels labels = {});
    // Additionally "le" is a reserved label name here.
    Histogram& histogram(std::string_view name, std::string_view help,
                         std::vector<double> bounds, MetricLabels labels = {});

    // Every family, sorted by name, each with # HELP (when help is non-empty) and # TYPE and
    // its series sorted by label set; labels are rendered sorted by name. Ends with a newline
    // (empty text for an empty registry).
    std::string render_prometheus() const;

 private:
    enum class Kind;
    struct Family;
    // requires: mutex_ held.
    Family& family_for(std::string_view name, std::string_view help, Kind kind,
                       const std::vector<double>* bounds);

    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

}  // namespace digitpipe::framework
