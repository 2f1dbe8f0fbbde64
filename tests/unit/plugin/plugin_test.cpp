// Tests of the stage plugin loader (framework/src/plugin/plugin.cpp) against the fixture
// plugins in tests/fixtures/plugins: search by name, every refusal the loader makes, the
// configure call site, and that a stage keeps its library loaded for exactly as long as it
// lives.
#include "digitpipe/plugin.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "plugin_test_support.hpp"

namespace digitpipe::framework {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::FakeStageContext;
using testing::fixture_plugin;
using testing::is_library_loaded;
using testing::ScratchDir;

// Runs `body`, which must throw E, and returns the exception for inspection.
template <typename E, typename F>
E expect_throw(F&& body) {
    try {
        body();
    } catch (const E& e) {
        return e;
    }
    ADD_FAILURE() << "expected an exception; none (or another type) was thrown";
    throw std::logic_error("expected exception not thrown");
}

Request ping() {
    Request request;
    request.verb = "ping";
    request.correlation_id = "00000000000000000000000000000001";
    return request;
}

// ---- find_stage_plugin ------------------------------------------------------------------

TEST(FindStagePluginTest, ReturnsTheFileInTheFirstDirectoryThatHasIt) {
    ScratchDir scratch;
    const auto empty = scratch.path() / "empty";
    std::filesystem::create_directories(empty);
    const auto second = scratch.write("second/libdigitpipe_stage_demo_2.so", "x");
    scratch.write("third/libdigitpipe_stage_demo_2.so", "x");

    const auto found = find_stage_plugin(
        "demo_2", {empty, scratch.path() / "second", scratch.path() / "third"});

    EXPECT_EQ(found, second);
}

TEST(FindStagePluginTest, SkipsADirectoryNamedLikeThePlugin) {
    ScratchDir scratch;
    std::filesystem::create_directories(scratch.path() / "a/libdigitpipe_stage_demo.so");
    const auto real = scratch.write("b/libdigitpipe_stage_demo.so", "x");

    EXPECT_EQ(find_stage_plugin("demo", {scratch.path() / "a", scratch.path() / "b"}), real);
}

TEST(FindStagePluginTest, NotFoundNamesTheFileAndEveryDirectorySearched) {
    ScratchDir scratch;
    const auto a = scratch.path() / "a";
    const auto b = scratch.path() / "b";

    const auto error = expect_throw<PluginError>([&] { find_stage_plugin("absent", {a, b}); });

    EXPECT_THAT(error.what(), AllOf(HasSubstr("libdigitpipe_stage_absent.so"),
                                    HasSubstr(a.string()), HasSubstr(b.string())));
    EXPECT_EQ(error.file(), "libdigitpipe_stage_absent.so");
}

class FindStagePluginBadNameTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FindStagePluginBadNameTest, RejectsNamesThatCouldEscapeTheSearchDirectories) {
    ScratchDir scratch;
    const auto dir = scratch.path() / "plugins";
    std::filesystem::create_directories(dir);
    // Plant a file where a naive join finds "../x" (a sub-folder "libdigitpipe_stage_..")
    // so only the name check can refuse it.
    scratch.write("plugins/libdigitpipe_stage_../x.so", "x");

    const auto error = expect_throw<PluginError>([&] { find_stage_plugin(GetParam(), {dir}); });

    EXPECT_THAT(error.what(), AllOf(HasSubstr("invalid stage plugin name '" + GetParam() + "'"),
                                    HasSubstr(dir.string())));
}

INSTANTIATE_TEST_SUITE_P(PathTricks, FindStagePluginBadNameTest,
                         ::testing::Values("../x", "a/b", "/etc/passwd", "", "Echo", "echo.so",
                                           "echo ", "..", "ech-o"));

TEST(FindStagePluginTest, AcceptsLowercaseDigitsAndUnderscores) {
    EXPECT_TRUE(is_valid_stage_plugin_name("train_cnn2"));
    EXPECT_EQ(stage_plugin_file_name("train_cnn2"), "libdigitpipe_stage_train_cnn2.so");
}

// ---- load_stage_plugin: refusals ----------------------------------------------------------

TEST(LoadStagePluginTest, WrongAbiNamesTheFileAndBothVersions) {
    const auto file = fixture_plugin("wrong_abi");

    const auto error = expect_throw<PluginError>([&] { load_stage_plugin(file); });

    EXPECT_THAT(error.what(),
                AllOf(HasSubstr(file.string()), HasSubstr("built for stage ABI 999"),
                      HasSubstr("this host speaks " +
                                std::to_string(DIGITPIPE_STAGE_ABI_VERSION))));
    EXPECT_EQ(error.file(), file);
}

