// Unit tests of the broker's queueing rules (framework/src/messaging/broker_registry.cpp):
// least-recently-used dispatch, prefetch credit (fewest in flight first, release by client,
// requeue of everything a worker held), per-service queue cap, requeue at the front, age limit.
// No sockets: requests are plain zmq messages.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "messaging/broker_registry.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;

// A client request as the ROUTER delivers it; `tag` goes in the body to tell requests apart.
mdp::Parts request(const std::string& tag, const std::string& client = "client") {
    mdp::Parts parts;
    parts.emplace_back(client);
    parts.emplace_back(std::string_view(""));
    parts.emplace_back(std::string_view("MDPC01"));
    parts.emplace_back(std::string_view("svc"));
    parts.emplace_back(tag);
    return parts;
}

std::string tag_of(const QueuedRequest& queued) { return queued.parts.at(4).to_string(); }

// Tags of the requests `worker` holds, oldest first.
std::vector<std::string> held_by(WorkerEntry& worker) {
    std::vector<std::string> tags;
    for (std::size_t i = 0; i < worker.in_flight.size(); ++i) {
        tags.push_back(tag_of(worker.in_flight[i]));
    }
    return tags;
}

std::vector<std::string> queued_in(const ServiceEntry& service) {
    std::vector<std::string> tags;
    for (const auto& queued : service.queue) tags.push_back(tag_of(queued));
    return tags;
}

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
    EXPECT_TRUE(a.busy());
    EXPECT_FALSE(a.has_credit());
    EXPECT_EQ(held_by(a), std::vector<std::string>{"1"});
    EXPECT_TRUE(registry.release(a, "client"));  // a is now the most recently used
    EXPECT_FALSE(a.busy());

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
    EXPECT_EQ(held_by(worker), std::vector<std::string>{"1"});
    EXPECT_EQ(registry.assign_next(service), nullptr);  // no idle worker left
    EXPECT_TRUE(registry.release(worker, "client"));
    EXPECT_EQ(registry.assign_next(service), &worker);
    EXPECT_EQ(held_by(worker), std::vector<std::string>{"2"});
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

    EXPECT_EQ(registry.remove_worker(worker), 1u);
    EXPECT_EQ(registry.find_worker("w"), nullptr);
    ASSERT_EQ(service.queue.size(), 2u);
    EXPECT_EQ(tag_of(service.queue.front()), "served");
    EXPECT_TRUE(service.workers.empty());
}

TEST_F(BrokerRegistryTest, RemovingAnIdleWorkerRequeuesNothing) {
    ServiceEntry& service = registry.ensure_service("svc");
    WorkerEntry& worker = registry.add_worker("w", service, t0 + 1s);
    EXPECT_EQ(registry.remove_worker(worker), 0u);
    EXPECT_TRUE(service.workers.empty());
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
    EXPECT_EQ(stats.at("svc").in_flight, 1u);
}

