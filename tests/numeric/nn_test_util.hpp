// Helpers for the numeric tests of the network engine (plugins/nn): naive loop references of
// every layer, seeded test data, one-layer networks, and a central-finite-difference checker
// that compares a network's backward pass (diff_src and parameter gradients) with the slope of
// L = sum(dst .* r) for a fixed random r.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "digitpipe/nn/network.hpp"
#include "digitpipe/nn/random.hpp"
#include "digitpipe/nn/spec.hpp"

namespace digitpipe::nn::testing {

// Uniform values in [lo, hi) from a fixed Philox stream: same data on every run and machine.
inline std::vector<float> random_values(std::size_t n, std::uint64_t seed, float lo = -1.0F,
                                        float hi = 1.0F) {
    std::vector<float> out(n);
    generate_uniform(seed, /*stream=*/0, out);
    for (float& v : out) {
        v = lo + (hi - lo) * v;
    }
    return out;
}

// Values in [-1, 1) pushed at least `gap` away from 0 (no ReLU kink within a finite-difference
// step).
inline std::vector<float> values_away_from_zero(std::size_t n, std::uint64_t seed, float gap) {
    std::vector<float> out = random_values(n, seed);
    for (float& v : out) {
        v = v >= 0.0F ? v + gap : v - gap;
    }
    return out;
}

// A permutation of {0, step, 2 step, ...} centred on 0: distinct values spaced `step` apart,
// so no max-pooling window has a near-tie.
inline std::vector<float> distinct_values(std::size_t n, std::uint64_t seed, float step) {
    std::vector<float> keys = random_values(n, seed);
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) {
        order[i] = i;
    }
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
    std::vector<float> out(n);
    for (std::size_t rank = 0; rank < n; ++rank) {
        out[order[rank]] = step * (static_cast<float>(rank) - static_cast<float>(n) / 2.0F);
    }
    return out;
}

inline NetworkSpec single_layer(std::vector<std::int64_t> input, LayerParams params) {
    NetworkSpec spec;
    spec.name = "test";
    spec.input = std::move(input);
    spec.layers.push_back({"", std::move(params)});
    return spec;
}

// Overwrites every trainable parameter with seeded values in [lo, hi).
inline void randomise_parameters(Network& net, std::uint64_t seed, float lo = -0.5F,
                                 float hi = 0.5F) {
    std::uint64_t salt = 0;
    for (Parameter& p : net.parameters()) {
        if (!p.trainable) {
            continue;
        }
        const std::vector<float> values = random_values(p.value.size(), seed + salt++, lo, hi);
        std::copy(values.begin(), values.end(), p.value.begin());
        p.mark_updated();
    }
}

inline Parameter& find_parameter(Network& net, const std::string& suffix) {
    for (Parameter& p : net.parameters()) {
        if (p.name.size() >= suffix.size() &&
            p.name.compare(p.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            return p;
        }
    }
    throw std::invalid_argument("no parameter ending in " + suffix);
}

// Asserts every element of actual is within abs_tol + rel_tol * |expected| of expected.
inline void expect_all_near(std::span<const float> actual, std::span<const float> expected,
                            double abs_tol, double rel_tol, const std::string& what) {
    ASSERT_EQ(actual.size(), expected.size()) << what;
    int reported = 0;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const double a = actual[i];
        const double e = expected[i];
        if (!(std::abs(a - e) <= abs_tol + rel_tol * std::abs(e)) && reported++ < 5) {
            ADD_FAILURE() << what << "[" << i << "]: got " << a << ", expected " << e;
        }
    }
}

// --- finite differences ------------------------------------------------------------------

struct GradientTolerance {
    double step;     // central-difference step h
    double abs_tol;  // |fd - analytic| <= abs_tol + rel_tol * max(|fd|, |analytic|)
    double rel_tol;
};

inline double weighted_sum(std::span<const float> dst, const std::vector<float>& weights) {
    double sum = 0.0;
    for (std::size_t i = 0; i < dst.size(); ++i) {
        sum += static_cast<double>(dst[i]) * weights[i];
    }
    return sum;
}

inline void compare_gradient(double fd, double analytic, const GradientTolerance& tol,
                             const std::string& what, int& reported) {
    const double bound = tol.abs_tol + tol.rel_tol * std::max(std::abs(fd), std::abs(analytic));
    if (!(std::abs(fd - analytic) <= bound) && reported++ < 8) {
        ADD_FAILURE() << what << ": finite difference " << fd << ", backward " << analytic;
    }
}

