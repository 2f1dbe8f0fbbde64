// Unit tests of ConfigNode (framework/src/config): positions and key paths in messages, typed
// getters that record instead of throwing, read tracking for finish(), overrides, syntax
// errors, unreadable files and duplicate keys. Documents are small and inline, so each expected
// line:column can be counted by eye.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "config_test_util.hpp"
#include "digitpipe/config.hpp"

namespace digitpipe::framework {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::config_error_of;
using testing::finish_problems;
using testing::paths_of;
using testing::TempDir;

std::vector<std::string> messages_of(const std::vector<ConfigProblem>& problems) {
    std::vector<std::string> messages;
    for (const auto& problem : problems) {
        messages.push_back(problem.message);
    }
    return messages;
}

// ---- positions and paths

TEST(ConfigNodeTest, UnknownKeyNamesFileLineColumnAndPath) {
    TempDir dir;
    const auto file = dir.write("unknown.yaml",
                                "train:\n"
                                "  params:\n"
                                "    learning_rate: 0.1\n"
                                "    lerning_rate: 0.2\n");
    ConfigNode root = ConfigNode::load_file(file);
    EXPECT_DOUBLE_EQ(root.child("train").child("params").get<double>("learning_rate"), 0.1);

    const ConfigError error = config_error_of([&] { root.finish(); });
    ASSERT_EQ(error.problems().size(), 1u);
    const ConfigProblem& problem = error.problems()[0];
    EXPECT_EQ(problem.file, file.string());
    EXPECT_EQ(problem.line, 4);
    EXPECT_EQ(problem.column, 5);
    EXPECT_EQ(problem.path, "train.params");
    EXPECT_EQ(problem.message, "unknown key 'lerning_rate'");
    EXPECT_THAT(error.what(),
                HasSubstr(file.string() + ":4:5: train.params: unknown key 'lerning_rate'"));
}

TEST(ConfigNodeTest, WrongTypeIsReportedAtTheValue) {
    TempDir dir;
    const auto file = dir.write("type.yaml",
                                "broker:\n"
                                "  heartbeat_ms: abc\n");
    ConfigNode root = ConfigNode::load_file(file);
    int value = -1;
    EXPECT_NO_THROW(value = root.child("broker").get<int>("heartbeat_ms"));
    EXPECT_EQ(value, 0);

    const auto problems = root.problems();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(),
              file.string() + ":2:17: broker.heartbeat_ms: expected an integer, got 'abc'");
}

TEST(ConfigNodeTest, MissingKeyIsReportedAtTheParentMap) {
    TempDir dir;
    const auto file = dir.write("missing.yaml",
                                "stages:\n"
                                "  echo:\n"
                                "    service: digitpipe.echo\n");
    ConfigNode root = ConfigNode::load_file(file);
    ConfigNode echo = root.child("stages").child("echo");
    EXPECT_EQ(echo.get<std::string>("plugin"), "");
    EXPECT_EQ(echo.get<std::string>("service"), "digitpipe.echo");

    const auto problems = finish_problems(root);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(),
              file.string() + ":3:5: stages.echo: missing required key 'plugin'");
}

TEST(ConfigNodeTest, SeveralProblemsComeInOneErrorInDocumentOrder) {
    TempDir dir;
    const auto file = dir.write("several.yaml",
                                "a:\n"
                                "  count: x\n"
                                "  extra: 1\n"
                                "b:\n"
                                "  flag: yes\n"
                                "c: {}\n");
    ConfigNode root = ConfigNode::load_file(file);
    // Read in reverse document order: the error still lists problems as the file reads.
    root.child("c").get<std::string>("name");
    root.child("b").get<bool>("flag");
    root.child("a").get<int>("count");

    const ConfigError error = config_error_of([&] { root.finish(); });
    ASSERT_EQ(error.problems().size(), 4u);
    const auto& p = error.problems();
    EXPECT_EQ(p[0].to_string(), file.string() + ":2:10: a.count: expected an integer, got 'x'");
    EXPECT_EQ(p[1].to_string(), file.string() + ":3:3: a: unknown key 'extra'");
    EXPECT_EQ(p[2].to_string(), file.string() + ":5:9: b.flag: expected true or false, got 'yes'");
    EXPECT_EQ(p[3].to_string(), file.string() + ":6:4: c: missing required key 'name'");
    // what() lists them one per line.
    EXPECT_EQ(std::string(error.what()), p[0].to_string() + "\n" + p[1].to_string() + "\n" +
                                             p[2].to_string() + "\n" + p[3].to_string());
}

