// The broker's bookkeeping, without sockets: services with their request queues and idle
// workers, and workers with the one request each is serving. The broker loop (broker.cpp) asks
// it what to do and does the I/O; keeping this part pure makes the queueing rules testable.
//
// Rules: a request goes to the least recently used idle worker of its service, else to the
// back of the service's queue (beyond the cap the oldest queued request is dropped). A worker
// that dies or disconnects gives its request back to the FRONT of the queue, so the request
// that waited longest is served first. Not thread-safe: owned by the broker's loop thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "digitpipe/mdp.hpp"
#include "mdp_frames.hpp"

namespace digitpipe::framework {

using BrokerClock = std::chrono::steady_clock;

// A client request as the broker's ROUTER received it: [client id, "", "MDPC01", service,
// body...]. Kept whole so that forwarding copies nothing and a requeue loses nothing.
struct QueuedRequest {
    mdp::Parts parts;
    BrokerClock::time_point arrived{};
};

struct ServiceEntry;

struct WorkerEntry {
    std::string identity;              // ROUTER routing id of the worker's DEALER
    ServiceEntry* service = nullptr;   // never null once registered
    BrokerClock::time_point expiry{};  // purged when this passes without a message from it
    bool busy = false;
    QueuedRequest serving;  // meaningful only while busy
};

struct ServiceEntry {
    std::string name;
    std::deque<QueuedRequest> queue;       // oldest first
    std::deque<WorkerEntry*> idle;         // least recently used first
    std::size_t workers = 0;               // idle + busy
    std::uint64_t dropped_unreported = 0;  // for the broker's periodic log line
};

class BrokerRegistry {
 public:
    // requires: max_queued_per_service >= 1.
    explicit BrokerRegistry(std::size_t max_queued_per_service);

    ServiceEntry* find_service(std::string_view name) noexcept;
    ServiceEntry& ensure_service(std::string_view name);
    WorkerEntry* find_worker(std::string_view identity) noexcept;

    // Registers an idle worker (most recently used end of the idle list).
    // requires: no worker with this identity is registered.
    WorkerEntry& add_worker(std::string_view identity, ServiceEntry& service,
                            BrokerClock::time_point expiry);

    // Forgets `worker` (the reference dies). A request it was serving goes back to the front
    // of its service's queue. Returns true when a request was requeued.
    bool remove_worker(WorkerEntry& worker);

    // Hands `request` to the least recently used idle worker of `service` when the queue is
    // empty (swapping vectors, so no allocation) and returns that worker, now busy; otherwise
    // queues the request at the back, dropping the oldest beyond the cap, and returns nullptr.
    // `dropped` is increased by the number of requests dropped.
    WorkerEntry* submit(ServiceEntry& service, mdp::Parts& request, BrokerClock::time_point now,
                        std::uint64_t& dropped);

    // Gives the oldest queued request to the least recently used idle worker and returns that
    // worker; nullptr when the queue or the idle list is empty.
    WorkerEntry* assign_next(ServiceEntry& service);

    // The worker finished its request: it becomes idle, most recently used.
    // requires: worker.busy.
    void release(WorkerEntry& worker);

    // Drops queued requests that arrived before `cutoff`; returns how many.
    std::uint64_t drop_requests_before(BrokerClock::time_point cutoff);

    // Workers whose expiry is before `now` (to be purged by the caller).
    std::vector<WorkerEntry*> expired_workers(BrokerClock::time_point now) const;

    // Calls `visit` for every registered worker. `visit` must not add or remove workers.
    void for_each_worker(const std::function<void(WorkerEntry&)>& visit);
    void for_each_service(const std::function<void(ServiceEntry&)>& visit);

    // Forgets services with no worker and no queued request (a client asking for many
    // unknown names must not grow the broker forever).
    void forget_unused_services();

    std::map<std::string, ServiceStats> service_stats() const;
    std::size_t worker_count() const noexcept { return workers_.size(); }

 private:
    std::size_t max_queued_per_service_;
    std::map<std::string, std::unique_ptr<ServiceEntry>, std::less<>> services_;
    std::map<std::string, std::unique_ptr<WorkerEntry>, std::less<>> workers_;
};

}  // namespace digitpipe::framework
