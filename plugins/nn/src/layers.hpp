// Internal to digitpipe_nn: the layer objects a Network plan chains, and the small oneDNN
// helpers they share (one-time reorders, parameter views, the shared scratchpad).
//
// Memory contract between neighbouring layers, which lets the plan chain them without
// reorders of its own: a layer reads its src memory and writes diff_src in exactly the
// layout it was given (the previous layer's dst and diff_dst), and its diff_dst has exactly
// the layout of its dst. Layers that prefer other layouts (convolution, inner product pick
// theirs with format_tag::any) reorder inside, and only when the layouts differ.
#pragma once

#include <bit>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "digitpipe/nn/network.hpp"
#include "digitpipe/nn/spec.hpp"

namespace digitpipe::nn::detail {

using Args = std::unordered_map<int, dnnl::memory>;

// Plain row-major descriptor (a, ab, abcd) for dims.
dnnl::memory::desc plain_md(const dnnl::memory::dims& dims, dnnl::memory::data_type type);

// A reorder created once between two fixed memories; run() is a no-op when none was needed.
class Reorder {
public:
    Reorder() = default;
    Reorder(const dnnl::memory& src, const dnnl::memory& dst);
    void run(dnnl::stream& stream) const;
    bool empty() const noexcept { return !prim_.has_value(); }

private:
    std::optional<dnnl::reorder> prim_;
    Args args_;
};

// Returns `have` when it already has layout `want`; else a new memory of layout `want` and
// sets `reorder` to fill it from `have`.
dnnl::memory view_as(const dnnl::engine& engine, const dnnl::memory& have,
                     const dnnl::memory::desc& want, Reorder& reorder);

// Returns `target` when it already has layout `produced`; else a new memory of layout
// `produced` (for a primitive to write) and sets `reorder` to copy it into `target`.
dnnl::memory produce_into(const dnnl::engine& engine, const dnnl::memory::desc& produced,
                          const dnnl::memory& target, Reorder& reorder);

// A parameter's fp32 master values seen in the layout (and data type) a primitive wants;
// refresh() converts again only when the parameter's version changed.
class ParamView {
public:
    ParamView() = default;
    ParamView(const dnnl::engine& engine, Parameter& param, const dnnl::memory::desc& master_md,
              const dnnl::memory::desc& want);
    void refresh(dnnl::stream& stream);
    const dnnl::memory& mem() const noexcept { return mem_; }

private:
    Parameter* param_ = nullptr;
    dnnl::memory master_;
    dnnl::memory mem_;
    Reorder reorder_;
    std::optional<std::uint64_t> seen_version_;
};

// One scratchpad buffer shared by every primitive of a plan (they run one at a time), so
// primitives allocate nothing per execution.
class Scratchpad {
public:
    explicit Scratchpad(dnnl::engine engine) : engine_(std::move(engine)) {}
    // Adds DNNL_ARG_SCRATCHPAD to args when pd needs one; the buffer is bound by allocate().
    void attach(const dnnl::primitive_desc_base& pd, Args& args);
    // requires: every attach() done. Allocates the largest request once.
    void allocate();

private:
    dnnl::engine engine_;
    std::vector<dnnl::memory> users_;
    std::size_t size_ = 0;
    std::unique_ptr<std::byte, void (*)(void*)> buffer_{nullptr, nullptr};
};

// What a layer needs to build itself inside a plan.
struct LayerContext {
    dnnl::engine engine;
    Scratchpad* scratchpad = nullptr;
    dnnl::primitive_attr attr;            // user scratchpad mode
    dnnl::memory::data_type data_type{};  // of activations and their diffs
    bool training = false;
    bool need_diff_src = false;           // a diff_src memory was given and must be written
    bool channels_last = false;           // convolutions use nhwc activations, not format any
    const std::uint64_t* step = nullptr;  // the network's training-step counter
    std::uint64_t seed = 0;
    std::size_t index = 0;  // layer index in the spec
};

// One layer of a plan. forward() reads the src memory given at construction and writes
// dst(); backward() reads diff_dst() (written by the next layer) and writes the diff_src
// memory given at construction, plus parameter gradients.
// Thread-safety: none; owned by one plan.
class Layer {
public:
    virtual ~Layer() = default;
    virtual void forward(dnnl::stream& stream) = 0;
    virtual void backward(dnnl::stream& stream) = 0;
    const dnnl::memory& dst() const noexcept { return dst_; }
    const dnnl::memory& diff_dst() const noexcept { return diff_dst_; }

protected:
    dnnl::memory dst_;
    dnnl::memory diff_dst_;
};

// Builds layer ctx.index. params are its parameters in the order Network creates them
// (weights, bias; or scale, shift, running_mean, running_var). fuse_relu asks a batch_norm to
// apply ReLU too; as_identity makes any layer pass src through (a ReLU fused into the
// preceding batch norm).
std::unique_ptr<Layer> make_layer(const LayerSpec& spec, const LayerContext& ctx,
                                  const dnnl::memory& src, const dnnl::memory& diff_src,
                                  std::span<Parameter* const> params, bool fuse_relu,
                                  bool as_identity);

// bf16 <-> fp32 for host-side kernels: bf16 is the top half of an fp32; rounding to nearest
// even as oneDNN does.
inline float bf16_to_float(std::uint16_t bits) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}
inline std::uint16_t float_to_bf16(float value) noexcept {
    std::uint32_t u = std::bit_cast<std::uint32_t>(value);
    u += 0x7FFFU + ((u >> 16) & 1U);
    return static_cast<std::uint16_t>(u >> 16);
}

}  // namespace digitpipe::nn::detail