TEST(LoadStagePluginTest, MissingDescriptorSymbolIsRefused) {
    const auto file = fixture_plugin("no_symbol");

    const auto error = expect_throw<PluginError>([&] { load_stage_plugin(file); });

    EXPECT_THAT(error.what(), AllOf(HasSubstr(file.string()), HasSubstr("missing symbol"),
                                    HasSubstr("digitpipe_stage_descriptor_v1")));
}

TEST(LoadStagePluginTest, AFileThatIsNotALibraryGivesTheLoadersReason) {
    ScratchDir scratch;
    const auto file = scratch.write("libdigitpipe_stage_garbage.so",
                                    std::string(4096, 'G') + "this is not an ELF file\n");

    const auto error = expect_throw<PluginError>([&] { load_stage_plugin(file); });

    // "invalid ELF header" is glibc's dlerror() text: proof the loader's words are passed on.
    EXPECT_THAT(error.what(), AllOf(HasSubstr(file.string()), HasSubstr("cannot load"),
                                    HasSubstr("invalid ELF header")));
}

TEST(LoadStagePluginTest, AMissingFileGivesTheLoadersReason) {
    ScratchDir scratch;
    const auto file = scratch.path() / "libdigitpipe_stage_absent.so";

    const auto error = expect_throw<PluginError>([&] { load_stage_plugin(file); });

    EXPECT_THAT(error.what(),
                AllOf(HasSubstr(file.string()), HasSubstr("No such file or directory")));
}

TEST(LoadStagePluginTest, ThrowingCreateBecomesPluginErrorWithTheMessage) {
    const auto file = fixture_plugin("throws_in_create");

    const auto error = expect_throw<PluginError>([&] { load_stage_plugin(file); });

    EXPECT_THAT(error.what(), AllOf(HasSubstr(file.string()), HasSubstr("create failed"),
                                    HasSubstr("out of widgets")));
}

TEST(LoadStagePluginTest, NullFactoryIsRefused) {
    const auto file = fixture_plugin("null_create");

    const auto error = expect_throw<PluginError>([&] { load_stage_plugin(file); });

    EXPECT_THAT(error.what(), AllOf(HasSubstr(file.string()), HasSubstr("null create")));
}

TEST(LoadStagePluginTest, RefusedLibrariesAreNotLeftLoaded) {
    const auto file = fixture_plugin("wrong_abi");
    EXPECT_THROW(load_stage_plugin(file), PluginError);
    EXPECT_FALSE(is_library_loaded(file));
}

// ---- load + configure: the good plugin ----------------------------------------------------

TEST(LoadStagePluginTest, GoodPluginLoadsConfiguresAndServesARequest) {
    const auto file = fixture_plugin("good");
    FakeStageContext context("good");

    const LoadedStage loaded = load_stage_plugin(file);
    configure_stage(loaded, ConfigNode::parse("answer: 7\n", "good.yaml"), context);
    const Reply reply = loaded.stage->process(ping());

    EXPECT_EQ(loaded.name, "good");
    EXPECT_EQ(loaded.file, file);
    EXPECT_EQ(loaded.stage->health().state, HealthState::kReady);
    ASSERT_TRUE(reply.status.is_ok()) << reply.status.to_string();
    EXPECT_EQ(reply.header.at("answer"), 7);
    EXPECT_EQ(reply.header.at("pong"), true);
}

TEST(LoadStagePluginTest, TwoLoadsOfOneFileGiveIndependentStages) {
    const auto file = fixture_plugin("good");
    FakeStageContext context("good");
    const LoadedStage first = load_stage_plugin(file);
    const LoadedStage second = load_stage_plugin(file);

    configure_stage(first, ConfigNode::parse("answer: 1\n", "a.yaml"), context);
    configure_stage(second, ConfigNode::parse("answer: 2\n", "b.yaml"), context);

    EXPECT_EQ(first.stage->process(ping()).header.at("answer"), 1);
    EXPECT_EQ(second.stage->process(ping()).header.at("answer"), 2);
}