TEST(ConfigNodeTest, ReportAndCheckPointAtTheKeyOrTheNode) {
    ConfigNode root = ConfigNode::parse("train:\n"
                                        "  rate: -0.1\n",
                                        "inline.yaml");
    ConfigNode train = root.child("train");
    const double rate = train.get<double>("rate");
    EXPECT_FALSE(train.check(rate > 0, "rate", "must be > 0, got -0.1"));
    EXPECT_TRUE(train.check(true, "rate", "never recorded"));
    train.report("", "about the block");
    train.report("absent", "about a key that is not there");

    const auto problems = root.problems();
    ASSERT_EQ(problems.size(), 3u);
    EXPECT_EQ(problems[0].to_string(), "inline.yaml:2:3: train: about the block");
    EXPECT_EQ(problems[1].to_string(),
              "inline.yaml:2:3: train.absent: about a key that is not there");
    EXPECT_EQ(problems[2].to_string(), "inline.yaml:2:9: train.rate: must be > 0, got -0.1");
    EXPECT_EQ(train.position(), "inline.yaml:2:3");
}

TEST(ConfigNodeTest, MissingBlockIsReportedOnceNotPerKeyInside) {
    ConfigNode root = ConfigNode::parse("other: 1\n", "inline.yaml");
    ConfigNode broker = root.child("broker");
    EXPECT_TRUE(broker.is_map());
    EXPECT_EQ(broker.path(), "broker");
    EXPECT_EQ(broker.get<std::string>("endpoint"), "");
    EXPECT_EQ(broker.child("deeper").get<int>("x"), 0);
    root.get<int>("other");

    const auto problems = finish_problems(root);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(), "inline.yaml:1:1: missing required key 'broker'");
}

TEST(ConfigNodeTest, ScalarWhereABlockBelongsIsAProblem) {
    ConfigNode root = ConfigNode::parse("stages: 3\n", "inline.yaml");
    ConfigNode stages = root.child("stages");
    EXPECT_TRUE(stages.keys().empty());
    EXPECT_EQ(stages.get<std::string>("plugin"), "");  // not reported again

    const auto problems = finish_problems(root);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(),
              "inline.yaml:1:9: stages: expected a map or a list, got '3'");
}

TEST(ConfigNodeTest, GetOnAScalarNodeSaysItIsNotAMap) {
    ConfigNode root = ConfigNode::parse("list: [5]\n", "inline.yaml");
    ConfigNode element = root.child("list").elements().at(0);
    EXPECT_EQ(element.get<int>("x"), 0);
    const auto problems = root.problems();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(), "inline.yaml:1:8: list[0]: expected a map, got '5'");
}

// ---- typed getters

