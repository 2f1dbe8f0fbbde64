// The broker's bookkeeping, without sockets: services with their request queues and workers,
// and workers with the requests each holds (up to its prefetch credit; 1 in plain 7/MDP). The
// broker loop (broker.cpp) asks it what to do and does the I/O; keeping this part pure makes
// the queueing rules testable.
//
// Rules: a request goes to the worker of its service with free credit and the fewest requests
// in flight, ties to the least recently used (with credit 1 everywhere: the least recently
// used idle worker, as plain 7/MDP does); else to the back of the service's queue (beyond the
// cap the oldest queued request is dropped). A REPLY releases the oldest request the worker
// holds for that client (workers answer in order). A worker that dies or disconnects gives
// all its requests back to the FRONT of the queue in their original order, so the requests
// that waited longest are served first. Not thread-safe: owned by the broker's loop thread.
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
#include "fixed_ring.hpp"
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
    // requires: prefetch >= 1.
    explicit WorkerEntry(std::size_t prefetch) : in_flight(prefetch) {}

    std::string identity;              // ROUTER routing id of the worker's DEALER
    ServiceEntry* service = nullptr;   // never null once registered
    BrokerClock::time_point expiry{};  // purged when this passes without a message from it
    std::uint64_t last_used = 0;       // registry stamp of its last dispatch or release
    // Requests sent to it and not yet answered, oldest first; capacity() is its credit. A
    // ring, so dispatch swaps vectors and allocates nothing once warm.
    mdp::FixedRing<QueuedRequest> in_flight;

    bool busy() const noexcept { return !in_flight.empty(); }
    bool has_credit() const noexcept { return !in_flight.full(); }
};

struct ServiceEntry {
    std::string name;
    std::deque<QueuedRequest> queue;       // oldest first
    std::vector<WorkerEntry*> workers;     // registration order (dispatch scans them all)
    std::uint64_t dropped_unreported = 0;  // for the broker's periodic log line
};

class BrokerRegistry {
 public:
    // requires: max_queued_per_service >= 1.
    explicit BrokerRegistry(std::size_t max_queued_per_service);

    ServiceEntry* find_service(std::string_view name) noexcept;
    ServiceEntry& ensure_service(std::string_view name);
    WorkerEntry* find_worker(std::string_view identity) noexcept;

    // Registers an idle worker holding up to `prefetch` requests (most recently used, so
    // workers already waiting are served first).
    // requires: no worker with this identity is registered; prefetch >= 1.
    WorkerEntry& add_worker(std::string_view identity, ServiceEntry& service,
                            BrokerClock::time_point expiry, std::size_t prefetch = 1);

    // Forgets `worker` (the reference dies). The requests it held go back to the front of its
    // service's queue in their original order. Returns how many were requeued.
    std::size_t remove_worker(WorkerEntry& worker);

    // Hands `request` to the chosen worker (see the file comment) when the queue is empty
    // (swapping vectors, so no allocation) and returns that worker, the request now its newest
    // in flight; otherwise queues the request at the back, dropping the oldest beyond the cap,
    // and returns nullptr. `dropped` is increased by the number of requests dropped.
    WorkerEntry* submit(ServiceEntry& service, mdp::Parts& request, BrokerClock::time_point now,
                        std::uint64_t& dropped);

    // Gives the oldest queued request to the chosen worker and returns that worker (the
    // request is its newest in flight); nullptr when the queue is empty or no worker has
    // credit.
    WorkerEntry* assign_next(ServiceEntry& service);

    // The worker answered `client`: forgets the oldest request it holds from that client and
    // makes it the most recently used. Returns false (and changes nothing) when it holds none.
    bool release(WorkerEntry& worker, std::string_view client);

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
    // The worker that gets the next request, or nullptr when none has credit.
    static WorkerEntry* choose_worker(const ServiceEntry& service) noexcept;

    std::size_t max_queued_per_service_;
    std::uint64_t use_clock_ = 0;  // source of WorkerEntry::last_used stamps
    std::map<std::string, std::unique_ptr<ServiceEntry>, std::less<>> services_;
    std::map<std::string, std::unique_ptr<WorkerEntry>, std::less<>> workers_;
};

}  // namespace digitpipe::framework
