// Network: parameters created and initialised once from the spec, and per (batch size, mode)
// a plan of layers whose primitives, buffers and reorders are built on first use and reused
// by every later call, so a training step allocates nothing.
#include "digitpipe/nn/network.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>
#include <utility>

#include "digitpipe/nn/loss.hpp"
#include "digitpipe/nn/random.hpp"
#include "layers.hpp"

namespace digitpipe::nn {
namespace {

using detail::plain_md;
using dnnl::memory;

// Salt that separates parameter-initialisation keys from dropout keys drawn from one seed.
constexpr std::uint64_t kInitSalt = 0x1417'0000'0000'0000ULL;

std::int64_t product(const std::vector<std::int64_t>& dims, std::size_t first = 0) {
    std::int64_t p = 1;
    for (std::size_t i = first; i < dims.size(); ++i) {
        p *= dims[i];
    }
    return p;
}

// Fills weights of a layer with fan_in / fan_out per `init`.
void initialise(Parameter& p, Init init, std::int64_t fan_in, std::int64_t fan_out,
                std::uint64_t key) {
    const auto in = static_cast<double>(fan_in);
    const auto out = static_cast<double>(fan_out);
    switch (init) {
        case Init::kHeNormal: {
            generate_normal(key, 0, p.value);
            const auto sd = static_cast<float>(std::sqrt(2.0 / in));
            for (float& v : p.value) {
                v *= sd;
            }
            return;
        }
        case Init::kHeUniform:
        case Init::kGlorotUniform: {
            const double limit =
                init == Init::kHeUniform ? std::sqrt(6.0 / in) : std::sqrt(6.0 / (in + out));
            generate_uniform(key, 0, p.value);
            for (float& v : p.value) {
                v = static_cast<float>((2.0 * v - 1.0) * limit);
            }
            return;
        }
    }
}

}  // namespace

// Everything built for one (batch size, mode).
struct Plan {
    explicit Plan(const dnnl::engine& engine) : scratchpad(engine) {}

    std::int64_t batch = 0;
    bool training = false;
    detail::Scratchpad scratchpad;
    memory src;                   // network input, plain, compute data type (owned)
    memory user_src;              // the caller's fp32 batch (bf16 mode; handle rebound per call)
    detail::Reorder src_convert;  // user_src -> src (bf16 mode)
    memory diff_src;              // input gradient, plain, compute data type (optional)
    detail::Reorder diff_src_convert;
    std::vector<float> diff_src_f32;  // diff_src as fp32 (bf16 mode)
    std::vector<std::unique_ptr<detail::Layer>> layers;
    memory dst_f32;  // last dst, plain fp32 (a view of the last dst when possible)
    detail::Reorder dst_convert;
    memory diff_dst_f32;  // last diff_dst, plain fp32
    detail::Reorder diff_dst_convert;
};

struct Network::Impl {
    Impl(NetworkSpec s, NetworkOptions o)
        : spec(std::move(s)), options(o), engine(dnnl::engine::kind::cpu, 0), stream(engine) {}

    NetworkSpec spec;
    NetworkOptions options;
    std::vector<std::vector<std::int64_t>> shapes;  // for batch 1
    std::vector<Parameter> params;
    std::vector<std::vector<Parameter*>> layer_params;
    std::vector<bool> fuse_relu;    // layer i is a batch_norm that also applies ReLU
    std::vector<bool> as_identity;  // layer i is a relu fused into layer i - 1
    dnnl::engine engine;
    dnnl::stream stream;
    std::map<std::pair<std::int64_t, bool>, std::unique_ptr<Plan>> plans;
    Plan* last_train = nullptr;
    bool backward_done = false;
    std::uint64_t step = 0;
    std::vector<LayerTiming> timings;

    memory::data_type data_type() const {
        return options.precision == Precision::kBf16 ? memory::data_type::bf16
                                                     : memory::data_type::f32;
    }