TEST(ConfigNodeTest, IntegersRejectFloatsQuotesAndOutOfRangeValues) {
    ConfigNode root = ConfigNode::parse("small: 42\n"
                                        "negative: -7\n"
                                        "hex: 0x1F\n"
                                        "octal: 0o17\n"
                                        "lowest: -2147483648\n"
                                        "float: 1.5\n"
                                        "big: 3000000000\n"
                                        "quoted: \"3\"\n"
                                        "huge: 99999999999999999999999\n",
                                        "inline.yaml");
    EXPECT_EQ(root.get<int>("small"), 42);
    EXPECT_EQ(root.get<int>("negative"), -7);
    EXPECT_EQ(root.get<int>("hex"), 31);
    EXPECT_EQ(root.get<int>("octal"), 15);
    EXPECT_EQ(root.get<int>("lowest"), INT_MIN);
    EXPECT_EQ(root.get<std::int64_t>("big"), 3000000000LL);
    EXPECT_EQ(root.get<std::uint64_t>("big"), 3000000000ULL);
    EXPECT_EQ(root.get<std::string>("quoted"), "3");
    EXPECT_TRUE(root.problems().empty());

    EXPECT_EQ(root.get<int>("float"), 0);
    EXPECT_EQ(root.get<int>("big"), 0);
    EXPECT_EQ(root.get<int>("quoted"), 0);
    EXPECT_EQ(root.get<std::uint64_t>("negative"), 0u);
    EXPECT_EQ(root.get<std::int64_t>("huge"), 0);

    const auto problems = root.problems();
    EXPECT_THAT(messages_of(problems),
                ElementsAre("expected a non-negative integer, got '-7'",
                            "expected an integer, got '1.5'",
                            "expected an integer in -2147483648..2147483647, got '3000000000'",
                            "expected an integer, got '3' (quoted, so a string)",
                            "expected an integer in -9223372036854775808..9223372036854775807, "
                            "got '99999999999999999999999'"));
}

TEST(ConfigNodeTest, BoolAcceptsOnlyTrueAndFalse) {
    ConfigNode root = ConfigNode::parse("a: true\n"
                                        "b: False\n"
                                        "c: yes\n"
                                        "d: 1\n"
                                        "e: \"true\"\n",
                                        "inline.yaml");
    EXPECT_TRUE(root.get<bool>("a"));
    EXPECT_FALSE(root.get_or<bool>("b", true));
    EXPECT_TRUE(root.get_or<bool>("c", true));  // the fallback: yes is not a bool here
    EXPECT_FALSE(root.get<bool>("d"));
    EXPECT_FALSE(root.get<bool>("e"));
    EXPECT_THAT(paths_of(root.problems()), ElementsAre("c", "d", "e"));
    EXPECT_EQ(root.problems()[0].message, "expected true or false, got 'yes'");
}

TEST(ConfigNodeTest, DoubleAcceptsIntegersAndYamlSpellings) {
    ConfigNode root = ConfigNode::parse("int: 3\n"
                                        "exp: 1e-3\n"
                                        "plus: +2.5\n"
                                        "inf: -.inf\n"
                                        "word: nan\n"
                                        "big: 1e999\n",
                                        "inline.yaml");
    EXPECT_DOUBLE_EQ(root.get<double>("int"), 3.0);
    EXPECT_DOUBLE_EQ(root.get<double>("exp"), 0.001);
    EXPECT_DOUBLE_EQ(root.get<double>("plus"), 2.5);
    EXPECT_TRUE(std::isinf(root.get<double>("inf")));
    EXPECT_DOUBLE_EQ(root.get_or<double>("word", 7.0), 7.0);
    EXPECT_DOUBLE_EQ(root.get<double>("big"), 0.0);
    EXPECT_THAT(messages_of(root.problems()),
                ElementsAre("expected a number, got 'nan'",
                            "expected a number within double range, got '1e999'"));
}

TEST(ConfigNodeTest, ListsReportTheElementPath) {
    ConfigNode root = ConfigNode::parse("sizes: [1, x, 3]\n"
                                        "names: [a, b]\n"
                                        "rates: [1, 2.5]\n"
                                        "one: 3\n",
                                        "inline.yaml");
    EXPECT_THAT(root.get<std::vector<std::string>>("names"), ElementsAre("a", "b"));
    EXPECT_THAT(root.get<std::vector<double>>("rates"), ElementsAre(1.0, 2.5));
    EXPECT_THAT(root.get<std::vector<int>>("sizes"), IsEmpty());
    EXPECT_THAT(root.get_or<std::vector<int>>("one", {9}), ElementsAre(9));

    const auto problems = root.problems();
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].to_string(), "inline.yaml:1:12: sizes[1]: expected an integer, got 'x'");
    EXPECT_EQ(problems[1].to_string(),
              "inline.yaml:4:6: one: expected a list of integers, got '3'");
}

