// The engine's layers on oneDNN 2.6 primitives (convolution, inner product, batch norm, ReLU,
// max and global average pooling), plus dropout and flatten written by hand, and the helpers
// that create reorders and parameter views once per plan. See layers.hpp for the memory
// contract between layers.
#include "layers.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "digitpipe/nn/random.hpp"

namespace digitpipe::nn::detail {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

// Alignment of the shared scratchpad; oneDNN's own allocations use 64 bytes (a cache line
// and an AVX-512 register).
constexpr std::size_t kScratchpadAlignment = 64;

// Salt that separates dropout keys from parameter-initialisation keys drawn from one seed.
constexpr std::uint64_t kDropoutSalt = 0xD50F'0000'0000'0000ULL;

memory::desc any_md(const memory::dims& dims, dt type) { return {dims, type, tag::any}; }

memory::dims spatial_of(const memory::desc& md) {
    const memory::dims dims = md.dims();
    return {dims[2], dims[3]};
}

void execute(dnnl::stream& stream, const dnnl::primitive& prim, const Args& args) {
    prim.execute(stream, args);
}

// --- convolution and inner product ------------------------------------------------------

// Shared body of convolution and inner product: both have src, weights, optional bias and dst,
// backward-data and backward-weights passes, and weights that live as fp32 masters.
class WeightedLayer : public Layer {
public:
    void forward(dnnl::stream& stream) override {
        src_reorder_.run(stream);
        weights_fwd_.refresh(stream);
        execute(stream, fwd_, fwd_args_);
    }

