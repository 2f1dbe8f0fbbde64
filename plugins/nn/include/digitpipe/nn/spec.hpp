// Network specifications for the digitpipe engine: plain structs describing a sequential CNN
// layer by layer, and the shape inference that checks a spec before any oneDNN primitive is
// made. spec_yaml.hpp parses them from models/*.yaml; the engine (network.hpp) builds from them.
// Shapes are oneDNN logical dims: activations are N x C x H x W (4-D) or N x C (2-D).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace digitpipe::nn {

// How a layer's weights are drawn at initialisation (biases start at zero).
enum class Init {
    kGlorotUniform,  // U(-a, a), a = sqrt(6 / (fan_in + fan_out)); Keras' default
    kHeNormal,       // N(0, 2 / fan_in); suits layers followed by ReLU
    kHeUniform,      // U(-a, a), a = sqrt(6 / fan_in)
};

// Padding value that asks for Keras' "same" padding: output size ceil(input / stride), with
// any odd padding put on the right/bottom as TensorFlow does.
inline constexpr std::int64_t kPaddingSame = -1;

// 2-D convolution over a 4-D src. padding >= 0 pads every side by that many zeros.
struct Conv2dSpec {
    std::int64_t filters = 0;
    std::int64_t kernel_size = 3;
    std::int64_t stride = 1;
    std::int64_t padding = kPaddingSame;
    bool use_bias = true;
    Init init = Init::kGlorotUniform;

    bool operator==(const Conv2dSpec&) const = default;
};

// Batch normalisation over channels. momentum follows Keras: running = momentum * running +
// (1 - momentum) * batch; epsilon is added to the variance.
struct BatchNormSpec {
    float momentum = 0.99F;
    float epsilon = 1e-3F;

    bool operator==(const BatchNormSpec&) const = default;
};

struct ReluSpec {
    bool operator==(const ReluSpec&) const = default;
};

// Max pooling; stride 0 means "equal to pool_size". No padding ("valid").
struct MaxPoolSpec {
    std::int64_t pool_size = 2;
    std::int64_t stride = 0;

    bool operator==(const MaxPoolSpec&) const = default;
};

// Inverted dropout: in training each element is zeroed with probability rate and the
// survivors are scaled by 1 / (1 - rate); in inference it is the identity.
struct DropoutSpec {
    float rate = 0.5F;

    bool operator==(const DropoutSpec&) const = default;
};

// Mean over H x W: N x C x H x W -> N x C x 1 x 1.
struct GlobalAvgPoolSpec {
    bool operator==(const GlobalAvgPoolSpec&) const = default;
};

// N x C x H x W -> N x (C * H * W), in C, H, W order (PyTorch's order, not Keras' H, W, C).
struct FlattenSpec {
    bool operator==(const FlattenSpec&) const = default;
};

// Fully connected layer: src N x K (or N x K x 1 x 1) -> dst N x units.
struct DenseSpec {
    std::int64_t units = 0;
    bool use_bias = true;
    Init init = Init::kGlorotUniform;

    bool operator==(const DenseSpec&) const = default;
};

using LayerParams = std::variant<Conv2dSpec, BatchNormSpec, ReluSpec, MaxPoolSpec, DropoutSpec,
                                 GlobalAvgPoolSpec, FlattenSpec, DenseSpec>;

// One layer: its parameters and an optional name (used in messages and parameter names; an
// empty name becomes "<kind>_<index>").
struct LayerSpec {
    std::string name;
    LayerParams params;

    bool operator==(const LayerSpec&) const = default;
};

// A sequential network. input is C x H x W of one image; the last layer's dst are the logits
// fed to the softmax cross-entropy loss (so it must be 2-D, N x classes, for training).
struct NetworkSpec {
    std::string name;
    std::vector<std::int64_t> input;  // {C, H, W}
    std::vector<LayerSpec> layers;

    bool operator==(const NetworkSpec&) const = default;
};

// Thrown when a spec cannot be built. what() names the layer (index and name), what it
// expected and the shapes involved, e.g.
// "layer 7 'dense_7' (dense): src is 128x64x7x7; dense needs N x K or N x K x 1 x 1 (add a
// flatten or global_avg_pool layer before it)".
class SpecError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Lower-case kind of a layer as it appears in specs and messages ("conv2d", "batch_norm",
// "relu", "max_pool", "dropout", "global_avg_pool", "flatten", "dense").
std::string layer_kind(const LayerParams& params);

// The name of layer `index`: its spec name, or "<kind>_<index>" when the spec leaves it empty.
std::string layer_name(const NetworkSpec& spec, std::size_t index);

// Formats dims as "128x32x28x28".
std::string format_dims(const std::vector<std::int64_t>& dims);

// Shape inference for a batch of `batch` images.
// requires: batch > 0.
// returns: batch-inclusive dims of every activation: [0] is the input, [i + 1] the dst of
//          layer i.
// throws: SpecError for an empty or malformed spec (bad input dims, non-positive sizes, a
//         layer that cannot take its src shape, duplicate layer names).
// Thread-safety: pure function.
std::vector<std::vector<std::int64_t>> infer_shapes(const NetworkSpec& spec, std::int64_t batch);

}  // namespace digitpipe::nn