TEST(ConfigNodeTest, GetOrFallsBackOnlyWhenAbsentOrNull) {
    ConfigNode root = ConfigNode::parse("present: 5\n"
                                        "bad: x\n"
                                        "empty:\n",
                                        "inline.yaml");
    EXPECT_EQ(root.get_or<int>("absent", 7), 7);
    EXPECT_EQ(root.get_or<int>("present", 7), 5);
    EXPECT_EQ(root.get_or<int>("empty", 7), 7);
    EXPECT_FALSE(root.has("empty"));
    EXPECT_TRUE(root.has("present"));
    EXPECT_FALSE(root.has("absent"));
    EXPECT_EQ(root.get_or<int>("bad", 7), 7);
    EXPECT_THAT(paths_of(root.problems()), ElementsAre("bad"));
}

TEST(ConfigNodeTest, RequiredKeyWithoutAValueIsReportedAtTheKey) {
    ConfigNode root = ConfigNode::parse("stage:\n"
                                        "  plugin:\n"
                                        "  replicas: 2\n",
                                        "inline.yaml");
    ConfigNode stage = root.child("stage");
    EXPECT_EQ(stage.get<std::string>("plugin"), "");
    EXPECT_EQ(stage.get<int>("replicas"), 2);
    const auto problems = finish_problems(root);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(), "inline.yaml:2:3: stage: required key 'plugin' has no value");
}

TEST(ConfigNodeTest, NullBlockIsAnEmptyMapWhoseMissingKeysStillCount) {
    ConfigNode root = ConfigNode::parse("echo:\n"
                                        "other: 1\n",
                                        "inline.yaml");
    ConfigNode echo = root.child("echo");
    EXPECT_TRUE(echo.is_map());
    EXPECT_TRUE(root.problems().empty());
    echo.get<std::string>("plugin");
    const auto problems = root.problems();
    ASSERT_EQ(problems.size(), 1u);
    // A null value has no position of its own; the key's is used.
    EXPECT_EQ(problems[0].to_string(), "inline.yaml:1:1: echo: missing required key 'plugin'");
}

TEST(ConfigNodeTest, GettersNeverThrow) {
    ConfigNode root = ConfigNode::parse("a: {b: 1}\nc: [1, 2]\n", "inline.yaml");
    EXPECT_NO_THROW({
        root.get<int>("a");
        root.get<std::string>("c");
        root.get<std::vector<int>>("a");
        root.child("c").get<int>("x");
        root.child("missing").child("deeper").get<bool>("y");
        root.find("a")->child("b");
    });
    EXPECT_FALSE(root.problems().empty());
}

// ---- read tracking and finish()

TEST(ConfigNodeTest, HasGetChildAndFindReadButKeysAndElementsDoNot) {
    ConfigNode root = ConfigNode::parse("a: 1\n"
                                        "b: {x: 1}\n"
                                        "c: [1]\n"
                                        "d: 2\n"
                                        "f: {y: 2}\n"
                                        "list:\n"
                                        "  - name: n\n"
                                        "    extra: 1\n",
                                        "inline.yaml");
    root.has("a");
    root.child("b").get<int>("x");
    root.find("c");
    EXPECT_THAT(root.keys(), ElementsAre("a", "b", "c", "d", "f", "list"));
    EXPECT_THAT(root.find("f")->keys(), ElementsAre("y"));
    auto elements = root.child("list").elements();
    ASSERT_EQ(elements.size(), 1u);
    EXPECT_EQ(elements[0].path(), "list[0]");
    EXPECT_EQ(elements[0].get<std::string>("name"), "n");

    const auto problems = finish_problems(root);
    EXPECT_THAT(paths_of(problems), ElementsAre("", "f", "list[0]"));
    EXPECT_THAT(messages_of(problems),
                ElementsAre("unknown key 'd'", "unknown key 'y'", "unknown key 'extra'"));
    EXPECT_EQ(problems[2].to_string(), "inline.yaml:8:5: list[0]: unknown key 'extra'");
}