    void backward(dnnl::stream& stream) override {
        diff_dst_bwdw_reorder_.run(stream);
        src_bwdw_reorder_.run(stream);
        execute(stream, bwdw_, bwdw_args_);
        diff_weights_reorder_.run(stream);
        if (has_bwdd_) {
            diff_dst_bwdd_reorder_.run(stream);
            if (!weights_bwdd_shared_) {
                weights_bwdd_.refresh(stream);
            }
            execute(stream, bwdd_, bwdd_args_);
            diff_src_reorder_.run(stream);
        }
    }

protected:
    // Binds memories once the subclass made its primitive descriptors. bwdw_pd and bwdd_pd are
    // used only when ctx.training (bwdd_pd only when ctx.need_diff_src).
    void bind(const LayerContext& ctx, const memory& src, const memory& diff_src,
              Parameter& weights, Parameter* bias, const memory::desc& weights_master_md,
              const dnnl::primitive_desc& fwd_pd, const dnnl::primitive_desc* bwdw_pd,
              const dnnl::primitive_desc* bwdd_pd) {
        const dnnl::engine& eng = ctx.engine;
        fwd_ = dnnl::primitive(fwd_pd);
        src_fwd_ = view_as(eng, src, fwd_pd.src_desc(), src_reorder_);
        weights_fwd_ = ParamView(eng, weights, weights_master_md, fwd_pd.weights_desc());
        dst_ = memory(fwd_pd.dst_desc(), eng);
        fwd_args_ = {
            {DNNL_ARG_SRC, src_fwd_}, {DNNL_ARG_WEIGHTS, weights_fwd_.mem()}, {DNNL_ARG_DST, dst_}};
        memory bias_mem;
        if (bias != nullptr) {
            // Biases stay fp32 in plain layout in both precisions, so the primitive reads and
            // writes the master copies directly.
            const memory::desc bias_md = plain_md({bias->dims[0]}, dt::f32);
            fwd_args_[DNNL_ARG_BIAS] = memory(bias_md, eng, bias->value.data());
        }
        ctx.scratchpad->attach(fwd_pd, fwd_args_);
        if (!ctx.training) {
            return;
        }
        diff_dst_ = memory(fwd_pd.dst_desc(), eng);

        bwdw_ = dnnl::primitive(*bwdw_pd);
        const memory src_bwdw = view_as(eng, src_fwd_, bwdw_pd->src_desc(), src_bwdw_reorder_);
        const memory diff_dst_bwdw =
            view_as(eng, diff_dst_, bwdw_pd->diff_dst_desc(), diff_dst_bwdw_reorder_);
        const memory grad_master(weights_master_md, eng, weights.grad.data());
        const memory diff_weights =
            produce_into(eng, bwdw_pd->diff_weights_desc(), grad_master, diff_weights_reorder_);
        bwdw_args_ = {{DNNL_ARG_SRC, src_bwdw},
                      {DNNL_ARG_DIFF_DST, diff_dst_bwdw},
                      {DNNL_ARG_DIFF_WEIGHTS, diff_weights}};
        if (bias != nullptr) {
            const memory::desc bias_md = plain_md({bias->dims[0]}, dt::f32);
            bwdw_args_[DNNL_ARG_DIFF_BIAS] = memory(bias_md, eng, bias->grad.data());
        }
        ctx.scratchpad->attach(*bwdw_pd, bwdw_args_);

        has_bwdd_ = ctx.need_diff_src;
        if (!has_bwdd_) {
            return;
        }
        bwdd_ = dnnl::primitive(*bwdd_pd);
        // Backward data may want the weights in another blocking than forward (oihw16i16o vs
        // 16o16i); share the forward copy when it does not, to convert once per step.
        weights_bwdd_shared_ = bwdd_pd->weights_desc() == fwd_pd.weights_desc();
        if (!weights_bwdd_shared_) {
            weights_bwdd_ = ParamView(eng, weights, weights_master_md, bwdd_pd->weights_desc());
        }
        const memory diff_dst_bwdd =
            view_as(eng, diff_dst_, bwdd_pd->diff_dst_desc(), diff_dst_bwdd_reorder_);
        const memory diff_src_out =
            produce_into(eng, bwdd_pd->diff_src_desc(), diff_src, diff_src_reorder_);
        bwdd_args_ = {
            {DNNL_ARG_DIFF_DST, diff_dst_bwdd},
            {DNNL_ARG_WEIGHTS, weights_bwdd_shared_ ? weights_fwd_.mem() : weights_bwdd_.mem()},
            {DNNL_ARG_DIFF_SRC, diff_src_out}};
        ctx.scratchpad->attach(*bwdd_pd, bwdd_args_);
    }

private:
    dnnl::primitive fwd_;
    dnnl::primitive bwdw_;
    dnnl::primitive bwdd_;
    Args fwd_args_;
    Args bwdw_args_;
    Args bwdd_args_;
    memory src_fwd_;
    ParamView weights_fwd_;
    ParamView weights_bwdd_;
    bool weights_bwdd_shared_ = false;
    bool has_bwdd_ = false;
    Reorder src_reorder_;
    Reorder src_bwdw_reorder_;
    Reorder diff_dst_bwdw_reorder_;
    Reorder diff_dst_bwdd_reorder_;
    Reorder diff_weights_reorder_;
    Reorder diff_src_reorder_;
};

class ConvLayer final : public WeightedLayer {
public:
    ConvLayer(const Conv2dSpec& spec, const LayerContext& ctx, const memory& src,
              const memory& diff_src, std::span<Parameter* const> params) {
        using dnnl::convolution_backward_data;
        using dnnl::convolution_backward_weights;
        using dnnl::convolution_forward;
        const memory::dims src_dims = src.get_desc().dims();
        const std::int64_t n = src_dims[0];
        const std::int64_t c = src_dims[1];
        const std::int64_t k = spec.kernel_size;
        memory::dims strides{spec.stride, spec.stride};
        memory::dims pad_l(2);
        memory::dims pad_r(2);
        memory::dims dst_dims{n, spec.filters, 0, 0};
        for (int d = 0; d < 2; ++d) {
            const std::int64_t in = src_dims[2 + d];
            if (spec.padding == kPaddingSame) {
                // TensorFlow's "same": total padding to reach ceil(in / stride), odd pixel on
                // the right/bottom.
                const std::int64_t out = (in + spec.stride - 1) / spec.stride;
                const std::int64_t total =
                    std::max<std::int64_t>((out - 1) * spec.stride + k - in, 0);
                pad_l[d] = total / 2;
                pad_r[d] = total - total / 2;
                dst_dims[2 + d] = out;
            } else {
                pad_l[d] = spec.padding;
                pad_r[d] = spec.padding;
                dst_dims[2 + d] = (in + 2 * spec.padding - k) / spec.stride + 1;
            }
        }
        const dt type = ctx.data_type;
        const memory::dims weights_dims{spec.filters, c, k, k};
        // Activations in nhwc or left to oneDNN (NetworkOptions::layout); weights always any.
        auto act_md = [&](const memory::dims& dims) {
            return memory::desc(dims, type, ctx.channels_last ? tag::nhwc : tag::any);
        };
        Parameter* weights = params[0];
        Parameter* bias = spec.use_bias ? params[1] : nullptr;
        const memory::desc bias_md =
            spec.use_bias ? plain_md({spec.filters}, dt::f32) : memory::desc();
        const auto prop =
            ctx.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
        // format_tag::any lets oneDNN pick blocked layouts (nChw16c, OIhw16i16o) for its
        // fastest kernels; neighbours that are not convolutions follow whatever it picked.
        const auto fwd_desc =
            spec.use_bias
                ? convolution_forward::desc(prop, dnnl::algorithm::convolution_direct,
                                            act_md(src_dims), any_md(weights_dims, type), bias_md,
                                            act_md(dst_dims), strides, pad_l, pad_r)
                : convolution_forward::desc(prop, dnnl::algorithm::convolution_direct,
                                            act_md(src_dims), any_md(weights_dims, type),
                                            act_md(dst_dims), strides, pad_l, pad_r);
        const convolution_forward::primitive_desc fwd_pd(fwd_desc, ctx.attr, ctx.engine);
        std::optional<convolution_backward_weights::primitive_desc> bwdw_pd;
        std::optional<convolution_backward_data::primitive_desc> bwdd_pd;
        if (ctx.training) {
            // Weight gradients are produced in fp32 even in bf16 mode: they feed the fp32
            // master weights, and bf16 would lose the small updates.
            const auto bwdw_desc =
                spec.use_bias
                    ? convolution_backward_weights::desc(dnnl::algorithm::convolution_direct,
                                                         act_md(src_dims),
                                                         any_md(weights_dims, dt::f32), bias_md,
                                                         act_md(dst_dims), strides, pad_l, pad_r)
                    : convolution_backward_weights::desc(
                          dnnl::algorithm::convolution_direct, act_md(src_dims),
                          any_md(weights_dims, dt::f32), act_md(dst_dims), strides, pad_l, pad_r);
            bwdw_pd.emplace(bwdw_desc, ctx.attr, ctx.engine, fwd_pd);
            if (ctx.need_diff_src) {
                const convolution_backward_data::desc bwdd_desc(
                    dnnl::algorithm::convolution_direct, act_md(src_dims),
                    any_md(weights_dims, type), act_md(dst_dims), strides, pad_l, pad_r);
                bwdd_pd.emplace(bwdd_desc, ctx.attr, ctx.engine, fwd_pd);
            }
        }
        bind(ctx, src, diff_src, *weights, bias, plain_md(weights_dims, dt::f32), fwd_pd,
             bwdw_pd ? &*bwdw_pd : nullptr, bwdd_pd ? &*bwdd_pd : nullptr);
    }
};

class DenseLayer final : public WeightedLayer {
public:
    DenseLayer(const DenseSpec& spec, const LayerContext& ctx, const memory& src,
               const memory& diff_src, std::span<Parameter* const> params) {
        using dnnl::inner_product_backward_data;
        using dnnl::inner_product_backward_weights;
        using dnnl::inner_product_forward;
        const memory::dims src_dims = src.get_desc().dims();
        // A 4-D src (N x K x 1 x 1, after global pooling) takes 4-D weights O x K x 1 x 1,
        // whose plain layout has the same bytes as the O x K master.
        memory::dims weights_dims{spec.units, src_dims[1]};
        if (src_dims.size() == 4) {
            weights_dims.push_back(src_dims[2]);
            weights_dims.push_back(src_dims[3]);
        }
        const memory::dims dst_dims{src_dims[0], spec.units};
        const dt type = ctx.data_type;
        Parameter* weights = params[0];
        Parameter* bias = spec.use_bias ? params[1] : nullptr;
        const memory::desc bias_md =
            spec.use_bias ? plain_md({spec.units}, dt::f32) : memory::desc();
        const auto prop =
            ctx.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
        const auto fwd_desc =
            spec.use_bias
                ? inner_product_forward::desc(prop, any_md(src_dims, type),
                                              any_md(weights_dims, type), bias_md,
                                              any_md(dst_dims, type))
                : inner_product_forward::desc(prop, any_md(src_dims, type),
                                              any_md(weights_dims, type), any_md(dst_dims, type));
        const inner_product_forward::primitive_desc fwd_pd(fwd_desc, ctx.attr, ctx.engine);
        std::optional<inner_product_backward_weights::primitive_desc> bwdw_pd;
        std::optional<inner_product_backward_data::primitive_desc> bwdd_pd;
        if (ctx.training) {
            const auto bwdw_desc =
                spec.use_bias ? inner_product_backward_weights::desc(
                                    any_md(src_dims, type), any_md(weights_dims, dt::f32), bias_md,
                                    any_md(dst_dims, type))
                              : inner_product_backward_weights::desc(any_md(src_dims, type),
                                                                     any_md(weights_dims, dt::f32),
                                                                     any_md(dst_dims, type));
            bwdw_pd.emplace(bwdw_desc, ctx.attr, ctx.engine, fwd_pd);
            if (ctx.need_diff_src) {
                const inner_product_backward_data::desc bwdd_desc(
                    any_md(src_dims, type), any_md(weights_dims, type), any_md(dst_dims, type));
                bwdd_pd.emplace(bwdd_desc, ctx.attr, ctx.engine, fwd_pd);
            }
        }
        bind(ctx, src, diff_src, *weights, bias, plain_md(weights_dims, dt::f32), fwd_pd,
             bwdw_pd ? &*bwdw_pd : nullptr, bwdd_pd ? &*bwdd_pd : nullptr);
    }
};

// --- batch normalisation ----------------------------------------------------------------

class BatchNormLayer final : public Layer {
public:
    BatchNormLayer(const BatchNormSpec& spec, const LayerContext& ctx, const memory& src,
                   const memory& diff_src, std::span<Parameter* const> params, bool fuse_relu)
        : spec_(spec),
          scale_(params[0]),
          shift_(params[1]),
          running_mean_(params[2]),
          running_var_(params[3]) {
        using dnnl::batch_normalization_backward;
        using dnnl::batch_normalization_forward;
        using flags = dnnl::normalization_flags;
        const dnnl::engine& eng = ctx.engine;
        const memory::desc data_md = src.get_desc();
        const memory::dims dims = data_md.dims();
        channels_ = dims[1];
        batch_elements_ = data_md.get_size() / memory::data_type_size(data_md.data_type()) /
                          static_cast<std::size_t>(channels_);
        const memory::desc channel_md = plain_md({channels_}, dt::f32);
        auto flag_set = flags::use_scale | flags::use_shift;
        if (fuse_relu) {
            flag_set = flag_set | flags::fuse_norm_relu;
        }
        const memory scale_mem(channel_md, eng, scale_->value.data());
        const memory shift_mem(channel_md, eng, shift_->value.data());
        // The data layout is whatever the previous layer wrote (blocked after a
        // convolution): batch norm runs on it as is, no reorder.
        if (!ctx.training) {
            const batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference,
                                                         data_md, spec.epsilon,
                                                         flag_set | flags::use_global_stats);
            const batch_normalization_forward::primitive_desc pd(desc, ctx.attr, eng);
            fwd_ = batch_normalization_forward(pd);
            dst_ = memory(pd.dst_desc(), eng);
            fwd_args_ = {{DNNL_ARG_SRC, src},
                         {DNNL_ARG_DST, dst_},
                         {DNNL_ARG_SCALE, scale_mem},
                         {DNNL_ARG_SHIFT, shift_mem},
                         {DNNL_ARG_MEAN, memory(channel_md, eng, running_mean_->value.data())},
                         {DNNL_ARG_VARIANCE, memory(channel_md, eng, running_var_->value.data())}};
            ctx.scratchpad->attach(pd, fwd_args_);
            return;
        }
        training_ = true;
        const batch_normalization_forward::desc desc(dnnl::prop_kind::forward_training, data_md,
                                                     spec.epsilon, flag_set);
        const batch_normalization_forward::primitive_desc pd(desc, ctx.attr, eng);
        fwd_ = batch_normalization_forward(pd);
        dst_ = memory(pd.dst_desc(), eng);
        diff_dst_ = memory(pd.dst_desc(), eng);
        batch_mean_ = memory(pd.mean_desc(), eng);
        batch_var_ = memory(pd.variance_desc(), eng);
        fwd_args_ = {{DNNL_ARG_SRC, src},          {DNNL_ARG_DST, dst_},
                     {DNNL_ARG_SCALE, scale_mem},  {DNNL_ARG_SHIFT, shift_mem},
                     {DNNL_ARG_MEAN, batch_mean_}, {DNNL_ARG_VARIANCE, batch_var_}};
        memory workspace;
        if (fuse_relu) {
            // The fused ReLU's backward needs to know which outputs were clipped.
            workspace = memory(pd.workspace_desc(), eng);
            fwd_args_[DNNL_ARG_WORKSPACE] = workspace;
        }
        ctx.scratchpad->attach(pd, fwd_args_);

