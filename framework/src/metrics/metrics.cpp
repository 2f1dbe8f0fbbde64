// Counters, gauges, histograms and their Prometheus text rendering (see metrics.hpp).
// Updates touch only atomics; the registry's mutex guards its maps, which change only when a
// series is first registered, so hot paths never take a lock.
#include "digitpipe/metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace digitpipe::framework {

enum class MetricsRegistry::Kind { kCounter, kGauge, kHistogram };

struct MetricsRegistry::Family {
    Kind kind;
    std::string help;
    std::vector<double> bounds;  // histograms only
    std::map<MetricLabels, std::unique_ptr<Counter>> counters;
    std::map<MetricLabels, std::unique_ptr<Gauge>> gauges;
    std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
};

namespace {

constexpr std::string_view kHistogramSuffixes[] = {"_bucket", "_sum", "_count"};

bool is_name_start(char c, bool colon_allowed) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (colon_allowed && c == ':');
}

bool is_valid_name(std::string_view name, bool colon_allowed) {
    if (name.empty() || !is_name_start(name.front(), colon_allowed)) return false;
    return std::all_of(name.begin() + 1, name.end(), [&](char c) {
        return is_name_start(c, colon_allowed) || (c >= '0' && c <= '9');
    });
}

void check_metric_name(std::string_view name) {
    if (!is_valid_name(name, /*colon_allowed=*/true)) {
        throw std::invalid_argument("metric name \"" + std::string(name) +
                                    "\" must match [a-zA-Z_:][a-zA-Z0-9_:]*");
    }
}

// Validates label names and returns the set sorted by name, the form series are keyed by.
MetricLabels normalise_labels(std::string_view metric, MetricLabels labels, bool histogram) {
    for (const auto& [label, value] : labels) {
        if (!is_valid_name(label, /*colon_allowed=*/false)) {
            throw std::invalid_argument("metric " + std::string(metric) + ": label name \"" +
                                        label + "\" must match [a-zA-Z_][a-zA-Z0-9_]*");
        }
        if (label.starts_with("__")) {
            throw std::invalid_argument("metric " + std::string(metric) + ": label name \"" +
                                        label + "\" is reserved (starts with __)");
        }
        if (histogram && label == "le") {
            throw std::invalid_argument("metric " + std::string(metric) +
                                        ": label name \"le\" is reserved for histogram buckets");
        }
    }
    std::sort(labels.begin(), labels.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 1; i < labels.size(); ++i) {
        if (labels[i].first == labels[i - 1].first) {
            throw std::invalid_argument("metric " + std::string(metric) + ": label \"" +
                                        labels[i].first + "\" given twice");
        }
    }
    return labels;
}

// The sample names a family puts on the wire.
std::vector<std::string> exposed_names(const std::string& name, bool histogram) {
    if (!histogram) return {name};
    std::vector<std::string> names;
    for (auto suffix : kHistogramSuffixes) names.push_back(name + std::string(suffix));
    return names;
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    std::array<char, 32> text{};
    const auto result = std::to_chars(text.data(), text.data() + text.size(), v);
    return std::string(text.data(), result.ptr);
}