    void create_parameters();
    Plan& plan_for(std::int64_t batch, bool training);
    std::unique_ptr<Plan> build_plan(std::int64_t batch, bool training);
};

void Network::Impl::create_parameters() {
    // Count first: layers keep pointers into params, so it must never reallocate.
    std::size_t count = 0;
    for (const LayerSpec& layer : spec.layers) {
        if (const auto* conv = std::get_if<Conv2dSpec>(&layer.params)) {
            count += conv->use_bias ? 2 : 1;
        } else if (const auto* dense = std::get_if<DenseSpec>(&layer.params)) {
            count += dense->use_bias ? 2 : 1;
        } else if (std::holds_alternative<BatchNormSpec>(layer.params)) {
            count += 4;
        }
    }
    params.reserve(count);
    layer_params.resize(spec.layers.size());
    auto add = [&](std::size_t layer, const std::string& role, std::vector<std::int64_t> dims,
                   bool trainable, bool decays, float fill) -> Parameter& {
        Parameter p;
        p.name = layer_name(spec, layer) + "." + role;
        const auto size = static_cast<std::size_t>(product(dims));
        p.dims = std::move(dims);
        p.value.assign(size, fill);
        p.grad.assign(size, 0.0F);
        p.trainable = trainable;
        p.decays = decays;
        params.push_back(std::move(p));
        layer_params[layer].push_back(&params.back());
        return params.back();
    };
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
        const std::vector<std::int64_t>& src = shapes[i];
        const std::uint64_t key = mix_seed(options.seed ^ kInitSalt, i);
        if (const auto* conv = std::get_if<Conv2dSpec>(&spec.layers[i].params)) {
            const std::int64_t window = conv->kernel_size * conv->kernel_size;
            Parameter& w =
                add(i, "weights", {conv->filters, src[1], conv->kernel_size, conv->kernel_size},
                    true, true, 0.0F);
            initialise(w, conv->init, src[1] * window, conv->filters * window, key);
            if (conv->use_bias) {
                add(i, "bias", {conv->filters}, true, false, 0.0F);
            }
        } else if (const auto* dense = std::get_if<DenseSpec>(&spec.layers[i].params)) {
            const std::int64_t fan_in = product(src, 1);
            Parameter& w = add(i, "weights", {dense->units, fan_in}, true, true, 0.0F);
            initialise(w, dense->init, fan_in, dense->units, key);
            if (dense->use_bias) {
                add(i, "bias", {dense->units}, true, false, 0.0F);
            }
        } else if (std::holds_alternative<BatchNormSpec>(spec.layers[i].params)) {
            add(i, "scale", {src[1]}, true, false, 1.0F);
            add(i, "shift", {src[1]}, true, false, 0.0F);
            add(i, "running_mean", {src[1]}, false, false, 0.0F);
            add(i, "running_var", {src[1]}, false, false, 1.0F);
        }
    }
}

std::unique_ptr<Plan> Network::Impl::build_plan(std::int64_t batch, bool training) {
    auto plan = std::make_unique<Plan>(engine);
    plan->batch = batch;
    plan->training = training;
    const memory::data_type type = data_type();
    const memory::dims input_dims{batch, spec.input[0], spec.input[1], spec.input[2]};
    const memory::desc input_f32_md = plain_md(input_dims, memory::data_type::f32);
    plan->src = memory(plain_md(input_dims, type), engine);
    if (type != memory::data_type::f32) {
        plan->user_src = memory(input_f32_md, engine, DNNL_MEMORY_NONE);
        plan->src_convert = detail::Reorder(plan->user_src, plan->src);
    }
    const bool input_diff = training && options.compute_diff_src;
    if (input_diff) {
        plan->diff_src = memory(plain_md(input_dims, type), engine);
        if (type != memory::data_type::f32) {
            plan->diff_src_f32.resize(static_cast<std::size_t>(product(input_dims)));
            plan->diff_src_convert = detail::Reorder(
                plan->diff_src, memory(input_f32_md, engine, plan->diff_src_f32.data()));
        }
    }

    detail::LayerContext ctx;
    ctx.engine = engine;
    ctx.scratchpad = &plan->scratchpad;
    // One user-owned scratchpad per plan instead of oneDNN's per-primitive ones.
    ctx.attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    ctx.data_type = type;
    ctx.channels_last = options.layout == ActivationLayout::kChannelsLast;
    ctx.training = training;
    ctx.step = &step;
    ctx.seed = options.seed;
    memory src = plan->src;
    memory diff_src = plan->diff_src;
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
        ctx.index = i;
        ctx.need_diff_src = training && (i > 0 || input_diff);
        auto layer = detail::make_layer(spec.layers[i], ctx, src, diff_src, layer_params[i],
                                        fuse_relu[i], as_identity[i]);
        src = layer->dst();
        diff_src = layer->diff_dst();
        plan->layers.push_back(std::move(layer));
    }

    const memory::desc out_md = plain_md(src.get_desc().dims(), memory::data_type::f32);
    plan->dst_f32 = detail::view_as(engine, src, out_md, plan->dst_convert);
    if (training) {
        plan->diff_dst_f32 = memory(out_md, engine);
        if (diff_src.get_desc() == out_md) {
            plan->diff_dst_f32 = diff_src;
        } else {
            plan->diff_dst_convert = detail::Reorder(plan->diff_dst_f32, diff_src);
        }
    }
    plan->scratchpad.allocate();
    return plan;
}