        const batch_normalization_backward::desc bwd_desc(dnnl::prop_kind::backward, data_md,
                                                          data_md, spec.epsilon, flag_set);
        const batch_normalization_backward::primitive_desc bwd_pd(bwd_desc, ctx.attr, eng, pd);
        bwd_ = batch_normalization_backward(bwd_pd);
        // Batch norm always computes diff_src; the first layer gets a buffer nobody reads.
        const memory diff_src_out = ctx.need_diff_src ? diff_src : memory(data_md, eng);
        bwd_args_ = {{DNNL_ARG_SRC, src},
                     {DNNL_ARG_DIFF_DST, diff_dst_},
                     {DNNL_ARG_SCALE, scale_mem},
                     {DNNL_ARG_SHIFT, shift_mem},
                     {DNNL_ARG_MEAN, batch_mean_},
                     {DNNL_ARG_VARIANCE, batch_var_},
                     {DNNL_ARG_DIFF_SRC, diff_src_out},
                     {DNNL_ARG_DIFF_SCALE, memory(channel_md, eng, scale_->grad.data())},
                     {DNNL_ARG_DIFF_SHIFT, memory(channel_md, eng, shift_->grad.data())}};
        if (fuse_relu) {
            bwd_args_[DNNL_ARG_WORKSPACE] = workspace;
        }
        ctx.scratchpad->attach(bwd_pd, bwd_args_);
    }

