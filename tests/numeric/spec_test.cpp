// Shape inference of network specs: the seeds' CNNs get the right shapes and parameter counts,
// and malformed specs are refused with a message naming the layer and the shapes.
#include <gtest/gtest.h>

#include <string>

#include "digitpipe/nn/network.hpp"
#include "digitpipe/nn/spec.hpp"

namespace digitpipe::nn {
namespace {

// Keras' model.summary() total for seed A's enhanced CNN (shared/FACTS.md).
constexpr std::int64_t kEnhancedParameters = 175'722;
// Of which batch-norm running means and variances: 2 x (32 + 32 + 64 + 64 + 128).
constexpr std::int64_t kEnhancedRunningStatistics = 640;

NetworkSpec enhanced_spec() {
    NetworkSpec spec;
    spec.name = "enhanced";
    spec.input = {1, 28, 28};
    for (std::int64_t filters : {32, 32, 0, 64, 64, 0, 128, 0}) {
        if (filters == 0) {
            spec.layers.push_back({"", MaxPoolSpec{}});
            spec.layers.push_back({"", DropoutSpec{.rate = 0.25F}});
            continue;
        }
        spec.layers.push_back({"", Conv2dSpec{.filters = filters}});
        spec.layers.push_back({"", BatchNormSpec{}});
        spec.layers.push_back({"", ReluSpec{}});
    }
    spec.layers.push_back({"", GlobalAvgPoolSpec{}});
    spec.layers.push_back({"", DenseSpec{.units = 256}});
    spec.layers.push_back({"", ReluSpec{}});
    spec.layers.push_back({"", DropoutSpec{.rate = 0.5F}});
    spec.layers.push_back({"", DenseSpec{.units = 10}});
    return spec;
}

// Expects SpecError whose message contains every fragment.
void expect_refused(const NetworkSpec& spec, std::initializer_list<std::string> fragments) {
    try {
        infer_shapes(spec, 128);
        ADD_FAILURE() << "spec accepted";
    } catch (const SpecError& e) {
        const std::string message = e.what();
        for (const std::string& fragment : fragments) {
            EXPECT_NE(message.find(fragment), std::string::npos)
                << "'" << fragment << "' not in: " << message;
        }
    }
}

TEST(SpecTest, InfersSeedAShapes) {
    const auto shapes = infer_shapes(enhanced_spec(), 128);
    ASSERT_EQ(shapes.size(), enhanced_spec().layers.size() + 1);
    EXPECT_EQ(shapes[1], (std::vector<std::int64_t>{128, 32, 28, 28}));
    EXPECT_EQ(shapes[7], (std::vector<std::int64_t>{128, 32, 14, 14}));  // first pool
    EXPECT_EQ(shapes[15], (std::vector<std::int64_t>{128, 64, 7, 7}));   // second pool
    EXPECT_EQ(shapes[20], (std::vector<std::int64_t>{128, 128, 3, 3}));  // third pool
    EXPECT_EQ(shapes[22], (std::vector<std::int64_t>{128, 128, 1, 1}));  // global pool
    EXPECT_EQ(shapes.back(), (std::vector<std::int64_t>{128, 10}));
}

TEST(SpecTest, SeedAHasKerasParameterCount) {
    const Network net(enhanced_spec(), {});
    EXPECT_EQ(net.parameter_count(), kEnhancedParameters);
    EXPECT_EQ(net.parameter_count(/*trainable_only=*/true),
              kEnhancedParameters - kEnhancedRunningStatistics);
    EXPECT_EQ(net.input_size(), 784);
    EXPECT_EQ(net.output_size(), 10);
}

TEST(SpecTest, NamesParametersAfterLayers) {
    NetworkSpec spec;
    spec.name = "named";
    spec.input = {1, 4, 4};
    spec.layers = {{"stem", Conv2dSpec{.filters = 2}}, {"", BatchNormSpec{}}};
    const Network net(spec, {});
    std::vector<std::string> names;
    for (const Parameter& p : net.parameters()) {
        names.push_back(p.name);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"stem.weights", "stem.bias", "batch_norm_1.scale",
                                               "batch_norm_1.shift", "batch_norm_1.running_mean",
                                               "batch_norm_1.running_var"}));
    EXPECT_EQ(net.parameters()[0].dims, (std::vector<std::int64_t>{2, 1, 3, 3}));
}

TEST(SpecTest, SamePaddingWithStrideRoundsUp) {
    const auto shapes =
        infer_shapes({"s", {1, 7, 7}, {{"", Conv2dSpec{.filters = 1, .stride = 2}}}}, 1);
    EXPECT_EQ(shapes[1], (std::vector<std::int64_t>{1, 1, 4, 4}));
}

TEST(SpecTest, RefusesDenseOnSpatialSrcNamingLayerAndShape) {
    NetworkSpec spec = enhanced_spec();
    spec.layers.erase(spec.layers.begin() + 21);  // the global average pooling
    expect_refused(spec, {"layer 21", "dense_21", "128x128x3x3", "flatten"});
}

TEST(SpecTest, RefusesConvolutionAfterFlatten) {
    expect_refused(
        {"bad", {1, 8, 8}, {{"flat", FlattenSpec{}}, {"conv", Conv2dSpec{.filters = 4}}}},
        {"layer 1 'conv'", "128x64", "4-D"});
}

TEST(SpecTest, RefusesKernelLargerThanSrc) {
    expect_refused(
        {"bad", {1, 4, 4}, {{"c", Conv2dSpec{.filters = 1, .kernel_size = 5, .padding = 0}}}},
        {"layer 0 'c'", "5x5", "128x1x4x4"});
    expect_refused({"bad", {1, 3, 3}, {{"p", MaxPoolSpec{.pool_size = 4}}}},
                   {"layer 0 'p'", "4x4 pool"});
}

TEST(SpecTest, RefusesBadValues) {
    expect_refused({"bad", {1, 4, 4}, {{"d", DropoutSpec{.rate = 1.0F}}}}, {"rate"});
    expect_refused({"bad", {1, 4, 4}, {{"c", Conv2dSpec{.filters = 0}}}}, {"filters"});
    expect_refused({"bad", {1, 4, 4}, {{"c", Conv2dSpec{.filters = 1, .stride = 0}}}}, {"stride"});
    expect_refused({"bad", {1, 4, 4}, {{"f", DenseSpec{.units = -3}}}}, {"units"});
    expect_refused({"bad", {1, 4, 4}, {}}, {"no layers"});
    expect_refused({"bad", {4, 4}, {{"r", ReluSpec{}}}}, {"C x H x W", "4x4"});
    expect_refused({"bad", {1, 4, 4}, {{"r", ReluSpec{}}, {"r", ReluSpec{}}}},
                   {"layer 1 'r'", "duplicate"});
}

TEST(SpecTest, NetworkConstructorRefusesBadSpec) {
    EXPECT_THROW(Network({"bad", {1, 4, 4}, {{"f", DenseSpec{.units = 2}}}}, {}), SpecError);
}

}  // namespace
}  // namespace digitpipe::nn
