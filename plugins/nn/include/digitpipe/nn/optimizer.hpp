// Optimizers of the digitpipe engine: SGD with (Nesterov) momentum and Adam/AdamW, updating
// a network's fp32 master parameters from the gradients of the last backward pass. The train
// stage calls step() once per batch with the learning rate its schedule (schedule.hpp) gives.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "digitpipe/nn/network.hpp"

namespace digitpipe::nn {

// A buffer of optimizer state for checkpoints: "<parameter name>.<slot>" and its values.
struct OptimizerSlot {
    std::string name;
    std::span<float> values;
};

// Base of the optimizers.
// Thread-safety: none; one thread, between backward passes.
// Ownership: does not own the parameters; they must outlive the optimizer (normally the
// Network's, from Network::trainable_parameters()).
class Optimizer {
public:
    virtual ~Optimizer() = default;

    // Applies one update with learning rate lr to every parameter from its grad, then marks it
    // updated. requires: lr >= 0 and a backward() filled the grads.
    virtual void step(float lr) = 0;

    // State buffers (momenta) to save in a checkpoint and write back on resume.
    virtual std::vector<OptimizerSlot> slots() = 0;

    // Updates applied so far (Adam's bias correction depends on it); settable for resume.
    std::int64_t steps() const noexcept { return steps_; }
    void set_steps(std::int64_t steps) noexcept { steps_ = steps; }

protected:
    std::int64_t steps_ = 0;
};

struct SgdOptions {
    float momentum = 0.9F;  // 0 gives plain SGD
    bool nesterov = false;
    float weight_decay = 0.0F;  // L2: adds weight_decay * w to the gradient of decaying params
};

// SGD with momentum in PyTorch's form: v = momentum * v + g; w -= lr * v, or with Nesterov
// w -= lr * (g + momentum * v); g includes the L2 term.
class Sgd final : public Optimizer {
public:
    // throws: std::invalid_argument for momentum outside [0, 1) or weight_decay < 0.
    Sgd(std::vector<Parameter*> params, SgdOptions options);
    void step(float lr) override;
    std::vector<OptimizerSlot> slots() override;

private:
    std::vector<Parameter*> params_;
    SgdOptions options_;
    std::vector<std::vector<float>> velocity_;
};

struct AdamOptions {
    float beta1 = 0.9F;
    float beta2 = 0.999F;
    float epsilon = 1e-7F;  // Keras' default (the seeds are Keras); PyTorch uses 1e-8
    float weight_decay = 0.0F;
    // true: AdamW, w -= lr * weight_decay * w apart from the adaptive step (Loshchilov &
    // Hutter); false: L2, weight_decay * w added to the gradient before the moments.
    bool decoupled_weight_decay = true;
};

// Adam with bias correction: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + epsilon).
class Adam final : public Optimizer {
public:
    // throws: std::invalid_argument for betas outside [0, 1), epsilon <= 0, weight_decay < 0.
    Adam(std::vector<Parameter*> params, AdamOptions options);
    void step(float lr) override;
    std::vector<OptimizerSlot> slots() override;

private:
    std::vector<Parameter*> params_;
    AdamOptions options_;
    std::vector<std::vector<float>> m_;
    std::vector<std::vector<float>> v_;
};

}  // namespace digitpipe::nn
