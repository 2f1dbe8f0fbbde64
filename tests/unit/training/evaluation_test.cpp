// Evaluation metrics against hand-computed values.
#include <gtest/gtest.h>

#include "digitpipe/training/evaluation.hpp"

namespace digitpipe::training {
namespace {

TEST(Summarize, PrecisionRecallF1FromAConfusionMatrix) {
    // 3 classes; rows true, columns predicted.
    const auto e = summarize({{5, 1, 0}, {2, 3, 0}, {0, 0, 4}}, 15.0);
    EXPECT_EQ(e.count, 15);
    EXPECT_EQ(e.correct, 12);
    EXPECT_DOUBLE_EQ(e.accuracy, 12.0 / 15.0);
    EXPECT_DOUBLE_EQ(e.loss, 1.0);
    EXPECT_DOUBLE_EQ(e.per_class[0].precision, 5.0 / 7.0);
    EXPECT_DOUBLE_EQ(e.per_class[0].recall, 5.0 / 6.0);
    EXPECT_DOUBLE_EQ(e.per_class[0].f1, 2.0 * (5.0 / 7.0) * (5.0 / 6.0) / (5.0 / 7.0 + 5.0 / 6.0));
    EXPECT_DOUBLE_EQ(e.per_class[1].precision, 3.0 / 4.0);
    EXPECT_DOUBLE_EQ(e.per_class[1].recall, 3.0 / 5.0);
    EXPECT_DOUBLE_EQ(e.per_class[2].f1, 1.0);
    EXPECT_EQ(e.per_class[1].support, 5);
}

TEST(Summarize, EmptyClassesGiveZerosNotNaN) {
    const auto e = summarize({{2, 0}, {0, 0}}, 0.0);
    EXPECT_DOUBLE_EQ(e.per_class[1].precision, 0.0);
    EXPECT_DOUBLE_EQ(e.per_class[1].recall, 0.0);
    EXPECT_DOUBLE_EQ(e.per_class[1].f1, 0.0);
}

TEST(Evaluate, CountsMistakesOfAKnownNetwork) {
    // A dense layer whose weights copy pixel 0 to logit 1 and pixel 1 to logit 0: an image
    // with pixel 0 bright is predicted class 1.
    nn::NetworkSpec spec;
    spec.name = "swap";
    spec.input = {1, 1, 2};
    spec.layers.push_back({"", nn::FlattenSpec{}});
    nn::DenseSpec dense;
    dense.units = 2;
    spec.layers.push_back({"", dense});
    nn::Network network(spec, {});
    for (auto& p : network.parameters()) {
        if (p.name.ends_with("weights")) p.value = {0.0F, 10.0F, 10.0F, 0.0F};
        if (p.name.ends_with("bias")) p.value = {0.0F, 0.0F};
        p.mark_updated();
    }
    Dataset d;
    d.name = "two";
    d.count = 3;
    d.height = 1;
    d.width = 2;
    d.class_names = {"zero", "one"};
    d.images = {255, 0, 0, 255, 255, 0};
    d.labels = {1, 0, 0};  // image 2 is labelled 0 but looks like 1
    const auto e = evaluate(network, d, {}, 2, 5);
    EXPECT_EQ(e.correct, 2);
    ASSERT_EQ(e.most_confident_wrong.size(), 1u);
    EXPECT_EQ(e.most_confident_wrong[0].index, 2);
    EXPECT_EQ(e.most_confident_wrong[0].label, 0);
    EXPECT_EQ(e.most_confident_wrong[0].predicted, 1);
    EXPECT_GT(e.most_confident_wrong[0].confidence, 0.99F);
    const auto json = to_json(e, d.class_names);
    EXPECT_EQ(json["classes"][1]["name"], "one");
    EXPECT_EQ(json["confusion"][0][1], 1);
}

}  // namespace
}  // namespace digitpipe::training
