// Unit tests of the transport-security configuration: CURVE key files (key_files.hpp), the
// deployment's `security` block and streams' server keys, and which endpoints count as
// leaving the host (deployment.hpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config_test_util.hpp"
#include "digitpipe/deployment.hpp"
#include "digitpipe/key_files.hpp"

namespace digitpipe::framework {
namespace {

using testing::config_error_of;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::problem_at;
using testing::TempDir;

// The test vectors of ZeroMQ's CURVE documentation: valid Z85 keys that belong together.
constexpr const char* kClientPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
constexpr const char* kClientSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
constexpr const char* kServerPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
constexpr const char* kServerSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

// Writes NAME.key and NAME.pub as `digitpipe keys` does.
void write_pair(const TempDir& dir, const std::string& name, const char* pub, const char* sec) {
    dir.write("keys/" + name + ".key", format_key_file(name, {pub, sec}));
    dir.write("keys/" + name + ".pub", format_key_file(name, {pub, ""}));
}

TEST(KeyFileTest, WhatFormatWritesReadReadsBack) {
    const TempDir dir;
    write_pair(dir, "hub", kServerPublic, kServerSecret);
    const auto pair = read_key_file(dir.path() / "keys/hub.key", /*need_secret=*/true);
    ASSERT_TRUE(pair.is_ok()) << pair.status().message();
    EXPECT_EQ(pair->public_key, kServerPublic);
    EXPECT_EQ(pair->secret_key, kServerSecret);
    const auto pub = read_key_file(dir.path() / "keys/hub.pub", /*need_secret=*/false);
    ASSERT_TRUE(pub.is_ok()) << pub.status().message();
    EXPECT_EQ(pub->public_key, kServerPublic);
    EXPECT_TRUE(pub->secret_key.empty());
    // The public file never carries the secret.
    EXPECT_THAT(format_key_file("hub", {kServerPublic, ""}), ::testing::Not(HasSubstr("secret-key")));
}

TEST(KeyFileTest, ProblemsNameTheFileAndLine) {
    const TempDir dir;
    const auto missing = read_key_file(dir.path() / "nope.key", true);
    ASSERT_FALSE(missing.is_ok());
    EXPECT_THAT(missing.status().message(), HasSubstr("nope.key"));
    EXPECT_THAT(missing.status().message(), HasSubstr("No such file"));

    const auto bad = dir.write("bad.key", "curve\n    public-key = \"tooshort\"\n");
    const auto bad_result = read_key_file(bad, false);
    ASSERT_FALSE(bad_result.is_ok());
    EXPECT_THAT(bad_result.status().message(), HasSubstr("bad.key:2: public-key is not a CURVE key"));

    write_pair(dir, "w", kClientPublic, kClientSecret);
    const auto no_secret = read_key_file(dir.path() / "keys/w.pub", /*need_secret=*/true);
    ASSERT_FALSE(no_secret.is_ok());
    EXPECT_THAT(no_secret.status().message(), HasSubstr("no secret-key line"));

    const auto empty = dir.write("empty.pub", "# nothing here\n");
    EXPECT_THAT(read_key_file(empty, false).status().message(), HasSubstr("no public-key line"));
}

TEST(KeyFileTest, Z85KeysAreFortyCharactersOfTheAlphabet) {
    EXPECT_TRUE(is_z85_key(kClientPublic));
    EXPECT_FALSE(is_z85_key(""));
    EXPECT_FALSE(is_z85_key(std::string(kClientPublic) + "x"));
    EXPECT_FALSE(is_z85_key(std::string(39, 'a') + "\""));  // '"' is not Z85
}

TEST(SecurityBlockTest, ReadsKeysAllowListFilesAndFoldersRelativeToTheFile) {
    const TempDir dir;
    write_pair(dir, "hub", kServerPublic, kServerSecret);
    write_pair(dir, "worker", kClientPublic, kClientSecret);
    dir.write("keys/clients/a.pub", format_key_file("a", {kClientPublic, ""}));
    dir.write("keys/clients/ignored.txt", "not a key");
    const auto file = dir.write("deploy.yaml",
                                "broker: {endpoint: 'tcp://10.1.2.3:5555'}\n"
                                "streams:\n"
                                "  mine: {endpoint: 'tcp://10.1.2.4:6000'}\n"
                                "  theirs: {endpoint: 'tcp://10.1.2.5:6000', server_public_key: "
                                "keys/worker.pub}\n"
                                "security:\n"
                                "  key: keys/worker.key\n"
                                "  broker_public_key: keys/hub.pub\n"
                                "  allowed_clients: [keys/hub.pub, keys/clients]\n");
    const auto deployment = load_deployment(file);
    EXPECT_TRUE(deployment.security.enabled());
    EXPECT_EQ(deployment.security.public_key, kClientPublic);
    EXPECT_EQ(deployment.security.secret_key, kClientSecret);
    EXPECT_EQ(deployment.security.broker_public_key, kServerPublic);
    EXPECT_THAT(deployment.security.allowed_clients, ElementsAre(kServerPublic, kClientPublic));
    // A stream's server key defaults to the broker's (one key for the host or cluster).
    EXPECT_EQ(deployment.streams.at("mine").server_public_key, kServerPublic);
    EXPECT_EQ(deployment.streams.at("theirs").server_public_key, kClientPublic);
}

TEST(SecurityBlockTest, WithoutTheBlockNothingIsEncrypted) {
    const TempDir dir;
    const auto file = dir.write("deploy.yaml", "broker: {endpoint: 'tcp://127.0.0.1:5555'}\n");
    EXPECT_FALSE(load_deployment(file).security.enabled());
}

TEST(SecurityBlockTest, ProblemsNameTheKeyAndTheFile) {
    const TempDir dir;
    write_pair(dir, "hub", kServerPublic, kServerSecret);
    dir.write("keys/empty/readme.txt", "no keys here");
    const auto file = dir.write("deploy.yaml",
                                "broker: {endpoint: 'tcp://127.0.0.1:5555'}\n"
                                "security:\n"
                                "  key: keys/hub.pub\n"
                                "  broker_public_key: keys/missing.pub\n"
                                "  allowed_clients: [keys/empty, 3, keys/hub.pub]\n");
    const auto problems = config_error_of([&] { load_deployment(file); }).problems();
    const auto key = problem_at(problems, "security.key");
    ASSERT_TRUE(key.has_value());
    EXPECT_THAT(key->message, HasSubstr("no secret-key line"));
    EXPECT_EQ(key->line, 3);
    const auto broker = problem_at(problems, "security.broker_public_key");
    ASSERT_TRUE(broker.has_value());
    EXPECT_THAT(broker->message, HasSubstr("missing.pub"));
    const auto folder = problem_at(problems, "security.allowed_clients[0]");
    ASSERT_TRUE(folder.has_value());
    EXPECT_THAT(folder->message, HasSubstr("holds no .pub files"));
    EXPECT_TRUE(problem_at(problems, "security.allowed_clients[1]").has_value());
}

TEST(SecurityBlockTest, AnUnknownKeyIsAProblem) {
    const TempDir dir;
    write_pair(dir, "hub", kServerPublic, kServerSecret);
    const auto file = dir.write("deploy.yaml",
                                "broker: {endpoint: 'tcp://127.0.0.1:5555'}\n"
                                "security:\n"
                                "  key: keys/hub.key\n"
                                "  broker_public_key: keys/hub.pub\n"
                                "  allow: [keys/hub.pub]\n");
    const auto problems = config_error_of([&] { load_deployment(file); }).problems();
    const auto unknown = problem_at(problems, "security");
    ASSERT_TRUE(unknown.has_value()) << problems.size();
    EXPECT_THAT(unknown->message, HasSubstr("allow"));
}

TEST(SecurityBlockTest, KeyAndBrokerKeyAreRequired) {
    const TempDir dir;
    const auto file = dir.write("deploy.yaml",
                                "broker: {endpoint: 'tcp://127.0.0.1:5555'}\n"
                                "security: {allowed_clients: []}\n");
    const auto problems = config_error_of([&] { load_deployment(file); }).problems();
    ASSERT_FALSE(problems.empty());
    std::string all;
    for (const auto& problem : problems) all += problem.to_string() + "\n";
    EXPECT_THAT(all, HasSubstr("'key'"));
    EXPECT_THAT(all, HasSubstr("'broker_public_key'"));
}

TEST(LoopbackTest, LoopbackHostsAreOnlyThisMachine) {
    for (const char* host : {"127.0.0.1", "127.1.2.3", "127.255.255.255", "localhost", "::1"}) {
        EXPECT_TRUE(is_loopback_host(host)) << host;
    }
    for (const char* host : {"0.0.0.0", "::", "*", "10.0.0.1", "128.0.0.1", "127.0.0",
                             "127.0.0.1.5", "127.0.0.256", "1270.0.0.1", "127.example.com",
                             "localhost.example.com", "example.com", "127.0.0.-1", ""}) {
        EXPECT_FALSE(is_loopback_host(host)) << host;
    }
}

TEST(LoopbackTest, OnlyLoopbackHostsStayOnThisMachine) {
    EXPECT_TRUE(is_loopback_tcp("tcp://127.0.0.1:5555"));
    EXPECT_TRUE(is_loopback_tcp("tcp://127.3.4.5:*"));
    EXPECT_TRUE(is_loopback_tcp("tcp://localhost:5555"));
    EXPECT_TRUE(is_loopback_tcp("tcp://[::1]:5555"));
    EXPECT_TRUE(is_loopback_tcp("tcp://10.0.0.1:4000;127.0.0.1:5555"));  // source;destination
    EXPECT_FALSE(is_loopback_tcp("tcp://*:5555"));
    EXPECT_FALSE(is_loopback_tcp("tcp://0.0.0.0:5555"));
    EXPECT_FALSE(is_loopback_tcp("tcp://10.77.0.1:5555"));
    EXPECT_FALSE(is_loopback_tcp("tcp://broker:5555"));
    EXPECT_FALSE(is_loopback_tcp("tcp://128.0.0.1:5555"));
    EXPECT_FALSE(is_loopback_tcp("tcp://127.example.com:5555"));  // a name, whatever it says
    EXPECT_FALSE(is_loopback_tcp("ipc:///tmp/x"));
}

TEST(LoopbackTest, EndpointsLeavingHostNamesEachKey) {
    const TempDir dir;
    const auto file = dir.write("deploy.yaml",
                                "broker:\n"
                                "  endpoint: 'tcp://*:5555'\n"
                                "  events_in: 'tcp://127.0.0.1:5556'\n"
                                "  events_out: 'tcp://10.0.0.2:5557'\n"
                                "streams:\n"
                                "  s: {endpoint: 'ipc:///tmp/s'}\n"
                                "  t: {endpoint: 'tcp://host:6000'}\n");
    const auto exposed = endpoints_leaving_host(load_deployment(file));
    std::vector<std::string> keys;
    for (const auto& e : exposed) keys.push_back(e.key_path + "=" + e.endpoint);
    EXPECT_THAT(keys, ElementsAre("broker.endpoint=tcp://*:5555",
                                  "broker.events_out=tcp://10.0.0.2:5557",
                                  "streams.t.endpoint=tcp://host:6000"));
}

}  // namespace
}  // namespace digitpipe::framework