TEST(ConfigNodeTest, MarkReadHidesASubtreeFromAncestorsButNotFromItself) {
    ConfigNode root = ConfigNode::parse("stages:\n"
                                        "  train:\n"
                                        "    plugin: train\n"
                                        "    params:\n"
                                        "      learning_rate: 0.1\n"
                                        "      lerning_rate: 0.2\n"
                                        "      model: {depth: 3}\n",
                                        "inline.yaml");
    ConfigNode train = root.child("stages").child("train");
    train.get<std::string>("plugin");
    train.mark_read("params");
    EXPECT_NO_THROW(root.finish());

    // The stage checks its own block: reads inside it count, the mark above does not.
    ConfigNode params = train.child("params");
    params.get<double>("learning_rate");
    params.mark_read("model");
    const auto problems = finish_problems(params);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(),
              "inline.yaml:6:7: stages.train.params: unknown key 'lerning_rate'");

    params.mark_read("lerning_rate");
    EXPECT_NO_THROW(params.finish());
}

TEST(ConfigNodeTest, FinishReportsProblemsRecordedAnywhere) {
    ConfigNode root = ConfigNode::parse("a: {x: bad}\nb: {}\n", "inline.yaml");
    root.child("a").get<int>("x");
    root.mark_read("b");
    // finish() on another, clean part still fails: the document has a problem.
    const auto problems = finish_problems(root.child("b"));
    EXPECT_THAT(paths_of(problems), ElementsAre("a.x"));
}

// ---- overrides

TEST(ConfigNodeTest, OverridesSetNumbersStringsListsAndNewKeys) {
    TempDir dir;
    const auto file = dir.write("base.yaml",
                                "broker:\n"
                                "  endpoint: tcp://127.0.0.1:5555\n"
                                "  heartbeat_ms: 1000\n"
                                "layers: [{size: 4}, {size: 8}]\n"
                                "empty:\n");
    ConfigNode root = ConfigNode::load_file(
        file, {"broker.heartbeat_ms=250", "broker.endpoint=ipc://@x", "sizes=[1, 2, 3]",
               "new.nested.key=hello", "layers[1].size=16", "layers[2].size=32", "empty.x=1"});
    ConfigNode broker = root.child("broker");
    EXPECT_EQ(broker.get<int>("heartbeat_ms"), 250);
    EXPECT_EQ(broker.get<std::string>("endpoint"), "ipc://@x");
    EXPECT_THAT(root.get<std::vector<int>>("sizes"), ElementsAre(1, 2, 3));
    EXPECT_EQ(root.child("new").child("nested").get<std::string>("key"), "hello");
    EXPECT_EQ(root.child("empty").get<int>("x"), 1);
    auto layers = root.child("layers").elements();
    ASSERT_EQ(layers.size(), 3u);
    EXPECT_EQ(layers[0].get<int>("size"), 4);
    EXPECT_EQ(layers[1].get<int>("size"), 16);
    EXPECT_EQ(layers[2].get<int>("size"), 32);
    EXPECT_NO_THROW(root.finish());
    EXPECT_THAT(root.dump(), HasSubstr("heartbeat_ms: 250"));
}

TEST(ConfigNodeTest, MalformedOverridesAreRejectedNamingThem) {
    const std::vector<std::string> malformed = {
        "no_equals", "=3", " =3", "a..b=1", "a.=1", "a[x]=1", "a=[1, 2", "a.b=1", "list[5]=1",
    };
    for (const auto& text : malformed) {
        SCOPED_TRACE(text);
        const ConfigError error = config_error_of(
            [&] { ConfigNode::parse("a: string\nlist: [1]\n", "inline.yaml", {text}); });
        ASSERT_EQ(error.problems().size(), 1u);
        EXPECT_EQ(error.problems()[0].file, "--set " + text);
        EXPECT_EQ(error.problems()[0].line, 0);
        EXPECT_THAT(error.what(), HasSubstr("--set " + text));
    }
    // Every bad override in one error.
    const ConfigError error =
        config_error_of([&] { ConfigNode::parse("a: 1\n", "inline.yaml", {"x", "=1", "b=2"}); });
    EXPECT_EQ(error.problems().size(), 2u);
}