    void forward(dnnl::stream& stream) override {
        execute(stream, fwd_, fwd_args_);
        if (!training_) {
            return;
        }
        stream.wait();
        // Running statistics use the unbiased batch variance (n / (n - 1)), as Keras and
        // PyTorch do, so inference on large batches matches training's normalisation.
        const auto* mean = static_cast<const float*>(batch_mean_.get_data_handle());
        const auto* var = static_cast<const float*>(batch_var_.get_data_handle());
        const double n = static_cast<double>(batch_elements_);
        const float unbias = n > 1.0 ? static_cast<float>(n / (n - 1.0)) : 1.0F;
        const float m = spec_.momentum;
        for (std::int64_t c = 0; c < channels_; ++c) {
            const auto i = static_cast<std::size_t>(c);
            running_mean_->value[i] = m * running_mean_->value[i] + (1.0F - m) * mean[i];
            running_var_->value[i] = m * running_var_->value[i] + (1.0F - m) * var[i] * unbias;
        }
        running_mean_->mark_updated();
        running_var_->mark_updated();
    }

    void backward(dnnl::stream& stream) override { execute(stream, bwd_, bwd_args_); }

private:
    BatchNormSpec spec_;
    Parameter* scale_;
    Parameter* shift_;
    Parameter* running_mean_;
    Parameter* running_var_;
    std::int64_t channels_ = 0;
    std::size_t batch_elements_ = 0;
    bool training_ = false;
    dnnl::primitive fwd_;
    dnnl::primitive bwd_;
    Args fwd_args_;
    Args bwd_args_;
    memory batch_mean_;
    memory batch_var_;
};