// Checks diff_src (when the network computes it) and every trainable parameter's gradient
// against central differences of L = sum(dst .* r). Every forward uses the same dropout step,
// so dropout masks stay fixed; batch norm runs on batch statistics throughout.
// requires: net built with compute_diff_src if check_src.
inline void expect_gradients_match_finite_differences(Network& net, std::vector<float> src,
                                                      const GradientTolerance& tol,
                                                      bool check_src = true,
                                                      std::uint64_t seed = 99) {
    constexpr std::uint64_t kStep = 5;
    auto loss = [&] {
        net.set_step_count(kStep);
        return net.forward(src, Mode::kTrain);
    };
    const std::span<const float> dst = loss();
    const std::vector<float> r = random_values(dst.size(), seed);
    net.backward(r);
    std::vector<float> analytic_src;
    if (check_src) {
        const std::span<const float> d = net.diff_src();
        analytic_src.assign(d.begin(), d.end());
    }
    std::vector<std::vector<float>> analytic_params;
    for (const Parameter& p : net.parameters()) {
        analytic_params.push_back(p.grad);
    }
    int reported = 0;
    auto central = [&](float& x, auto&& touch) {
        const float saved = x;
        x = static_cast<float>(saved + tol.step);
        touch();
        const double plus = weighted_sum(loss(), r);
        x = static_cast<float>(saved - tol.step);
        touch();
        const double minus = weighted_sum(loss(), r);
        x = saved;
        touch();
        // Divide by the step actually taken after rounding to float.
        return (plus - minus) / (static_cast<double>(static_cast<float>(saved + tol.step)) -
                                 static_cast<double>(static_cast<float>(saved - tol.step)));
    };
    if (check_src) {
        for (std::size_t i = 0; i < src.size(); ++i) {
            const double fd = central(src[i], [] {});
            compare_gradient(fd, analytic_src[i], tol, "diff_src[" + std::to_string(i) + "]",
                             reported);
        }
    }
    std::vector<Parameter>& params = net.parameters();
    for (std::size_t k = 0; k < params.size(); ++k) {
        Parameter& p = params[k];
        if (!p.trainable) {
            continue;
        }
        for (std::size_t i = 0; i < p.value.size(); ++i) {
            const double fd = central(p.value[i], [&] { p.mark_updated(); });
            compare_gradient(fd, analytic_params[k][i], tol,
                             p.name + ".grad[" + std::to_string(i) + "]", reported);
        }
    }
}

// --- naive references (NCHW, row-major, fp32 inputs, double accumulation) --------------

struct Dims4 {
    std::int64_t n, c, h, w;
    std::size_t at(std::int64_t in, std::int64_t ic, std::int64_t ih, std::int64_t iw) const {
        return static_cast<std::size_t>(((in * c + ic) * h + ih) * w + iw);
    }
    std::size_t size() const { return static_cast<std::size_t>(n * c * h * w); }
};

inline std::vector<float> reference_conv(const std::vector<float>& src, Dims4 s,
                                         const std::vector<float>& weights,
                                         const std::vector<float>& bias, std::int64_t filters,
                                         std::int64_t k, std::int64_t stride, std::int64_t pad_l,
                                         Dims4 d) {
    std::vector<float> dst(d.size());
    for (std::int64_t n = 0; n < d.n; ++n) {
        for (std::int64_t f = 0; f < filters; ++f) {
            for (std::int64_t oh = 0; oh < d.h; ++oh) {
                for (std::int64_t ow = 0; ow < d.w; ++ow) {
                    double acc = bias.empty() ? 0.0 : bias[static_cast<std::size_t>(f)];
                    for (std::int64_t c = 0; c < s.c; ++c) {
                        for (std::int64_t kh = 0; kh < k; ++kh) {
                            for (std::int64_t kw = 0; kw < k; ++kw) {
                                const std::int64_t ih = oh * stride - pad_l + kh;
                                const std::int64_t iw = ow * stride - pad_l + kw;
                                if (ih < 0 || iw < 0 || ih >= s.h || iw >= s.w) {
                                    continue;
                                }
                                const auto wi =
                                    static_cast<std::size_t>(((f * s.c + c) * k + kh) * k + kw);
                                acc += static_cast<double>(weights[wi]) * src[s.at(n, c, ih, iw)];
                            }
                        }
                    }
                    dst[d.at(n, f, oh, ow)] = static_cast<float>(acc);
                }
            }
        }
    }
    return dst;
}