TEST(ConfigNodeTest, ProblemAboutAnOverriddenValueNamesTheOverride) {
    ConfigNode root = ConfigNode::parse("a:\n"
                                        "  count: 1\n"
                                        "  name: x\n",
                                        "inline.yaml",
                                        {"a.count=abc", "a.cuont=2", "fresh.x=1"});
    ConfigNode a = root.child("a");
    EXPECT_EQ(a.get<int>("count"), 0);
    a.get<std::string>("name");
    ConfigNode fresh = root.child("fresh");
    fresh.get<int>("x");
    fresh.get<int>("y");
    EXPECT_EQ(fresh.position(), "--set fresh.x=1");

    const auto problems = finish_problems(root);
    ASSERT_EQ(problems.size(), 3u);
    EXPECT_EQ(problems[0].to_string(),
              "--set a.count=abc: a.count: expected an integer, got 'abc'");
    EXPECT_EQ(problems[0].line, 0);
    EXPECT_EQ(problems[1].to_string(), "--set a.cuont=2: a: unknown key 'cuont'");
    EXPECT_EQ(problems[2].to_string(), "--set fresh.x=1: fresh: missing required key 'y'");
}

// ---- loading

TEST(ConfigNodeTest, SyntaxErrorCarriesItsPosition) {
    TempDir dir;
    const auto file = dir.write("syntax.yaml",
                                "ok: 1\n"
                                "a: b: c\n");
    const ConfigError error = config_error_of([&] { ConfigNode::load_file(file); });
    ASSERT_EQ(error.problems().size(), 1u);
    EXPECT_EQ(error.problems()[0].file, file.string());
    EXPECT_EQ(error.problems()[0].line, 2);
    EXPECT_EQ(error.problems()[0].column, 5);
    EXPECT_THAT(error.problems()[0].message, HasSubstr("YAML syntax error"));
    EXPECT_THAT(error.what(), HasSubstr(file.string() + ":2:5: YAML syntax error"));
}

TEST(ConfigNodeTest, UnreadableFileNamesTheFileAndTheReason) {
    TempDir dir;
    const auto missing = dir.path() / "missing.yaml";
    ConfigError error = config_error_of([&] { ConfigNode::load_file(missing); });
    ASSERT_EQ(error.problems().size(), 1u);
    EXPECT_EQ(error.problems()[0].file, missing.string());
    EXPECT_THAT(error.what(), HasSubstr(missing.string()));
    EXPECT_THAT(error.what(), HasSubstr("No such file or directory"));

    error = config_error_of([&] { ConfigNode::load_file(dir.path()); });
    EXPECT_THAT(error.what(), HasSubstr("Is a directory"));
}

TEST(ConfigNodeTest, DuplicateKeysAreProblems) {
    TempDir dir;
    const auto file = dir.write("dup.yaml",
                                "a: 1\n"
                                "b:\n"
                                "  c: 1\n"
                                "  c: 2\n"
                                "a: 3\n");
    ConfigNode root = ConfigNode::load_file(file);
    root.get<int>("a");
    root.child("b").get<int>("c");
    const auto problems = finish_problems(root);
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].to_string(),
              file.string() + ":4:3: b: duplicate key 'c' (first at line 3)");
    EXPECT_EQ(problems[1].to_string(), file.string() + ":5:1: duplicate key 'a' (first at line 1)");
}