// --- ReLU, pooling ----------------------------------------------------------------------

class ReluLayer final : public Layer {
public:
    ReluLayer(const LayerContext& ctx, const memory& src, const memory& diff_src) {
        const dnnl::engine& eng = ctx.engine;
        const memory::desc data_md = src.get_desc();
        const auto prop =
            ctx.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
        const dnnl::eltwise_forward::desc desc(prop, dnnl::algorithm::eltwise_relu, data_md,
                                               /*alpha=*/0.0F, /*beta=*/0.0F);
        const dnnl::eltwise_forward::primitive_desc pd(desc, ctx.attr, eng);
        fwd_ = dnnl::eltwise_forward(pd);
        dst_ = memory(pd.dst_desc(), eng);
        fwd_args_ = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}};
        ctx.scratchpad->attach(pd, fwd_args_);
        if (!ctx.training) {
            return;
        }
        diff_dst_ = memory(pd.dst_desc(), eng);
        if (!ctx.need_diff_src) {
            return;
        }
        const dnnl::eltwise_backward::desc bwd_desc(dnnl::algorithm::eltwise_relu, data_md, data_md,
                                                    /*alpha=*/0.0F, /*beta=*/0.0F);
        const dnnl::eltwise_backward::primitive_desc bwd_pd(bwd_desc, ctx.attr, eng, pd);
        bwd_ = dnnl::eltwise_backward(bwd_pd);
        bwd_args_ = {
            {DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst_}, {DNNL_ARG_DIFF_SRC, diff_src}};
        ctx.scratchpad->attach(bwd_pd, bwd_args_);
        has_bwd_ = true;
    }

    void forward(dnnl::stream& stream) override { execute(stream, fwd_, fwd_args_); }
    void backward(dnnl::stream& stream) override {
        if (has_bwd_) {
            execute(stream, bwd_, bwd_args_);
        }
    }

