// Unit tests of the 7/MDP frame helpers (framework/src/messaging/mdp_frames.cpp), including
// the prefetch credit frame, and the "mmi.services" line format (mmi.cpp). Internal headers
// are reached by relative path: the messaging library keeps src/ private.
#include <gtest/gtest.h>

#include <string>

#include "digitpipe/mdp.hpp"
#include "messaging/mdp_frames.hpp"
#include "messaging/mmi.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::string_literals;

TEST(MdpFramesTest, ParsesTheFiveCommandsOnly) {
    for (int byte = 1; byte <= 5; ++byte) {
        const char c = static_cast<char>(byte);
        const auto command = mdp::parse_command(zmq::message_t(&c, 1));
        ASSERT_TRUE(command.has_value()) << byte;
        EXPECT_EQ(static_cast<int>(*command), byte);
        EXPECT_EQ(mdp::command_frame(*command), std::string(1, c));
    }
    EXPECT_FALSE(mdp::parse_command(zmq::message_t("\x00"s.data(), 1)));
    EXPECT_FALSE(mdp::parse_command(zmq::message_t("\x06"s.data(), 1)));
    EXPECT_FALSE(mdp::parse_command(zmq::message_t("\x01\x01"s.data(), 2)));
    EXPECT_FALSE(mdp::parse_command(zmq::message_t()));
    EXPECT_EQ(mdp::command_name(mdp::Command::kHeartbeat), "HEARTBEAT");
}

TEST(MdpFramesTest, WritesIdentitiesAsHex) {
    EXPECT_EQ(mdp::to_hex("\x00\xa1\xff"s), "00a1ff");
    EXPECT_EQ(mdp::to_hex(""), "");
}

TEST(MdpFramesTest, DescribesTextAsTextAndBinaryAsHex) {
    EXPECT_EQ(mdp::describe_frame("MDPC01"), "[6] MDPC01");
    EXPECT_EQ(mdp::describe_frame("\x01"s), "[1] 0x01");
    EXPECT_EQ(mdp::describe_frame(""), "[0] ");
    const std::string long_text(100, 'a');
    EXPECT_EQ(mdp::describe_frame(long_text), "[100] " + std::string(48, 'a') + "...");
}

TEST(MdpFramesTest, DescribesAllPartsInOrder) {
    mdp::Parts parts;
    parts.emplace_back(std::string_view(""));
    parts.emplace_back(std::string_view("MDPW01"));
    parts.emplace_back(std::string_view("\x04", 1));
    EXPECT_EQ(mdp::describe_parts(parts), "[0]  | [6] MDPW01 | [1] 0x04");
    EXPECT_EQ(mdp::total_size(parts), 7u);
}

TEST(MdpFramesTest, ParsesThePrefetchCreditAsPlainDecimalInRange) {
    const auto credit = [](const std::string& text) {
        return mdp::parse_prefetch(zmq::message_t(text.data(), text.size()));
    };
    EXPECT_EQ(credit("1"), 1);
    EXPECT_EQ(credit("64"), 64);
    EXPECT_EQ(credit(std::to_string(kMaxPrefetch)), kMaxPrefetch);
    for (const std::string bad :
         {"", "0", "-1", "+4", " 4", "4 ", "abc", "4x", "1025", "5000", "99999999999999999999"}) {
        EXPECT_FALSE(credit(bad).has_value()) << "'" << bad << "'";
    }
}

TEST(MmiTest, ServiceLineRoundTrips) {
    const ServiceStats stats{/*workers_idle=*/2, /*workers_busy=*/1, /*queued=*/7,
                             /*in_flight=*/16};
    const std::string line = mmi::format_service_line("digitpipe.infer", stats);
    EXPECT_EQ(line, "digitpipe.infer 2 1 7 16");
    const auto parsed = mmi::parse_service_line(line);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->first, "digitpipe.infer");
    EXPECT_EQ(parsed->second.workers_idle, 2u);
    EXPECT_EQ(parsed->second.workers_busy, 1u);
    EXPECT_EQ(parsed->second.queued, 7u);
    EXPECT_EQ(parsed->second.in_flight, 16u);
}

TEST(MmiTest, ReadsTheLinesOfOlderBrokers) {
    // Before the prefetch extension: "name idle busy queued", one request per busy worker.
    const auto parsed = mmi::parse_service_line("digitpipe.infer 2 3 7");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->first, "digitpipe.infer");
    EXPECT_EQ(parsed->second.workers_idle, 2u);
    EXPECT_EQ(parsed->second.workers_busy, 3u);
    EXPECT_EQ(parsed->second.queued, 7u);
    EXPECT_EQ(parsed->second.in_flight, 3u);
}

TEST(MmiTest, ServiceLineKeepsSpacesInTheName) {
    const auto parsed = mmi::parse_service_line("odd name 0 0 3 5");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->first, "odd name");
    EXPECT_EQ(parsed->second.queued, 3u);
    EXPECT_EQ(parsed->second.in_flight, 5u);
}

TEST(MmiTest, RejectsLinesOfTheWrongShape) {
    EXPECT_FALSE(mmi::parse_service_line(""));
    EXPECT_FALSE(mmi::parse_service_line("name 1 2"));
    EXPECT_FALSE(mmi::parse_service_line("1 2 3"));
    EXPECT_FALSE(mmi::parse_service_line("name 1 2 x"));
    EXPECT_FALSE(mmi::parse_service_line("name 1 -2 3"));
    EXPECT_FALSE(mmi::parse_service_line("name 1 2 3 "));
    EXPECT_FALSE(mmi::parse_service_line("name 1 2 3 4 "));
}

TEST(MmiTest, ReservesTheMmiPrefix) {
    EXPECT_TRUE(mmi::is_mmi("mmi.service"));
    EXPECT_TRUE(mmi::is_mmi("mmi.anything"));
    EXPECT_FALSE(mmi::is_mmi("digitpipe.infer"));
    EXPECT_FALSE(mmi::is_mmi("mmi"));
}

}  // namespace
}  // namespace digitpipe::framework