// Batch norm with given per-channel mean and variance (batch or running statistics).
inline std::vector<float> reference_batch_norm(const std::vector<float>& src, Dims4 s,
                                               const std::vector<double>& mean,
                                               const std::vector<double>& var,
                                               const std::vector<float>& scale,
                                               const std::vector<float>& shift, double eps) {
    std::vector<float> dst(src.size());
    for (std::int64_t n = 0; n < s.n; ++n) {
        for (std::int64_t c = 0; c < s.c; ++c) {
            const auto ci = static_cast<std::size_t>(c);
            for (std::int64_t h = 0; h < s.h; ++h) {
                for (std::int64_t w = 0; w < s.w; ++w) {
                    const std::size_t i = s.at(n, c, h, w);
                    dst[i] = static_cast<float>(
                        scale[ci] * (src[i] - mean[ci]) / std::sqrt(var[ci] + eps) + shift[ci]);
                }
            }
        }
    }
    return dst;
}

// Per-channel batch mean and biased variance.
inline void reference_batch_stats(const std::vector<float>& src, Dims4 s, std::vector<double>& mean,
                                  std::vector<double>& var) {
    mean.assign(static_cast<std::size_t>(s.c), 0.0);
    var.assign(static_cast<std::size_t>(s.c), 0.0);
    const double count = static_cast<double>(s.n * s.h * s.w);
    for (std::int64_t c = 0; c < s.c; ++c) {
        const auto ci = static_cast<std::size_t>(c);
        for (std::int64_t n = 0; n < s.n; ++n) {
            for (std::int64_t h = 0; h < s.h; ++h) {
                for (std::int64_t w = 0; w < s.w; ++w) {
                    mean[ci] += src[s.at(n, c, h, w)];
                }
            }
        }
        mean[ci] /= count;
        for (std::int64_t n = 0; n < s.n; ++n) {
            for (std::int64_t h = 0; h < s.h; ++h) {
                for (std::int64_t w = 0; w < s.w; ++w) {
                    const double d = src[s.at(n, c, h, w)] - mean[ci];
                    var[ci] += d * d;
                }
            }
        }
        var[ci] /= count;
    }
}

inline std::vector<float> reference_max_pool(const std::vector<float>& src, Dims4 s, std::int64_t k,
                                             std::int64_t stride, Dims4 d) {
    std::vector<float> dst(d.size());
    for (std::int64_t n = 0; n < d.n; ++n) {
        for (std::int64_t c = 0; c < d.c; ++c) {
            for (std::int64_t oh = 0; oh < d.h; ++oh) {
                for (std::int64_t ow = 0; ow < d.w; ++ow) {
                    float best = -std::numeric_limits<float>::infinity();
                    for (std::int64_t kh = 0; kh < k; ++kh) {
                        for (std::int64_t kw = 0; kw < k; ++kw) {
                            best =
                                std::max(best, src[s.at(n, c, oh * stride + kh, ow * stride + kw)]);
                        }
                    }
                    dst[d.at(n, c, oh, ow)] = best;
                }
            }
        }
    }
    return dst;
}

inline std::vector<float> reference_global_avg_pool(const std::vector<float>& src, Dims4 s) {
    std::vector<float> dst(static_cast<std::size_t>(s.n * s.c));
    for (std::int64_t n = 0; n < s.n; ++n) {
        for (std::int64_t c = 0; c < s.c; ++c) {
            double acc = 0.0;
            for (std::int64_t h = 0; h < s.h; ++h) {
                for (std::int64_t w = 0; w < s.w; ++w) {
                    acc += src[s.at(n, c, h, w)];
                }
            }
            dst[static_cast<std::size_t>(n * s.c + c)] =
                static_cast<float>(acc / static_cast<double>(s.h * s.w));
        }
    }
    return dst;
}

// dst[n][o] = bias[o] + sum_k weights[o][k] src[n][k].
inline std::vector<float> reference_dense(const std::vector<float>& src, std::int64_t batch,
                                          std::int64_t in, const std::vector<float>& weights,
                                          const std::vector<float>& bias, std::int64_t out) {
    std::vector<float> dst(static_cast<std::size_t>(batch * out));
    for (std::int64_t n = 0; n < batch; ++n) {
        for (std::int64_t o = 0; o < out; ++o) {
            double acc = bias.empty() ? 0.0 : bias[static_cast<std::size_t>(o)];
            for (std::int64_t k = 0; k < in; ++k) {
                acc += static_cast<double>(weights[static_cast<std::size_t>(o * in + k)]) *
                       src[static_cast<std::size_t>(n * in + k)];
            }
            dst[static_cast<std::size_t>(n * out + o)] = static_cast<float>(acc);
        }
    }
    return dst;
}

}  // namespace digitpipe::nn::testing