TEST(LoadStagePluginTest, LibraryStaysLoadedWhileAStageObjectLivesAndNoLonger) {
    const auto file = fixture_plugin("good");
    FakeStageContext context("good");
    ASSERT_FALSE(is_library_loaded(file)) << "another test leaked a reference to " << file;

    std::shared_ptr<Stage> stage;
    {
        LoadedStage loaded = load_stage_plugin(file);
        configure_stage(loaded, ConfigNode::parse("answer: 5\n", "good.yaml"), context);
        stage = loaded.stage;
    }  // everything but the shared_ptr<Stage> is gone

    ASSERT_TRUE(is_library_loaded(file)) << "unloaded under a live stage; calling it would crash";
    const Reply reply = stage->process(ping());  // plugin code still mapped
    EXPECT_EQ(reply.header.at("answer"), 5);

    stage.reset();
    EXPECT_FALSE(is_library_loaded(file)) << "the last stage released, but the library stayed";
}

// ---- configure_stage: failures --------------------------------------------------------------

TEST(ConfigureStageTest, ThrowingConfigureBecomesPluginErrorNamingTheFile) {
    const auto file = fixture_plugin("throws_in_configure");
    FakeStageContext context("throws");
    const LoadedStage loaded = load_stage_plugin(file);

    const auto error = expect_throw<PluginError>([&] {
        configure_stage(loaded, ConfigNode::parse("mode: resource\n", "t.yaml"), context);
    });

    EXPECT_THAT(error.what(), AllOf(HasSubstr(file.string()), HasSubstr("configure failed"),
                                    HasSubstr("cannot open /dev/widget")));
}

TEST(ConfigureStageTest, NonStandardExceptionStillBecomesPluginError) {
    const auto file = fixture_plugin("throws_in_configure");
    FakeStageContext context("throws");
    const LoadedStage loaded = load_stage_plugin(file);

    const auto error = expect_throw<PluginError>([&] {
        configure_stage(loaded, ConfigNode::parse("mode: unknown\n", "t.yaml"), context);
    });

    EXPECT_THAT(error.what(), AllOf(HasSubstr(file.string()), HasSubstr("unknown exception")));
}

TEST(ConfigureStageTest, ConfigErrorFromTheStageKeepsItsPositionAndOutlivesThePlugin) {
    FakeStageContext context("throws");
    const auto file = fixture_plugin("throws_in_configure");
    try {
        const LoadedStage loaded = load_stage_plugin(file);
        configure_stage(loaded, ConfigNode::parse("# comment\nmode: config_error\n",
                                                  "stages/throws.yaml"),
                        context);
        FAIL() << "configure_stage accepted mode: config_error";
    } catch (const ConfigError& error) {
        // Unwinding destroyed `loaded` before this handler ran, so the plugin is unloaded:
        // an exception object built by plugin code would crash here (doc/missuses.qbk).
        ASSERT_FALSE(is_library_loaded(file));
        ASSERT_EQ(error.problems().size(), 1u) << error.what();
        const ConfigProblem& problem = error.problems().front();
        EXPECT_EQ(problem.file, "stages/throws.yaml");
        EXPECT_EQ(problem.line, 2);
        EXPECT_GT(problem.column, 0);
        EXPECT_THAT(problem.path, HasSubstr("mode"));
        EXPECT_THAT(error.what(), AllOf(HasSubstr("stages/throws.yaml:2:"),
                                        HasSubstr("asked to fail with a config error")));
    }
}

TEST(ConfigureStageTest, UnknownParamKeyIsRejectedByFinish) {
    FakeStageContext context("good");
    const LoadedStage loaded = load_stage_plugin(fixture_plugin("good"));

    const auto error = expect_throw<ConfigError>([&] {
        configure_stage(loaded, ConfigNode::parse("answer: 1\nanwser: 2\n", "good.yaml"),
                        context);
    });

    EXPECT_THAT(error.what(), AllOf(HasSubstr("anwser"), HasSubstr("good.yaml:2:")));
}

TEST(ConfigureStageTest, BadValueRecordedByTheStageIsReportedByFinish) {
    FakeStageContext context("good");
    const LoadedStage loaded = load_stage_plugin(fixture_plugin("good"));

    const auto error = expect_throw<ConfigError>([&] {
        configure_stage(loaded, ConfigNode::parse("answer: lots\n", "good.yaml"), context);
    });

    EXPECT_THAT(error.what(), AllOf(HasSubstr("answer"), HasSubstr("good.yaml:1:")));
}

}  // namespace
}  // namespace digitpipe::framework
