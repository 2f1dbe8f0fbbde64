// Service queues and worker records of the MDP broker (see broker_registry.hpp for the rules).
#include "messaging/broker_registry.hpp"

#include <algorithm>
#include <utility>

namespace digitpipe::framework {

BrokerRegistry::BrokerRegistry(std::size_t max_queued_per_service)
    : max_queued_per_service_(std::max<std::size_t>(max_queued_per_service, 1)) {}

ServiceEntry* BrokerRegistry::find_service(std::string_view name) noexcept {
    const auto it = services_.find(name);
    return it == services_.end() ? nullptr : it->second.get();
}

ServiceEntry& BrokerRegistry::ensure_service(std::string_view name) {
    if (ServiceEntry* existing = find_service(name)) return *existing;
    auto entry = std::make_unique<ServiceEntry>();
    entry->name = std::string(name);
    ServiceEntry& ref = *entry;
    services_.emplace(ref.name, std::move(entry));
    return ref;
}

WorkerEntry* BrokerRegistry::find_worker(std::string_view identity) noexcept {
    const auto it = workers_.find(identity);
    return it == workers_.end() ? nullptr : it->second.get();
}

WorkerEntry& BrokerRegistry::add_worker(std::string_view identity, ServiceEntry& service,
                                        BrokerClock::time_point expiry, std::size_t prefetch) {
    auto entry = std::make_unique<WorkerEntry>(std::max<std::size_t>(prefetch, 1));
    entry->identity = std::string(identity);
    entry->service = &service;
    entry->expiry = expiry;
    entry->last_used = ++use_clock_;
    WorkerEntry& ref = *entry;
    workers_.emplace(ref.identity, std::move(entry));
    service.workers.push_back(&ref);
    return ref;
}

std::size_t BrokerRegistry::remove_worker(WorkerEntry& worker) {
    ServiceEntry& service = *worker.service;
    // Front, not back: these requests have already waited their turn once. Newest first, so
    // the oldest ends up at the very front and the original order is kept.
    const std::size_t requeued = worker.in_flight.size();
    for (std::size_t i = requeued; i-- > 0;) {
        service.queue.push_front(std::move(worker.in_flight[i]));
    }
    std::erase(service.workers, &worker);
    const auto it = workers_.find(worker.identity);
    if (it != workers_.end()) workers_.erase(it);  // destroys `worker`
    return requeued;
}

WorkerEntry* BrokerRegistry::choose_worker(const ServiceEntry& service) noexcept {
    // A linear scan: a service has a handful of workers (replicas <= 64), and the scan keeps
    // "fewest in flight, then least recently used" exact without a second index to maintain.
    WorkerEntry* best = nullptr;
    for (WorkerEntry* worker : service.workers) {
        if (!worker->has_credit()) continue;
        if (best == nullptr || worker->in_flight.size() < best->in_flight.size() ||
            (worker->in_flight.size() == best->in_flight.size() &&
             worker->last_used < best->last_used)) {
            best = worker;
        }
    }
    return best;
}

WorkerEntry* BrokerRegistry::submit(ServiceEntry& service, mdp::Parts& request,
                                    BrokerClock::time_point now, std::uint64_t& dropped) {
    if (service.queue.empty()) {
        if (WorkerEntry* worker = choose_worker(service)) {
            QueuedRequest& slot = worker->in_flight.push_back_slot();
            // Swap rather than move: the caller's receive vector inherits the slot's old
            // capacity, so the steady state allocates nothing per request.
            slot.parts.swap(request);
            request.clear();
            slot.arrived = now;
            worker->last_used = ++use_clock_;
            return worker;
        }
    }
    while (service.queue.size() >= max_queued_per_service_) {
        service.queue.pop_front();  // the oldest is the least likely to still be awaited
        ++service.dropped_unreported;
        ++dropped;
    }
    service.queue.push_back(QueuedRequest{std::move(request), now});
    request = mdp::Parts();  // moved-from vectors are valid but unspecified; make it plain
    return nullptr;
}

WorkerEntry* BrokerRegistry::assign_next(ServiceEntry& service) {
    if (service.queue.empty()) return nullptr;
    WorkerEntry* worker = choose_worker(service);
    if (worker == nullptr) return nullptr;
    worker->in_flight.push_back_slot() = std::move(service.queue.front());
    service.queue.pop_front();
    worker->last_used = ++use_clock_;
    return worker;
}

bool BrokerRegistry::release(WorkerEntry& worker, std::string_view client) {
    auto& in_flight = worker.in_flight;
    for (std::size_t i = 0; i < in_flight.size(); ++i) {
        if (mdp::view_of(in_flight[i].parts[0]) != client) continue;
        // Clearing drops the frames and keeps the capacity for submit().
        if (i == 0) {
            in_flight.front().parts.clear();  // the usual case: workers answer in order
            in_flight.pop_front();
        } else {
            in_flight.rotate_to_back(i);  // keeps the others in order
            in_flight.back().parts.clear();
            in_flight.pop_back();
        }
        worker.last_used = ++use_clock_;
        return true;
    }
    return false;
}

std::uint64_t BrokerRegistry::drop_requests_before(BrokerClock::time_point cutoff) {
    std::uint64_t dropped = 0;
    for (auto& [name, service] : services_) {
        auto& queue = service->queue;
        // Requeued requests go to the front with their original arrival time, so the queue
        // stays (nearly) oldest-first and the scan can stop at the first young request.
        while (!queue.empty() && queue.front().arrived < cutoff) {
            queue.pop_front();
            ++service->dropped_unreported;
            ++dropped;
        }
    }
    return dropped;
}

std::vector<WorkerEntry*> BrokerRegistry::expired_workers(BrokerClock::time_point now) const {
    std::vector<WorkerEntry*> expired;
    for (const auto& [identity, worker] : workers_) {
        if (worker->expiry < now) expired.push_back(worker.get());
    }
    return expired;
}

void BrokerRegistry::for_each_worker(const std::function<void(WorkerEntry&)>& visit) {
    for (auto& [identity, worker] : workers_) visit(*worker);
}

void BrokerRegistry::for_each_service(const std::function<void(ServiceEntry&)>& visit) {
    for (auto& [name, service] : services_) visit(*service);
}

void BrokerRegistry::forget_unused_services() {
    std::erase_if(services_, [](const auto& item) {
        const ServiceEntry& service = *item.second;
        return service.workers.empty() && service.queue.empty() && service.dropped_unreported == 0;
    });
}

std::map<std::string, ServiceStats> BrokerRegistry::service_stats() const {
    std::map<std::string, ServiceStats> out;
    for (const auto& [name, service] : services_) {
        ServiceStats stats;
        for (const WorkerEntry* worker : service->workers) {
            ++(worker->busy() ? stats.workers_busy : stats.workers_idle);
            stats.in_flight += worker->in_flight.size();
        }
        stats.queued = service->queue.size();
        out.emplace(name, stats);
    }
    return out;
}

}  // namespace digitpipe::framework