Plan& Network::Impl::plan_for(std::int64_t batch, bool training) {
    auto& slot = plans[{batch, training}];
    if (!slot) {
        slot = build_plan(batch, training);
    }
    return *slot;
}

Network::Network(NetworkSpec spec, NetworkOptions options)
    : impl_(std::make_unique<Impl>(std::move(spec), options)) {
    Impl& m = *impl_;
    m.shapes = infer_shapes(m.spec, 1);
    const std::size_t n = m.spec.layers.size();
    m.fuse_relu.assign(n, false);
    m.as_identity.assign(n, false);
    if (options.fuse_batch_norm_relu) {
        for (std::size_t i = 0; i + 1 < n; ++i) {
            if (std::holds_alternative<BatchNormSpec>(m.spec.layers[i].params) &&
                std::holds_alternative<ReluSpec>(m.spec.layers[i + 1].params)) {
                m.fuse_relu[i] = true;
                m.as_identity[i + 1] = true;
            }
        }
    }
    m.create_parameters();
    for (std::size_t i = 0; i < n; ++i) {
        m.timings.push_back(
            {layer_name(m.spec, i) + " (" + layer_kind(m.spec.layers[i].params) + ")", 0.0, 0.0});
    }
}

Network::~Network() = default;
Network::Network(Network&&) noexcept = default;
Network& Network::operator=(Network&&) noexcept = default;

const NetworkSpec& Network::spec() const noexcept { return impl_->spec; }
const NetworkOptions& Network::options() const noexcept { return impl_->options; }
std::int64_t Network::input_size() const noexcept { return product(impl_->shapes.front(), 1); }
std::int64_t Network::output_size() const noexcept { return product(impl_->shapes.back(), 1); }
std::vector<Parameter>& Network::parameters() noexcept { return impl_->params; }
const std::vector<Parameter>& Network::parameters() const noexcept { return impl_->params; }

std::vector<Parameter*> Network::trainable_parameters() {
    std::vector<Parameter*> out;
    for (Parameter& p : impl_->params) {
        if (p.trainable) {
            out.push_back(&p);
        }
    }
    return out;
}

std::int64_t Network::parameter_count(bool trainable_only) const noexcept {
    std::int64_t count = 0;
    for (const Parameter& p : impl_->params) {
        if (p.trainable || !trainable_only) {
            count += static_cast<std::int64_t>(p.value.size());
        }
    }
    return count;
}

std::vector<LayerTiming> Network::timings() const { return impl_->timings; }

void Network::reset_timings() noexcept {
    for (LayerTiming& t : impl_->timings) {
        t.forward_ms = 0.0;
        t.backward_ms = 0.0;
    }
}

std::uint64_t Network::step_count() const noexcept { return impl_->step; }
void Network::set_step_count(std::uint64_t steps) noexcept { impl_->step = steps; }