private:
    dnnl::primitive fwd_;
    dnnl::primitive bwd_;
    Args fwd_args_;
    Args bwd_args_;
    bool has_bwd_ = false;
};

// Max pooling (kernel k, stride s, no padding) or, with global, average over all of H x W.
class PoolLayer final : public Layer {
public:
    PoolLayer(const LayerContext& ctx, const memory& src, const memory& diff_src, bool global,
              std::int64_t pool_size, std::int64_t stride) {
        const dnnl::engine& eng = ctx.engine;
        const memory::desc src_md = src.get_desc();
        const memory::dims src_dims = src_md.dims();
        const auto algo =
            global ? dnnl::algorithm::pooling_avg_exclude_padding : dnnl::algorithm::pooling_max;
        const memory::dims kernel =
            global ? spatial_of(src_md) : memory::dims{pool_size, pool_size};
        const memory::dims strides = global ? memory::dims{1, 1} : memory::dims{stride, stride};
        const memory::dims padding{0, 0};
        memory::dims dst_dims{src_dims[0], src_dims[1], 1, 1};
        if (!global) {
            dst_dims[2] = (src_dims[2] - pool_size) / stride + 1;
            dst_dims[3] = (src_dims[3] - pool_size) / stride + 1;
        }
        const auto prop =
            ctx.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
        // dst with format_tag::any: pooling then keeps the src's blocking.
        const dnnl::pooling_forward::desc desc(prop, algo, src_md, any_md(dst_dims, ctx.data_type),
                                               strides, kernel, padding, padding);
        const dnnl::pooling_forward::primitive_desc pd(desc, ctx.attr, eng);
        fwd_ = dnnl::pooling_forward(pd);
        dst_ = memory(pd.dst_desc(), eng);
        fwd_args_ = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}};
        memory workspace;
        if (ctx.training && !global) {
            // Max pooling's backward routes each gradient to the argmax kept here.
            workspace = memory(pd.workspace_desc(), eng);
            fwd_args_[DNNL_ARG_WORKSPACE] = workspace;
        }
        ctx.scratchpad->attach(pd, fwd_args_);
        if (!ctx.training) {
            return;
        }
        diff_dst_ = memory(pd.dst_desc(), eng);
        if (!ctx.need_diff_src) {
            return;
        }
        const dnnl::pooling_backward::desc bwd_desc(algo, src_md, pd.dst_desc(), strides, kernel,
                                                    padding, padding);
        const dnnl::pooling_backward::primitive_desc bwd_pd(bwd_desc, ctx.attr, eng, pd);
        bwd_ = dnnl::pooling_backward(bwd_pd);
        bwd_args_ = {{DNNL_ARG_DIFF_DST, diff_dst_}, {DNNL_ARG_DIFF_SRC, diff_src}};
        if (workspace) {
            bwd_args_[DNNL_ARG_WORKSPACE] = workspace;
        }
        ctx.scratchpad->attach(bwd_pd, bwd_args_);
        has_bwd_ = true;
    }

    void forward(dnnl::stream& stream) override { execute(stream, fwd_, fwd_args_); }
    void backward(dnnl::stream& stream) override {
        if (has_bwd_) {
            execute(stream, bwd_, bwd_args_);
        }
    }

private:
    dnnl::primitive fwd_;
    dnnl::primitive bwd_;
    Args fwd_args_;
    Args bwd_args_;
    bool has_bwd_ = false;
};

// --- dropout, flatten, identity ---------------------------------------------------------

// dst[i] = src[i] * keep[i] * scale over the whole buffer; layout does not matter because
// src, dst and the diffs share one layout (padding lanes of blocked layouts hold zeros and
// stay zero).
template <class T>
void apply_mask(const T* src, const std::uint8_t* keep, float scale, T* dst, std::size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (std::size_t i = 0; i < n; ++i) {
        const float factor = static_cast<float>(keep[i]) * scale;
        if constexpr (std::is_same_v<T, float>) {
            dst[i] = src[i] * factor;
        } else {
            dst[i] = float_to_bf16(bf16_to_float(src[i]) * factor);
        }
    }
}

