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
                                        BrokerClock::time_point expiry) {
    auto entry = std::make_unique<WorkerEntry>();
    entry->identity = std::string(identity);
    entry->service = &service;
    entry->expiry = expiry;
    WorkerEntry& ref = *entry;
    workers_.emplace(ref.identity, std::move(entry));
    service.idle.push_back(&ref);
    ++service.workers;
    return ref;
}

bool BrokerRegistry::remove_worker(WorkerEntry& worker) {
    ServiceEntry& service = *worker.service;
    bool requeued = false;
    if (worker.busy) {
        // Front, not back: this request has already waited its turn once.
        service.queue.push_front(std::move(worker.serving));
        requeued = true;
    } else {
        const auto it = std::find(service.idle.begin(), service.idle.end(), &worker);
        if (it != service.idle.end()) service.idle.erase(it);
    }
    --service.workers;
    const auto it = workers_.find(worker.identity);
    if (it != workers_.end()) workers_.erase(it);  // destroys `worker`
    return requeued;
}

WorkerEntry* BrokerRegistry::submit(ServiceEntry& service, mdp::Parts& request,
                                    BrokerClock::time_point now, std::uint64_t& dropped) {
    if (service.queue.empty() && !service.idle.empty()) {
        WorkerEntry* worker = service.idle.front();
        service.idle.pop_front();
        worker->busy = true;
        // Swap rather than move: the caller's receive vector inherits the worker's old
        // capacity, so the steady state allocates nothing per request.
        worker->serving.parts.swap(request);
        request.clear();
        worker->serving.arrived = now;
        return worker;
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
    if (service.queue.empty() || service.idle.empty()) return nullptr;
    WorkerEntry* worker = service.idle.front();
    service.idle.pop_front();
    worker->busy = true;
    worker->serving = std::move(service.queue.front());
    service.queue.pop_front();
    return worker;
}

void BrokerRegistry::release(WorkerEntry& worker) {
    worker.busy = false;
    worker.serving.parts.clear();  // keeps capacity for the next swap in submit()
    worker.service->idle.push_back(&worker);
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
        return service.workers == 0 && service.queue.empty() && service.dropped_unreported == 0;
    });
}

std::map<std::string, ServiceStats> BrokerRegistry::service_stats() const {
    std::map<std::string, ServiceStats> out;
    for (const auto& [name, service] : services_) {
        ServiceStats stats;
        stats.workers_idle = service->idle.size();
        stats.workers_busy = service->workers - service->idle.size();
        stats.queued = service->queue.size();
        out.emplace(name, stats);
    }
    return out;
}

}  // namespace digitpipe::framework