std::span<const float> Network::forward(std::span<const float> src, Mode mode) {
    Impl& m = *impl_;
    const std::int64_t per_image = input_size();
    const auto batch = static_cast<std::int64_t>(src.size()) / per_image;
    if (batch < 1 || batch * per_image != static_cast<std::int64_t>(src.size())) {
        throw std::invalid_argument("Network::forward: src has " + std::to_string(src.size()) +
                                    " values, not a positive multiple of one image (" +
                                    format_dims(m.spec.input) + " = " + std::to_string(per_image) +
                                    ")");
    }
    const bool training = mode == Mode::kTrain;
    Plan& plan = m.plan_for(batch, training);
    if (plan.src_convert.empty()) {
        std::memcpy(plan.src.get_data_handle(), src.data(), src.size_bytes());
    } else {
        // oneDNN only reads the source of a reorder; the cast drops const for its C API.
        plan.user_src.set_data_handle(const_cast<float*>(src.data()));
        plan.src_convert.run(m.stream);
    }
    for (std::size_t i = 0; i < plan.layers.size(); ++i) {
        const auto start = std::chrono::steady_clock::now();
        plan.layers[i]->forward(m.stream);
        if (m.options.profile) {
            // CPU primitives finish inside execute(), so the clock brackets the layer's work.
            m.timings[i].forward_ms +=
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
        }
    }
    plan.dst_convert.run(m.stream);
    m.stream.wait();
    if (training) {
        ++m.step;
        m.last_train = &plan;
        m.backward_done = false;
    }
    return {static_cast<const float*>(plan.dst_f32.get_data_handle()),
            static_cast<std::size_t>(batch * output_size())};
}

void Network::backward(std::span<const float> diff_dst) {
    Impl& m = *impl_;
    if (m.last_train == nullptr) {
        throw std::logic_error("Network::backward: no forward(src, Mode::kTrain) ran before");
    }
    Plan& plan = *m.last_train;
    const auto expected = static_cast<std::size_t>(plan.batch * output_size());
    if (diff_dst.size() != expected) {
        throw std::invalid_argument("Network::backward: diff_dst has " +
                                    std::to_string(diff_dst.size()) + " values, expected " +
                                    std::to_string(expected));
    }
    auto* dst = static_cast<float*>(plan.diff_dst_f32.get_data_handle());
    if (dst != diff_dst.data()) {
        std::memcpy(dst, diff_dst.data(), diff_dst.size_bytes());
    }
    plan.diff_dst_convert.run(m.stream);
    for (std::size_t i = plan.layers.size(); i-- > 0;) {
        const auto start = std::chrono::steady_clock::now();
        plan.layers[i]->backward(m.stream);
        if (m.options.profile) {
            m.timings[i].backward_ms +=
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
        }
    }
    plan.diff_src_convert.run(m.stream);
    m.stream.wait();
    m.backward_done = true;
}

std::span<const float> Network::diff_src() const {
    const Impl& m = *impl_;
    if (!m.options.compute_diff_src || m.last_train == nullptr || !m.backward_done) {
        throw std::logic_error(
            "Network::diff_src: needs options.compute_diff_src and a backward() first");
    }
    const Plan& plan = *m.last_train;
    const auto size = static_cast<std::size_t>(plan.batch * input_size());
    if (!plan.diff_src_f32.empty()) {
        return {plan.diff_src_f32.data(), size};
    }
    return {static_cast<const float*>(plan.diff_src.get_data_handle()), size};
}

StepResult Network::train_step(std::span<const float> src, std::span<const std::int32_t> labels) {
    const std::span<const float> logits = forward(src, Mode::kTrain);
    Plan& plan = *impl_->last_train;
    if (static_cast<std::int64_t>(labels.size()) != plan.batch) {
        throw std::invalid_argument("Network::train_step: " + std::to_string(labels.size()) +
                                    " labels for a batch of " + std::to_string(plan.batch));
    }
    // The loss writes its gradient straight into the plan's fp32 diff buffer.
    const std::span<float> diff_logits(static_cast<float*>(plan.diff_dst_f32.get_data_handle()),
                                       logits.size());
    const StepResult result = softmax_cross_entropy(logits, labels, output_size(), diff_logits);
    backward(diff_logits);
    return result;
}

}  // namespace digitpipe::nn