class DropoutLayer final : public Layer {
public:
    DropoutLayer(const DropoutSpec& spec, const LayerContext& ctx, const memory& src,
                 const memory& diff_src)
        : rate_(spec.rate),
          scale_(1.0F / (1.0F - spec.rate)),
          key_(mix_seed(ctx.seed ^ kDropoutSalt, ctx.index)),
          step_(ctx.step),
          src_(src),
          diff_src_(diff_src) {
        const memory::desc md = src.get_desc();
        if (!ctx.training) {
            // Inference dropout is the identity: share the src buffer, copy nothing.
            dst_ = src;
            return;
        }
        training_ = true;
        bf16_ = md.data_type() == dt::bf16;
        elements_ = md.get_size() / memory::data_type_size(md.data_type());
        keep_.resize(elements_);
        dst_ = memory(md, ctx.engine);
        diff_dst_ = memory(md, ctx.engine);
        has_bwd_ = ctx.need_diff_src;
    }

    void forward(dnnl::stream& stream) override {
        if (!training_) {
            return;
        }
        stream.wait();
        generate_dropout_mask(key_, *step_, rate_, keep_);
        run(src_, dst_);
    }

    void backward(dnnl::stream& stream) override {
        if (!has_bwd_) {
            return;
        }
        stream.wait();
        run(diff_dst_, diff_src_);
    }

private:
    void run(const memory& in, const memory& out) const {
        if (bf16_) {
            apply_mask(static_cast<const std::uint16_t*>(in.get_data_handle()), keep_.data(),
                       scale_, static_cast<std::uint16_t*>(out.get_data_handle()), elements_);
        } else {
            apply_mask(static_cast<const float*>(in.get_data_handle()), keep_.data(), scale_,
                       static_cast<float*>(out.get_data_handle()), elements_);
        }
    }

    float rate_;
    float scale_;
    std::uint64_t key_;
    const std::uint64_t* step_;
    memory src_;
    memory diff_src_;
    bool training_ = false;
    bool bf16_ = false;
    bool has_bwd_ = false;
    std::size_t elements_ = 0;
    std::vector<std::uint8_t> keep_;
};

// N x C x H x W -> N x (C H W): a reorder to plain nchw (only if the src is blocked), then the
// same bytes seen as N x CHW.
class FlattenLayer final : public Layer {
public:
    FlattenLayer(const LayerContext& ctx, const memory& src, const memory& diff_src) {
        const dnnl::engine& eng = ctx.engine;
        const memory::dims dims = src.get_desc().dims();
        std::int64_t features = 1;
        for (std::size_t d = 1; d < dims.size(); ++d) {
            features *= dims[d];
        }
        const memory::desc plain = plain_md(dims, ctx.data_type);
        const memory::desc flat = plain_md({dims[0], features}, ctx.data_type);
        // Own the plain buffer even when the src is already plain: the src's handle may be
        // rebound later (the network input), and a view would keep the old pointer.
        plain_src_ = memory(plain, eng);
        src_reorder_ = Reorder(src, plain_src_);
        dst_ = memory(flat, eng, plain_src_.get_data_handle());
        if (!ctx.training) {
            return;
        }
        diff_dst_ = memory(flat, eng);
        if (ctx.need_diff_src) {
            diff_reorder_ = Reorder(memory(plain, eng, diff_dst_.get_data_handle()), diff_src);
        }
    }

    void forward(dnnl::stream& stream) override { src_reorder_.run(stream); }
    void backward(dnnl::stream& stream) override { diff_reorder_.run(stream); }

private:
    memory plain_src_;
    Reorder src_reorder_;
    Reorder diff_reorder_;
};

// Passes src through: dst is the src memory, diff_dst the diff_src memory, so the
// neighbours read and write each other's buffers and nothing runs.
class IdentityLayer final : public Layer {
public:
    IdentityLayer(const LayerContext& ctx, const memory& src, const memory& diff_src) {
        dst_ = src;
        if (ctx.training) {
            diff_dst_ = ctx.need_diff_src ? diff_src : memory(src.get_desc(), ctx.engine);
        }
    }
    void forward(dnnl::stream&) override {}
    void backward(dnnl::stream&) override {}
};

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace

dnnl::memory::desc plain_md(const dnnl::memory::dims& dims, dnnl::memory::data_type type) {
    switch (dims.size()) {
        case 1:
            return {dims, type, tag::a};
        case 2:
            return {dims, type, tag::ab};
        case 3:
            return {dims, type, tag::abc};
        case 4:
            return {dims, type, tag::abcd};
        default:
            throw std::invalid_argument("plain_md: rank " + std::to_string(dims.size()) +
                                        " not supported");
    }
}

