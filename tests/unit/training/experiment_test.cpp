// Experiment parsing: defaults, every problem reported with its key path, models by name.
#include <gtest/gtest.h>

#include <fstream>

#include "training_test_support.hpp"

namespace digitpipe::training {
namespace {

using testing::parse_text;
using testing::tiny_experiment_yaml;

std::string problems_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
    try {
        parse_text(yaml, overrides);
    } catch (const framework::ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(Experiment, ParsesTheTinyExperiment) {
    const auto e = parse_text(tiny_experiment_yaml(4));
    EXPECT_EQ(e.name, "tiny");
    EXPECT_EQ(e.epochs, 4);
    EXPECT_EQ(e.batch_size(), 32);
    EXPECT_EQ(e.plan.seed, 5u);
    EXPECT_EQ(e.plan.validation, 64);
    EXPECT_EQ(e.optimizer.type, "adam");
    EXPECT_FLOAT_EQ(e.optimizer.lr, 0.01F);
    EXPECT_EQ(e.schedule.type, "one_cycle");
    EXPECT_FALSE(e.augment);
    EXPECT_EQ(e.model.layers.size(), 7u);
    // The effective document parses again to the same experiment (what resume relies on).
    EXPECT_EQ(parse_text(e.yaml).yaml, e.yaml);
}

TEST(Experiment, OverridesApply) {
    const auto e = parse_text(tiny_experiment_yaml(), {"training.epochs=9", "optimizer.type=sgd"});
    EXPECT_EQ(e.epochs, 9);
    EXPECT_EQ(e.optimizer.type, "sgd");
}

TEST(Experiment, ReportsEveryProblemWithItsPath) {
    const auto text = problems_of(tiny_experiment_yaml(),
                                  {"training.epochs=0", "optimizer.type=adagrad",
                                   "training.precision=fp16", "optimizer.lerning_rate=1"});
    EXPECT_NE(text.find("training.epochs: must be >= 1, got 0"), std::string::npos) << text;
    EXPECT_NE(text.find("optimizer.type: must be one of adam, sgd, got 'adagrad'"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("training.precision"), std::string::npos) << text;
    EXPECT_NE(text.find("lerning_rate"), std::string::npos) << text;
}

TEST(Experiment, EarlyStoppingNeedsAValidationSplit) {
    const auto text =
        problems_of(tiny_experiment_yaml(), {"data.validation=0", "stopping.patience=3"});
    EXPECT_NE(text.find("stopping.patience"), std::string::npos) << text;
}

TEST(Experiment, ModelByNameMustExistAndBeAPlainName) {
    std::string yaml = tiny_experiment_yaml();
    yaml = yaml.substr(0, yaml.find("model:")) + "model: no_such_model\n" +
           yaml.substr(yaml.find("data:"));
    EXPECT_NE(problems_of(yaml).find("no architecture 'no_such_model'"), std::string::npos);
    const auto traversal = problems_of(tiny_experiment_yaml(), {"model=../etc/passwd"});
    EXPECT_NE(traversal.find("no path"), std::string::npos) << traversal;
}

TEST(Experiment, AugmentationIsCheckedAndRoundTripsAsJson) {
    const auto e = parse_text(tiny_experiment_yaml(),
                              {"augmentation.enabled=true", "augmentation.rotation_degrees=15"});
    EXPECT_TRUE(e.augment);
    EXPECT_DOUBLE_EQ(e.augmentation.rotation_degrees, 15.0);
    const auto back = augment_params_from_json(to_json(e.augmentation));
    EXPECT_DOUBLE_EQ(back.rotation_degrees, 15.0);
    EXPECT_DOUBLE_EQ(back.shear_degrees, e.augmentation.shear_degrees);
    EXPECT_NE(problems_of(tiny_experiment_yaml(), {"augmentation.rotation_degrees=400"})
                  .find("rotation_degrees"),
              std::string::npos);
    auto json = to_json(e.augmentation);
    json["zoom_fraction"] = 2.0;
    EXPECT_THROW(augment_params_from_json(json), std::invalid_argument);
}

TEST(Experiment, TheShippedExperimentsParse) {
    const std::filesystem::path source = DIGITPIPE_SOURCE_DIR;
    for (const auto* name : {"quick", "enhanced", "simple", "best", "fashion", "sprint"}) {
        const auto file = source / "configs/experiments" / (std::string(name) + ".yaml");
        SCOPED_TRACE(file.string());
        const auto e = parse_experiment(framework::ConfigNode::load_file(file), source / "models");
        EXPECT_EQ(e.name, name);
    }
}

}  // namespace
}  // namespace digitpipe::training
