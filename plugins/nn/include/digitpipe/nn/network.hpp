// The digitpipe network engine: a sequential CNN built from a NetworkSpec on oneDNN 2.6
// primitives, with forward and backward passes for training and a forward pass for inference.
// The train stage drives it step by step (with optimizer.hpp and schedule.hpp); the evaluate and
// infer stages call predict(). Primitives, memory and reorders are made once per (batch size,
// mode) and reused; activations stay in the layouts oneDNN prefers (format_tag::any), with
// reorders only at the edges (user src, logits, parameters in plain layouts).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "digitpipe/nn/spec.hpp"

namespace digitpipe::nn {

// Compute precision. kBf16 runs activations and weights in bfloat16 on oneDNN's bf16 kernels
// while parameters, gradients, batch-norm statistics and the loss stay fp32 (master weights).
enum class Precision { kFp32, kBf16 };

// Memory layout of activations between layers. Convolutions fix it; batch norm, pooling,
// ReLU and dropout follow. Measured on Zen 4 (2 threads, seed A, batch 128, bf16): channels-last
// trains at 2,820-2,930 images/s against 2,910-3,060 blocked; its brgemm forward convolutions
// are faster alone, but batch norm and pooling lose more. fp32 convolutions are slower
// channels-last too. Hence blocked by default; measure again on other CPUs.
enum class ActivationLayout {
    kBlocked,       // whatever oneDNN picks (format_tag::any: nChw16c and friends)
    kChannelsLast,  // N x H x W x C (nhwc)
};

enum class Mode {
    kTrain,  // batch statistics in batch norm, dropout active, backward possible
    kInfer,  // running statistics in batch norm, dropout is the identity
};

struct NetworkOptions {
    Precision precision = Precision::kFp32;
    // Seeds parameter initialisation and dropout masks. Same seed, spec, precision, CPU ISA and
    // thread count give the same run: oneDNN's kernels are deterministic for a fixed thread
    // count, and dropout masks do not depend on threads. Not reproducible across those: a
    // different thread count or ISA changes float rounding in oneDNN reductions (batch-norm
    // statistics, weight gradients), and masks index the activation's physical layout, which
    // oneDNN picks per ISA and precision. Initial parameters depend on the seed alone.
    std::uint64_t seed = 0;
    // Runs a batch_norm followed by relu as one oneDNN batch normalisation with fused ReLU
    // (saves a pass over the activation each way). Results equal the unfused layers.
    bool fuse_batch_norm_relu = true;
    ActivationLayout layout = ActivationLayout::kBlocked;
    // Computes diff_src of the network input in backward() (tests and saliency maps need it;
    // training does not, and skipping it skips the first convolution's backward-data pass).
    bool compute_diff_src = false;
    // Times every layer's forward and backward pass (timings()); adds a clock read per layer.
    bool profile = false;
};

// Accumulated wall time of one layer since the last reset_timings() (profile option).
struct LayerTiming {
    std::string name;  // "<layer name> (<kind>)"
    double forward_ms = 0.0;
    double backward_ms = 0.0;
};

// One tensor of learnable parameters or running statistics, with its fp32 master copy.
// Layouts are plain row-major: conv weights O x I x KH x KW, dense weights O x I (I in the
// C, H, W order of the flattened src), biases and batch-norm vectors C.
// Invariant: value.size() == grad.size() == product(dims); the vectors never reallocate
// (layers keep pointers into them), so resize neither.
// Whoever writes value must call mark_updated(), so layers refresh their converted copies.
struct Parameter {
    std::string name;                // "<layer name>.<role>", role one of weights, bias, scale,
                                     // shift, running_mean, running_var
    std::vector<std::int64_t> dims;  // logical dims
    std::vector<float> value;
    std::vector<float> grad;    // d loss / d value of the last backward(); zero for stats
    bool trainable = true;      // false for running statistics (updated by the layer)
    bool decays = false;        // weight decay applies (weights, not biases or BN vectors)
    std::uint64_t version = 0;  // bumped by mark_updated()

    void mark_updated() noexcept { ++version; }
};

// Mean loss and the number of correct argmax predictions of one batch.
struct StepResult {
    float loss = 0.0F;
    std::int64_t correct = 0;
};

// A sequential network on the CPU engine.
// Thread-safety: none; use one Network from one thread at a time. oneDNN parallelises each
// primitive with OpenMP (OMP_NUM_THREADS threads).
// Ownership: owns its parameters, primitives and buffers; spans it returns stay valid until
// the next call of a non-const member.
class Network {
public:
    // Builds the network and initialises parameters from options.seed.
    // throws: SpecError for a spec that shape inference refuses; dnnl::error when oneDNN
    //         cannot create a primitive (e.g. bf16 on a CPU without AVX-512).
    Network(NetworkSpec spec, NetworkOptions options);
    ~Network();
    Network(Network&&) noexcept;
    Network& operator=(Network&&) noexcept;
    Network(const Network&) = delete;
    Network& operator=(const Network&) = delete;

    const NetworkSpec& spec() const noexcept;
    const NetworkOptions& options() const noexcept;

    // Elements of one image's input (C * H * W) and of one image's output (the last dst).
    std::int64_t input_size() const noexcept;
    std::int64_t output_size() const noexcept;

    // Every parameter tensor, trainable ones and running statistics, in layer order.
    // Addresses are stable for the network's lifetime.
    std::vector<Parameter>& parameters() noexcept;
    const std::vector<Parameter>& parameters() const noexcept;
    // Pointers to the trainable parameters (what an optimizer updates).
    std::vector<Parameter*> trainable_parameters();
    // Number of scalars, counting running statistics as Keras' summary does unless
    // trainable_only.
    std::int64_t parameter_count(bool trainable_only = false) const noexcept;

    // Runs the network on a batch.
    // requires: src holds N images, N x C x H x W fp32 row-major, N >= 1.
    // returns: the last layer's dst, N x output_size() fp32 row-major.
    // In kTrain mode, advances the dropout stream and updates batch-norm running statistics.
    // The first call for a new (N, mode) builds its primitives and buffers; later calls reuse
    // them, and they live as long as the network (a handful of batch sizes is the intent).
    std::span<const float> forward(std::span<const float> src, Mode mode);

    // Backpropagates diff_dst through the batch of the last forward(src, kTrain).
    // requires: the last forward() was in kTrain mode; diff_dst has N x output_size() values.
    // ensures: every trainable Parameter::grad holds d loss / d value (overwritten).
    void backward(std::span<const float> diff_dst);

    // d loss / d src of the last backward(), N x C x H x W fp32.
    // requires: options().compute_diff_src and a backward() ran.
    std::span<const float> diff_src() const;

    // forward(src, kTrain), softmax cross-entropy against labels, backward(). Does not update
    // parameters (the optimizer does).
    // requires: the last layer's dst is N x classes and labels holds N values in [0, classes).
    // throws: std::invalid_argument for a label out of range, a size mismatch, or a network
    //         whose last dst is not 2-D.
    StepResult train_step(std::span<const float> src, std::span<const std::int32_t> labels);

    // Logits of a batch in inference mode (forward(src, kInfer)).
    std::span<const float> predict(std::span<const float> src) {
        return forward(src, Mode::kInfer);
    }

    // Per-layer times, in layer order; all zero unless options().profile.
    std::vector<LayerTiming> timings() const;
    void reset_timings() noexcept;

    // Training steps run so far; the dropout stream of step s is a function of (seed, s).
    // Set it when resuming from a checkpoint to continue the same stream.
    std::uint64_t step_count() const noexcept;
    void set_step_count(std::uint64_t steps) noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace digitpipe::nn