// # HELP text escapes backslash and newline only.
std::string escape_help(std::string_view help) {
    std::string out;
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

// Label values also escape the double quote that delimits them.
std::string escape_label_value(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

// {a="x",b="y"} (with an optional last le="..."), or nothing for no labels.
std::string render_labels(const MetricLabels& labels, const std::string* le = nullptr) {
    if (labels.empty() && le == nullptr) return {};
    std::string out = "{";
    bool first = true;
    for (const auto& [name, value] : labels) {
        if (!first) out += ',';
        first = false;
        out += name + "=\"" + escape_label_value(value) + "\"";
    }
    if (le != nullptr) {
        if (!first) out += ',';
        out += "le=\"" + *le + "\"";
    }
    out += '}';
    return out;
}

std::string quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

}  // namespace

// ---- series --------------------------------------------------------------------------------

void Counter::increment(double amount) {
    if (!(amount >= 0.0)) {  // also rejects NaN
        throw std::invalid_argument("Counter::increment: amount must be >= 0, got " +
                                    format_value(amount));
    }
    value_.fetch_add(amount, std::memory_order_relaxed);
}

void Counter::advance_to(double total) noexcept {
    double current = value_.load(std::memory_order_relaxed);
    while (total > current &&
           !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
    }
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
    if (!bounds_.empty() && bounds_.back() == std::numeric_limits<double>::infinity()) {
        bounds_.pop_back();
    }
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        if (!std::isfinite(bounds_[i])) {
            throw std::invalid_argument("histogram bucket bound " + std::to_string(i) + " is " +
                                        format_value(bounds_[i]) + ", must be finite");
        }
        if (i > 0 && !(bounds_[i] > bounds_[i - 1])) {
            throw std::invalid_argument("histogram bucket bounds must increase strictly, got " +
                                        format_value(bounds_[i - 1]) + " then " +
                                        format_value(bounds_[i]));
        }
    }
    buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double value) noexcept {
    // First bound >= value, i.e. the smallest `le` bucket holding it; NaN compares false
    // everywhere, so it is sent to +Inf explicitly.
    const std::size_t index =
        std::isnan(value)
            ? bounds_.size()
            : static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                       bounds_.begin());
    buckets_[index].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.cumulative.reserve(bounds_.size() + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

std::vector<double> linear_buckets(double start, double width, std::size_t count) {
    if (count == 0 || !(width > 0.0) || !std::isfinite(start) || !std::isfinite(width)) {
        throw std::invalid_argument("linear_buckets: need count >= 1 and finite width > 0");
    }
    std::vector<double> bounds;
    for (std::size_t i = 0; i < count; ++i) {
        bounds.push_back(start + width * static_cast<double>(i));
    }
    return bounds;
}

std::vector<double> exponential_buckets(double start, double factor, std::size_t count) {
    if (count == 0 || !(start > 0.0) || !(factor > 1.0) || !std::isfinite(start) ||
        !std::isfinite(factor)) {
        throw std::invalid_argument(
            "exponential_buckets: need count >= 1, finite start > 0 and factor > 1");
    }
    std::vector<double> bounds{start};
    for (std::size_t i = 1; i < count; ++i) bounds.push_back(bounds.back() * factor);
    return bounds;
}

// ---- registry ------------------------------------------------------------------------------

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::family_for(std::string_view name, std::string_view help,
                                                     Kind kind, const std::vector<double>* bounds) {
    static constexpr std::array<std::string_view, 3> kKindNames{"counter", "gauge", "histogram"};
    const auto kind_name = [](Kind k) { return kKindNames[static_cast<std::size_t>(k)]; };

    if (const auto it = families_.find(name); it != families_.end()) {
        Family& family = *it->second;
        if (family.kind != kind) {
            throw std::invalid_argument("metric " + std::string(name) + " is a " +
                                        std::string(kind_name(family.kind)) +
                                        ", not a " + std::string(kind_name(kind)));
        }
        if (family.help != help) {
            throw std::invalid_argument("metric " + std::string(name) +
                                        ": registered with help " + quote(family.help) +
                                        ", now given " + quote(help));
        }
        if (bounds != nullptr && family.bounds != *bounds) {
            throw std::invalid_argument("metric " + std::string(name) +
                                        ": registered with other bucket bounds");
        }
        return family;
    }

    const std::string key(name);
    const auto mine = exposed_names(key, kind == Kind::kHistogram);
    for (const auto& [other_name, other] : families_) {
        for (const auto& theirs : exposed_names(other_name, other->kind == Kind::kHistogram)) {
            if (std::find(mine.begin(), mine.end(), theirs) != mine.end()) {
                throw std::invalid_argument("metric " + key + ": its sample " + theirs +
                                            " clashes with metric " + other_name);
            }
        }
    }
    auto family = std::make_unique<Family>();
    family->kind = kind;
    family->help = std::string(help);
    if (bounds != nullptr) family->bounds = *bounds;
    return *families_.emplace(key, std::move(family)).first->second;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help,
                                  MetricLabels labels) {
    check_metric_name(name);
    labels = normalise_labels(name, std::move(labels), /*histogram=*/false);
    const std::lock_guard lock(mutex_);
    Family& family = family_for(name, help, Kind::kCounter, nullptr);
    auto& slot = family.counters[std::move(labels)];
    if (!slot) slot = std::make_unique<Counter>();
    return *slot;
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, MetricLabels labels) {
    check_metric_name(name);
    labels = normalise_labels(name, std::move(labels), /*histogram=*/false);
    const std::lock_guard lock(mutex_);
    Family& family = family_for(name, help, Kind::kGauge, nullptr);
    auto& slot = family.gauges[std::move(labels)];
    if (!slot) slot = std::make_unique<Gauge>();
    return *slot;
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                      std::vector<double> bounds, MetricLabels labels) {
    check_metric_name(name);
    labels = normalise_labels(name, std::move(labels), /*histogram=*/true);
    // Validates and normalises the bounds (a trailing +Inf dropped) before comparing them
    // with an existing family's.
    auto candidate = std::make_unique<Histogram>(std::move(bounds));
    const std::lock_guard lock(mutex_);
    Family& family = family_for(name, help, Kind::kHistogram, &candidate->bounds());
    auto& slot = family.histograms[std::move(labels)];
    if (!slot) slot = std::move(candidate);
    return *slot;
}

std::string MetricsRegistry::render_prometheus() const {
    static constexpr std::array<std::string_view, 3> kTypeNames{"counter", "gauge", "histogram"};
    const std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [name, family] : families_) {
        if (!family->help.empty()) {
            out += "# HELP " + name + " " + escape_help(family->help) + "\n";
        }
        out += "# TYPE " + name + " " +
               std::string(kTypeNames[static_cast<std::size_t>(family->kind)]) + "\n";
        for (const auto& [labels, counter] : family->counters) {
            out += name + render_labels(labels) + " " + format_value(counter->value()) + "\n";
        }
        for (const auto& [labels, gauge] : family->gauges) {
            out += name + render_labels(labels) + " " + format_value(gauge->value()) + "\n";
        }
        for (const auto& [labels, histogram] : family->histograms) {
            const Histogram::Snapshot s = histogram->snapshot();
            const auto& bounds = histogram->bounds();
            for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
                const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
                out += name + "_bucket" + render_labels(labels, &le) + " " +
                       std::to_string(s.cumulative[i]) + "\n";
            }
            out += name + "_sum" + render_labels(labels) + " " + format_value(s.sum) + "\n";
            out += name + "_count" + render_labels(labels) + " " + std::to_string(s.count) + "\n";
        }
    }
    return out;
}

}  // namespace digitpipe::framework