TEST_F(BrokerRegistryTest, AWorkerHoldsUpToItsCreditThenRequestsQueue) {
    ServiceEntry& service = registry.ensure_service("svc");
    WorkerEntry& worker = registry.add_worker("w", service, t0 + 1s, /*prefetch=*/2);
    auto one = request("1");
    auto two = request("2");
    auto three = request("3");
    EXPECT_EQ(registry.submit(service, one, t0, dropped), &worker);
    EXPECT_EQ(registry.submit(service, two, t0, dropped), &worker);
    EXPECT_EQ(registry.submit(service, three, t0, dropped), nullptr);
    EXPECT_EQ(held_by(worker), (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(queued_in(service), std::vector<std::string>{"3"});
    const auto stats = registry.service_stats().at("svc");
    EXPECT_EQ(stats.workers_busy, 1u);
    EXPECT_EQ(stats.in_flight, 2u);
    EXPECT_EQ(stats.queued, 1u);

    // One reply frees one slot; the queued request takes it, behind the one still held.
    EXPECT_TRUE(registry.release(worker, "client"));
    EXPECT_EQ(registry.assign_next(service), &worker);
    EXPECT_EQ(held_by(worker), (std::vector<std::string>{"2", "3"}));
}

TEST_F(BrokerRegistryTest, DispatchPrefersTheFewestInFlightThenTheLeastRecentlyUsed) {
    ServiceEntry& service = registry.ensure_service("svc");
    WorkerEntry& deep = registry.add_worker("deep", service, t0 + 1s, /*prefetch=*/4);
    WorkerEntry& plain = registry.add_worker("plain", service, t0 + 1s);
    std::vector<WorkerEntry*> chosen;
    for (int i = 0; i < 5; ++i) {
        auto parts = request(std::to_string(i));
        chosen.push_back(registry.submit(service, parts, t0, dropped));
    }
    // deep (registered first) and plain tie at 0; then plain is full and deep takes the rest.
    EXPECT_EQ(chosen, (std::vector<WorkerEntry*>{&deep, &plain, &deep, &deep, &deep}));
    EXPECT_TRUE(service.queue.empty());

    // Equal load: the one used longer ago gets the next request.
    ServiceEntry& other = registry.ensure_service("other");
    WorkerEntry& a = registry.add_worker("a", other, t0 + 1s, /*prefetch=*/8);
    WorkerEntry& b = registry.add_worker("b", other, t0 + 1s, /*prefetch=*/8);
    std::vector<WorkerEntry*> rotation;
    for (int i = 0; i < 4; ++i) {
        auto parts = request(std::to_string(i));
        rotation.push_back(registry.submit(other, parts, t0, dropped));
    }
    EXPECT_EQ(rotation, (std::vector<WorkerEntry*>{&a, &b, &a, &b}));
}

TEST_F(BrokerRegistryTest, ReleaseTakesTheOldestRequestOfThatClient) {
    ServiceEntry& service = registry.ensure_service("svc");
    WorkerEntry& worker = registry.add_worker("w", service, t0 + 1s, /*prefetch=*/4);
    for (const auto& [tag, client] :
         std::vector<std::pair<std::string, std::string>>{{"x1", "x"}, {"y1", "y"}, {"x2", "x"}}) {
        auto parts = request(tag, client);
        ASSERT_EQ(registry.submit(service, parts, t0, dropped), &worker);
    }
    EXPECT_FALSE(registry.release(worker, "z"));
    EXPECT_EQ(held_by(worker), (std::vector<std::string>{"x1", "y1", "x2"}));
    EXPECT_TRUE(registry.release(worker, "y"));
    EXPECT_EQ(held_by(worker), (std::vector<std::string>{"x1", "x2"}));
    EXPECT_TRUE(registry.release(worker, "x"));
    EXPECT_EQ(held_by(worker), std::vector<std::string>{"x2"});
}

TEST_F(BrokerRegistryTest, RemovingAWorkerRequeuesAllItHeldInOrderAtTheFront) {
    ServiceEntry& service = registry.ensure_service("svc");
    WorkerEntry& worker = registry.add_worker("w", service, t0 + 1s, /*prefetch=*/3);
    for (const char* tag : {"a", "b", "c", "waiting"}) {
        auto parts = request(tag);
        registry.submit(service, parts, t0, dropped);
    }
    EXPECT_TRUE(registry.release(worker, "client"));  // "a" answered
    auto late = request("d");
    ASSERT_EQ(registry.assign_next(service), &worker);  // takes "waiting"
    ASSERT_EQ(registry.submit(service, late, t0, dropped), nullptr);
    EXPECT_EQ(held_by(worker), (std::vector<std::string>{"b", "c", "waiting"}));

    EXPECT_EQ(registry.remove_worker(worker), 3u);
    EXPECT_EQ(queued_in(service), (std::vector<std::string>{"b", "c", "waiting", "d"}));
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