// Found with tests/fuzz (fuzz_config, a hand-made input): aliases of aliases expand
// exponentially, and every walk of the tree (the duplicate-key check at load, finish())
// visited each expansion: this 300-byte document held two million list elements and hung the
// loader.
TEST(ConfigNodeTest, AliasBombIsRefusedInsteadOfExpanded) {
    std::string text = "l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1]\n";
    for (int level = 1; level < 7; ++level) {
        const std::string previous = "*l" + std::to_string(level - 1);
        text += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
        for (int i = 0; i < 8; ++i) text += (i > 0 ? ", " : "") + previous;
        text += "]\n";
    }
    const ConfigError error = config_error_of([&] { ConfigNode::parse(text, "bomb.yaml"); });
    ASSERT_EQ(error.problems().size(), 1u);
    EXPECT_EQ(error.problems()[0].file, "bomb.yaml");
    EXPECT_GT(error.problems()[0].line, 0);
    EXPECT_THAT(error.problems()[0].message,
                HasSubstr("expands to more than 20000 map entries and list elements"));
    EXPECT_THAT(error.problems()[0].message, HasSubstr("aliases"));
}

// Found by tests/fuzz (fuzz_config): an alias inside its own anchor makes the tree a cycle,
// and the duplicate-key walk at load recursed until the stack overflowed.
TEST(ConfigNodeTest, AliasInsideItsOwnAnchorIsRefused) {
    const ConfigError error =
        config_error_of([] { ConfigNode::parse("a: &a {b: 1, c: *a}\n", "cycle.yaml"); });
    ASSERT_EQ(error.problems().size(), 1u);
    EXPECT_EQ(error.problems()[0].file, "cycle.yaml");
    EXPECT_THAT(error.problems()[0].path, ::testing::StartsWith("a.c.c.c"));
    EXPECT_THAT(error.problems()[0].message, HasSubstr("nested more than 256 levels deep"));
}

TEST(ConfigNodeTest, AnchorsAndAliasesWithinTheLimitLoad) {
    ConfigNode root = ConfigNode::parse("base: &b {size: 3}\n"
                                        "a: *b\n"
                                        "b: [*b, *b]\n",
                                        "aliases.yaml");
    EXPECT_EQ(root.child("a").get<int>("size"), 3);
    root.mark_read("base");
    root.mark_read("b");
    EXPECT_THAT(finish_problems(root), IsEmpty());
}

TEST(ConfigNodeTest, EmptyDocumentIsAnEmptyMap) {
    ConfigNode root = ConfigNode::parse("", "empty.yaml");
    EXPECT_TRUE(root.is_map());
    EXPECT_NO_THROW(root.finish());
    root.get<int>("x");
    EXPECT_EQ(root.problems().at(0).to_string(), "empty.yaml: missing required key 'x'");
}

// ---- value semantics

TEST(ConfigNodeTest, AssignmentRebindsWithoutWritingIntoTheDocument) {
    ConfigNode root = ConfigNode::parse("x: {v: 1}\ny: {v: 2}\n", "inline.yaml");
    ConfigNode node = root.child("x");
    node = root.child("y");
    EXPECT_EQ(node.path(), "y");
    EXPECT_EQ(node.get<int>("v"), 2);
    EXPECT_EQ(root.child("x").get<int>("v"), 1);

    ConfigNode moved = root.child("x");
    moved = ConfigNode(root.child("y"));
    EXPECT_EQ(root.child("x").get<int>("v"), 1);
    EXPECT_EQ(moved.get<int>("v"), 2);
}

TEST(ConfigNodeTest, DefaultConstructedIsAnEmptyMapNamedNone) {
    ConfigNode node;
    EXPECT_TRUE(node.is_map());
    EXPECT_TRUE(node.keys().empty());
    EXPECT_EQ(node.file(), "<none>");
    EXPECT_EQ(node.path(), "");
    EXPECT_NO_THROW(node.finish());
    node.get<int>("x");
    EXPECT_EQ(node.problems().at(0).to_string(), "<none>: missing required key 'x'");
    // Two default nodes do not share a document.
    EXPECT_TRUE(ConfigNode().problems().empty());
}

}  // namespace
}  // namespace digitpipe::framework