Reorder::Reorder(const dnnl::memory& src, const dnnl::memory& dst)
    : prim_(dnnl::reorder(src, dst)), args_{{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}} {}

void Reorder::run(dnnl::stream& stream) const {
    if (prim_) {
        prim_->execute(stream, args_);
    }
}

dnnl::memory view_as(const dnnl::engine& engine, const dnnl::memory& have,
                     const dnnl::memory::desc& want, Reorder& reorder) {
    if (have.get_desc() == want) {
        return have;
    }
    dnnl::memory converted(want, engine);
    reorder = Reorder(have, converted);
    return converted;
}

dnnl::memory produce_into(const dnnl::engine& engine, const dnnl::memory::desc& produced,
                          const dnnl::memory& target, Reorder& reorder) {
    if (target.get_desc() == produced) {
        return target;
    }
    dnnl::memory staging(produced, engine);
    reorder = Reorder(staging, target);
    return staging;
}

ParamView::ParamView(const dnnl::engine& engine, Parameter& param,
                     const dnnl::memory::desc& master_md, const dnnl::memory::desc& want)
    : param_(&param), master_(master_md, engine, param.value.data()) {
    mem_ = view_as(engine, master_, want, reorder_);
}

void ParamView::refresh(dnnl::stream& stream) {
    if (reorder_.empty() || seen_version_ == param_->version) {
        return;
    }
    reorder_.run(stream);
    seen_version_ = param_->version;
}

void Scratchpad::attach(const dnnl::primitive_desc_base& pd, Args& args) {
    const dnnl::memory::desc md = pd.scratchpad_desc();
    if (md.get_size() == 0) {
        return;
    }
    dnnl::memory mem(md, engine_, DNNL_MEMORY_NONE);
    size_ = std::max(size_, md.get_size());
    users_.push_back(mem);
    args[DNNL_ARG_SCRATCHPAD] = mem;
}

void Scratchpad::allocate() {
    if (size_ == 0) {
        return;
    }
    const std::size_t rounded =
        (size_ + kScratchpadAlignment - 1) / kScratchpadAlignment * kScratchpadAlignment;
    void* raw = std::aligned_alloc(kScratchpadAlignment, rounded);
    if (raw == nullptr) {
        throw std::bad_alloc();
    }
    buffer_ = std::unique_ptr<std::byte, void (*)(void*)>(static_cast<std::byte*>(raw), &std::free);
    for (dnnl::memory& mem : users_) {
        mem.set_data_handle(buffer_.get());
    }
}

std::unique_ptr<Layer> make_layer(const LayerSpec& spec, const LayerContext& ctx,
                                  const dnnl::memory& src, const dnnl::memory& diff_src,
                                  std::span<Parameter* const> params, bool fuse_relu,
                                  bool as_identity) {
    if (as_identity) {
        return std::make_unique<IdentityLayer>(ctx, src, diff_src);
    }
    return std::visit(
        Overloaded{
            [&](const Conv2dSpec& p) -> std::unique_ptr<Layer> {
                return std::make_unique<ConvLayer>(p, ctx, src, diff_src, params);
            },
            [&](const BatchNormSpec& p) -> std::unique_ptr<Layer> {
                return std::make_unique<BatchNormLayer>(p, ctx, src, diff_src, params, fuse_relu);
            },
            [&](const ReluSpec&) -> std::unique_ptr<Layer> {
                return std::make_unique<ReluLayer>(ctx, src, diff_src);
            },
            [&](const MaxPoolSpec& p) -> std::unique_ptr<Layer> {
                return std::make_unique<PoolLayer>(ctx, src, diff_src, /*global=*/false,
                                                   p.pool_size,
                                                   p.stride == 0 ? p.pool_size : p.stride);
            },
            [&](const DropoutSpec& p) -> std::unique_ptr<Layer> {
                return std::make_unique<DropoutLayer>(p, ctx, src, diff_src);
            },
            [&](const GlobalAvgPoolSpec&) -> std::unique_ptr<Layer> {
                return std::make_unique<PoolLayer>(ctx, src, diff_src, /*global=*/true,
                                                   /*pool_size=*/0, /*stride=*/0);
            },
            [&](const FlattenSpec&) -> std::unique_ptr<Layer> {
                return std::make_unique<FlattenLayer>(ctx, src, diff_src);
            },
            [&](const DenseSpec& p) -> std::unique_ptr<Layer> {
                return std::make_unique<DenseLayer>(p, ctx, src, diff_src, params);
            },
        },
        spec.params);
}

}  // namespace digitpipe::nn::detail
