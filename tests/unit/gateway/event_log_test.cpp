// The gateway's event log (web/gateway/event_log.hpp): numbering from 1, "after" semantics,
// the bounded buffer and the gap flag, timestamps.
#include "event_log.hpp"

#include <gtest/gtest.h>

namespace digitpipe::gateway {
namespace {

using std::chrono::system_clock;

std::vector<std::uint64_t> seqs(const EventBatch& batch) {
    std::vector<std::uint64_t> out;
    for (const auto* e : batch.events) out.push_back(e->seq);
    return out;
}

TEST(EventLogTest, NumbersEventsFromOneAndAnswersWhatCameAfter) {
    EventLog log(10);
    EXPECT_EQ(log.last_seq(), 0u);
    const auto empty = log.after(0);
    EXPECT_TRUE(empty.events.empty());
    EXPECT_FALSE(empty.gap);
    EXPECT_EQ(empty.next, 0u);

    for (int i = 0; i < 3; ++i) log.append("train.progress", {{"step", i}}, system_clock::now());
    EXPECT_EQ(log.last_seq(), 3u);
    const auto all = log.after(0);
    EXPECT_EQ(seqs(all), (std::vector<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(all.next, 3u);
    EXPECT_FALSE(all.gap);
    EXPECT_EQ(all.events[2]->data["step"], 2);
    EXPECT_EQ(seqs(log.after(2)), (std::vector<std::uint64_t>{3}));
    const auto none = log.after(3);
    EXPECT_TRUE(none.events.empty());
    EXPECT_EQ(none.next, 3u);
    EXPECT_FALSE(none.gap);
}

TEST(EventLogTest, KeepsTheLastCapacityEventsAndReportsAGap) {
    EventLog log(3);
    for (int i = 0; i < 5; ++i) log.append("t", i, system_clock::now());
    EXPECT_EQ(log.size(), 3u);
    const auto lost = log.after(1);  // 2 was dropped
    EXPECT_TRUE(lost.gap);
    EXPECT_EQ(seqs(lost), (std::vector<std::uint64_t>{3, 4, 5}));
    EXPECT_EQ(lost.next, 5u);
    const auto fine = log.after(2);  // 3 onwards are all kept
    EXPECT_FALSE(fine.gap);
    EXPECT_EQ(seqs(fine), (std::vector<std::uint64_t>{3, 4, 5}));
}

TEST(EventLogTest, ASeqFromTheFutureMeansStartOver) {
    EventLog log;
    log.append("t", 1, system_clock::now());
    const auto batch = log.after(500);  // a client of an earlier gateway process
    EXPECT_TRUE(batch.gap);
    EXPECT_EQ(seqs(batch), (std::vector<std::uint64_t>{1}));
    EXPECT_EQ(batch.next, 1u);
    EventLog fresh;
    EXPECT_TRUE(fresh.after(7).gap);
    EXPECT_EQ(fresh.after(7).next, 0u);
}

TEST(EventLogTest, RendersTheApiShape) {
    EventLog log;
    const auto when = system_clock::time_point(std::chrono::milliseconds(1'795'100'463'120));
    log.append("train.note", {{"run", "r"}, {"text", "hi"}}, when);
    const auto json = log.after(0).to_json();
    EXPECT_EQ(json["next"], 1);
    EXPECT_EQ(json["gap"], false);
    ASSERT_EQ(json["events"].size(), 1u);
    EXPECT_EQ(json["events"][0]["seq"], 1);
    EXPECT_EQ(json["events"][0]["topic"], "train.note");
    EXPECT_EQ(json["events"][0]["data"]["text"], "hi");
    EXPECT_EQ(json["events"][0]["time"], "2026-11-19T15:01:03.120Z");
    EXPECT_EQ(format_utc_seconds(when), "2026-11-19T15:01:03Z");
    EXPECT_THROW(EventLog(0), std::invalid_argument);
}

}  // namespace
}  // namespace digitpipe::gateway
