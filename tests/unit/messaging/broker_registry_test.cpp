// Unit tests of the broker's queueing rules (framework/src/messaging/broker_registry.cpp):
// least-recently-used dispatch, per-service queue cap, requeue at the front, age limit.
// No sockets: requests are plain zmq messages.
#include <gtest/gtest.h>

#include <string>

#include "messaging/broker_registry.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;

// A client request as the ROUTER delivers it; `tag` goes in the body to tell requests apart.
mdp::Parts request(const std::string& tag) {
    mdp::Parts parts;
    parts.emplace_back(std::string_view("client"));
    parts.emplace_back(std::string_view(""));
    parts.emplace_back(std::string_view("MDPC01"));
    parts.emplace_back(std::string_view("svc"));
    parts.emplace_back(tag);
    return parts;
}

std::string tag_of(const QueuedRequest& queued) { return queued.parts.at(4).to_string(); }

class BrokerRegistryTest : public ::testing::Test {
 protected:
    BrokerClock::time_point t0 = BrokerClock::now();
    BrokerRegistry registry{/*max_queued_per_service=*/3};
    std::uint64_t dropped = 0;
};

TEST_F(BrokerRegistryTest, SubmitGoesToTheLeastRecentlyUsedIdleWorker) {
    ServiceEntry& service = registry.ensure_service("svc");
    WorkerEntry& a = registry.add_worker("a", service, t0 + 1s);
    WorkerEntry& b = registry.add_worker("b", service, t0 + 1s);

    auto first = request("1");
    EXPECT_EQ(registry.submit(service, first, t0, dropped), &a);
    EXPECT_TRUE(first.empty());
    EXPECT_TRUE(a.busy);
    EXPECT_EQ(tag_of(a.serving), "1");
    registry.release(a);  // a is now the most recently used

    auto second = request("2");
    EXPECT_EQ(registry.submit(service, second, t0, dropped), &b);
    auto third = request("3");
    EXPECT_EQ(registry.submit(service, third, t0, dropped), &a);
    EXPECT_EQ(dropped, 0u);
}

TEST_F(BrokerRegistryTest, QueuesWhileNoWorkerIsIdleAndServesOldestFirst) {
    ServiceEntry& service = registry.ensure_service("svc");
    auto one = request("1");
    auto two = request("2");
    EXPECT_EQ(registry.submit(service, one, t0, dropped), nullptr);
    EXPECT_EQ(registry.submit(service, two, t0, dropped), nullptr);
    EXPECT_EQ(service.queue.size(), 2u);

    WorkerEntry& worker = registry.add_worker("w", service, t0 + 1s);
    EXPECT_EQ(registry.assign_next(service), &worker);
    EXPECT_EQ(tag_of(worker.serving), "1");
    EXPECT_EQ(registry.assign_next(service), nullptr);  // no idle worker left
    registry.release(worker);
    EXPECT_EQ(registry.assign_next(service), &worker);
    EXPECT_EQ(tag_of(worker.serving), "2");
}

TEST_F(BrokerRegistryTest, DropsTheOldestBeyondTheQueueCap) {
    ServiceEntry& service = registry.ensure_service("svc");
    for (int i = 0; i < 5; ++i) {
        auto parts = request(std::to_string(i));
        registry.submit(service, parts, t0, dropped);
    }
    EXPECT_EQ(dropped, 2u);
    ASSERT_EQ(service.queue.size(), 3u);
    EXPECT_EQ(tag_of(service.queue.front()), "2");
    EXPECT_EQ(tag_of(service.queue.back()), "4");
    EXPECT_EQ(service.dropped_unreported, 2u);
}

TEST_F(BrokerRegistryTest, RequeuesABusyWorkersRequestAtTheFront) {
    ServiceEntry& service = registry.ensure_service("svc");
    WorkerEntry& worker = registry.add_worker("w", service, t0 + 1s);
    auto served = request("served");
    ASSERT_EQ(registry.submit(service, served, t0, dropped), &worker);
    auto waiting = request("waiting");
    ASSERT_EQ(registry.submit(service, waiting, t0, dropped), nullptr);

    EXPECT_TRUE(registry.remove_worker(worker));
    EXPECT_EQ(registry.find_worker("w"), nullptr);
    ASSERT_EQ(service.queue.size(), 2u);
    EXPECT_EQ(tag_of(service.queue.front()), "served");
    EXPECT_EQ(service.workers, 0u);
}

TEST_F(BrokerRegistryTest, RemovingAnIdleWorkerRequeuesNothing) {
    ServiceEntry& service = registry.ensure_service("svc");
    WorkerEntry& worker = registry.add_worker("w", service, t0 + 1s);
    EXPECT_FALSE(registry.remove_worker(worker));
    EXPECT_TRUE(service.idle.empty());
    EXPECT_TRUE(service.queue.empty());
}

TEST_F(BrokerRegistryTest, DropsRequestsOlderThanTheCutoff) {
    ServiceEntry& service = registry.ensure_service("svc");
    auto old_request = request("old");
    auto new_request = request("new");
    registry.submit(service, old_request, t0, dropped);
    registry.submit(service, new_request, t0 + 10s, dropped);
    EXPECT_EQ(registry.drop_requests_before(t0 + 5s), 1u);
    ASSERT_EQ(service.queue.size(), 1u);
    EXPECT_EQ(tag_of(service.queue.front()), "new");
}

TEST_F(BrokerRegistryTest, ReportsExpiredWorkers) {
    ServiceEntry& service = registry.ensure_service("svc");
    WorkerEntry& early = registry.add_worker("early", service, t0 + 1s);
    registry.add_worker("late", service, t0 + 5s);
    const auto expired = registry.expired_workers(t0 + 2s);
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0], &early);
}

TEST_F(BrokerRegistryTest, CountsIdleBusyAndQueuedPerService) {
    ServiceEntry& service = registry.ensure_service("svc");
    registry.add_worker("a", service, t0 + 1s);
    registry.add_worker("b", service, t0 + 1s);
    auto first = request("1");
    registry.submit(service, first, t0, dropped);
    const auto stats = registry.service_stats();
    ASSERT_EQ(stats.count("svc"), 1u);
    EXPECT_EQ(stats.at("svc").workers_idle, 1u);
    EXPECT_EQ(stats.at("svc").workers_busy, 1u);
    EXPECT_EQ(stats.at("svc").queued, 0u);
}

TEST_F(BrokerRegistryTest, ForgetsServicesWithNoWorkersAndNoQueue) {
    registry.ensure_service("empty");
    ServiceEntry& busy = registry.ensure_service("svc");
    registry.add_worker("w", busy, t0 + 1s);
    registry.forget_unused_services();
    EXPECT_EQ(registry.find_service("empty"), nullptr);
    EXPECT_NE(registry.find_service("svc"), nullptr);
}

}  // namespace
}  // namespace digitpipe::framework
