// Accuracy checks on real MNIST with fixed seeds (ctest label `quality`): the `quick`
// experiment trains to at least 98.5% through the whole pipeline, and the shipped model
// scores exactly what its model card says under `digitpipe eval`.
#include <regex>

#include <gtest/gtest.h>

#include "integration/learning_support.hpp"

namespace digitpipe::integration {
namespace {

using nlohmann::json;

const auto kCard = kSource / "models/digitpipe-mnist.md";
const auto kModel = kSource / "models/digitpipe-mnist.safetensors";

class QualityTest : public ::testing::Test {
 protected:
    void SetUp() override {
        if (!std::filesystem::exists(kSource / "data/mnist/t10k-images-idx3-ubyte")) {
            GTEST_FAIL() << "MNIST missing under data/: run deploy/setup.sh (or deploy/test.sh)";
        }
    }
    ts::TempDir dir;
};

TEST_F(QualityTest, QuickExperimentReaches98Point5Percent) {
    const auto runs = dir.path() / "runs";
    const auto config = dir.write("pipeline.yaml", in_process_deployment(runs));
    const auto trained = digitpipe({"train", (kSource / "configs/experiments/quick.yaml").string(),
                                    "--config", config.string()},
                                   900s);
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    const auto evaluation = json::parse(slurp(only_run(runs) / "evaluation.json"));
    EXPECT_GE(evaluation["accuracy"].get<double>(), 0.985) << trained.output;
}

TEST_F(QualityTest, ShippedModelReproducesItsCard) {
    const auto card = slurp(kCard);
    std::smatch correct, sha;
    ASSERT_TRUE(std::regex_search(card, correct, std::regex(R"(\(([0-9]+) of 10000 correct\))")))
        << kCard << " must state \"(N of 10000 correct)\"";
    ASSERT_TRUE(std::regex_search(card, sha, std::regex(R"(sha256[^0-9a-f]*([0-9a-f]{64}))")))
        << kCard << " must state the model file's sha256";
    const auto config = dir.write("pipeline.yaml", in_process_deployment(dir.path() / "runs"));
    const auto evaluated =
        digitpipe({"eval", kModel.string(), "--config", config.string(), "--json"});
    ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
    const auto reply = json_in(evaluated.output);
    EXPECT_EQ(reply["sha256"], sha[1].str());
    EXPECT_EQ(reply["count"], 10000);
    EXPECT_EQ(reply["correct"], std::stoi(correct[1].str()));
    EXPECT_GE(reply["accuracy"].get<double>(), 0.996) << "the shipped model must stay >= 99.60%";
}

}  // namespace
}  // namespace digitpipe::integration
