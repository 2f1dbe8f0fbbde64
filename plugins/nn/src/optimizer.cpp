// SGD (momentum, Nesterov) and Adam/AdamW updates on fp32 master parameters. The loops are
// plain elementwise code that GCC vectorises; 176 k parameters take well under a millisecond.
#include "digitpipe/nn/optimizer.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace digitpipe::nn {
namespace {

void require(bool ok, const std::string& message) {
    if (!ok) {
        throw std::invalid_argument(message);
    }
}

std::vector<std::vector<float>> zeros_like(const std::vector<Parameter*>& params) {
    std::vector<std::vector<float>> out;
    out.reserve(params.size());
    for (const Parameter* p : params) {
        out.emplace_back(p->value.size(), 0.0F);
    }
    return out;
}

}  // namespace

Sgd::Sgd(std::vector<Parameter*> params, SgdOptions options)
    : params_(std::move(params)), options_(options) {
    require(options.momentum >= 0.0F && options.momentum < 1.0F,
            "Sgd: momentum must be in [0, 1), got " + std::to_string(options.momentum));
    require(options.weight_decay >= 0.0F,
            "Sgd: weight_decay must be >= 0, got " + std::to_string(options.weight_decay));
    velocity_ = zeros_like(params_);
}

void Sgd::step(float lr) {
    const float mu = options_.momentum;
    for (std::size_t k = 0; k < params_.size(); ++k) {
        Parameter& p = *params_[k];
        const float decay = p.decays ? options_.weight_decay : 0.0F;
        float* w = p.value.data();
        const float* g = p.grad.data();
        float* v = velocity_[k].data();
        const std::size_t n = p.value.size();
        for (std::size_t i = 0; i < n; ++i) {
            const float grad = g[i] + decay * w[i];
            v[i] = mu * v[i] + grad;
            w[i] -= lr * (options_.nesterov ? grad + mu * v[i] : v[i]);
        }
        p.mark_updated();
    }
    ++steps_;
}

std::vector<OptimizerSlot> Sgd::slots() {
    std::vector<OptimizerSlot> out;
    for (std::size_t k = 0; k < params_.size(); ++k) {
        out.push_back({params_[k]->name + ".velocity", velocity_[k]});
    }
    return out;
}

Adam::Adam(std::vector<Parameter*> params, AdamOptions options)
    : params_(std::move(params)), options_(options) {
    require(options.beta1 >= 0.0F && options.beta1 < 1.0F,
            "Adam: beta1 must be in [0, 1), got " + std::to_string(options.beta1));
    require(options.beta2 >= 0.0F && options.beta2 < 1.0F,
            "Adam: beta2 must be in [0, 1), got " + std::to_string(options.beta2));
    require(options.epsilon > 0.0F,
            "Adam: epsilon must be > 0, got " + std::to_string(options.epsilon));
    require(options.weight_decay >= 0.0F,
            "Adam: weight_decay must be >= 0, got " + std::to_string(options.weight_decay));
    m_ = zeros_like(params_);
    v_ = zeros_like(params_);
}

void Adam::step(float lr) {
    ++steps_;
    const float b1 = options_.beta1;
    const float b2 = options_.beta2;
    // Bias corrections in double: b^t for large t underflows gracefully to 0 either way, but
    // double keeps 1 - b2^t accurate over the first thousands of steps.
    const auto t = static_cast<double>(steps_);
    const auto correction1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), t));
    const auto correction2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), t));
    const float step_size = lr / correction1;
    const float inv_sqrt_c2 = 1.0F / std::sqrt(correction2);
    const float eps = options_.epsilon;
    for (std::size_t k = 0; k < params_.size(); ++k) {
        Parameter& p = *params_[k];
        const float decay = p.decays ? options_.weight_decay : 0.0F;
        const float l2 = options_.decoupled_weight_decay ? 0.0F : decay;
        const float shrink = options_.decoupled_weight_decay ? 1.0F - lr * decay : 1.0F;
        float* w = p.value.data();
        const float* g = p.grad.data();
        float* m = m_[k].data();
        float* v = v_[k].data();
        const std::size_t n = p.value.size();
        for (std::size_t i = 0; i < n; ++i) {
            const float grad = g[i] + l2 * w[i];
            m[i] = b1 * m[i] + (1.0F - b1) * grad;
            v[i] = b2 * v[i] + (1.0F - b2) * grad * grad;
            w[i] = shrink * w[i] - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
        }
        p.mark_updated();
    }
}

std::vector<OptimizerSlot> Adam::slots() {
    std::vector<OptimizerSlot> out;
    for (std::size_t k = 0; k < params_.size(); ++k) {
        out.push_back({params_[k]->name + ".m", m_[k]});
        out.push_back({params_[k]->name + ".v", v_[k]});
    }
    return out;
}

}  // namespace digitpipe::nn
