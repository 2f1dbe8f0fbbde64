// Supervisor: Boost.Process children with restart backoff and orderly shutdown (see header).
#include "digitpipe/supervisor.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>

#include "digitpipe/log.hpp"

namespace bp = boost::process;

namespace digitpipe::framework {
namespace {

using Clock = std::chrono::steady_clock;

// How often the loop looks at its children; also the stop-flag latency.
constexpr auto kPollInterval = std::chrono::milliseconds(50);
// A child that lived this long before exiting is "healthy": its next restart is immediate-ish.
constexpr auto kHealthyRun = std::chrono::seconds(10);

// Runs in the child between fork and exec: die with the supervisor, and undo the signal mask
// StopSignal set (a blocked mask survives exec and would make the child deaf to SIGTERM).
struct ChildSetup : bp::extend::handler {
    template <typename Executor>
    void on_exec_setup(Executor& /*executor*/) const {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigset_t all;
        sigfillset(&all);
        ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
    }
};

struct Child {
    ChildSpec spec;
    std::optional<bp::child> process;
    Clock::time_point started{};
    Clock::time_point restart_at{};
    std::chrono::milliseconds backoff{0};
    int restarts = 0;
    int last_exit = 0;
};

// Exit code, or minus the signal that ended the process.
int decode_exit(int native) {
    if (WIFSIGNALED(native)) return -WTERMSIG(native);
    if (WIFEXITED(native)) return WEXITSTATUS(native);
    return native;
}

}  // namespace

struct Supervisor::Impl {
    explicit Impl(SupervisorConfig c) : config(c) {}

    void start(Child& child) {
        std::vector<std::string> args(child.spec.argv.begin() + 1, child.spec.argv.end());
        std::error_code error;
        bp::environment environment = boost::this_process::environment();  // a copy
        for (const auto& [key, value] : child.spec.env) environment[key] = value;
        child.process.emplace(bp::exe = child.spec.argv.front(), bp::args = args, environment,
                              ChildSetup{}, error);
        if (error) {
            child.process.reset();
            throw std::runtime_error("supervisor: cannot start " + child.spec.name + " (" +
                                     child.spec.argv.front() + "): " + error.message());
        }
        child.started = Clock::now();
        log.info("started",
                 {{"child", child.spec.name}, {"pid", std::to_string(child.process->id())}});
    }

    // Reaps an exited child and schedules its restart.
    void check(Child& child, Clock::time_point now) {
        if (!child.process) return;
        std::error_code error;
        if (child.process->running(error)) return;
        child.last_exit = decode_exit(child.process->native_exit_code());
        const bool healthy = now - child.started >= kHealthyRun;
        child.backoff = healthy || child.backoff.count() == 0
                            ? config.restart_backoff
                            : std::min(child.backoff * 2, config.restart_backoff_max);
        child.restart_at = now + child.backoff;
        child.process.reset();
        log.warn("exited; restarting after backoff",
                 {{"child", child.spec.name},
                  {"exit", std::to_string(child.last_exit)},
                  {"backoff_ms", std::to_string(child.backoff.count())}});
    }

    void stop_all() {
        // Reverse start order: workers before the broker, so they can say DISCONNECT.
        for (auto it = children.rbegin(); it != children.rend(); ++it) {
            if (it->process) ::kill(it->process->id(), SIGTERM);
        }
        const auto deadline = Clock::now() + config.stop_grace;
        for (auto it = children.rbegin(); it != children.rend(); ++it) {
            if (!it->process) continue;
            std::error_code error;
            while (it->process->running(error) && Clock::now() < deadline) {
                std::this_thread::sleep_for(kPollInterval / 5);
            }
            if (it->process->running(error)) {
                log.warn("did not stop in time; killing", {{"child", it->spec.name}});
                it->process->terminate(error);  // SIGKILL, then reaps
            }
            it->process->wait(error);
            it->process.reset();
        }
    }

    SupervisorConfig config;
    Logger log{"supervisor"};
    std::vector<Child> children;
    mutable std::mutex mutex;  // guards children's public fields for status()
};

Supervisor::Supervisor(SupervisorConfig config) : impl_(std::make_unique<Impl>(config)) {}

Supervisor::~Supervisor() {
    try {
        impl_->stop_all();
    } catch (...) {
        // Destructors must not throw; the children die with us anyway (PDEATHSIG).
    }
}

void Supervisor::add(ChildSpec spec) {
    if (spec.argv.empty()) throw std::invalid_argument("supervisor: child without a program");
    std::lock_guard lock(impl_->mutex);
    Child child;
    child.spec = std::move(spec);
    impl_->children.push_back(std::move(child));
}

void Supervisor::run(const std::atomic<bool>& stop) {
    {
        std::lock_guard lock(impl_->mutex);
        for (auto& child : impl_->children) impl_->start(child);
    }
    while (!stop.load()) {
        std::this_thread::sleep_for(kPollInterval);
        // Children exiting because the same Ctrl-C reached them are not crashes.
        if (stop.load()) break;
        const auto now = Clock::now();
        std::lock_guard lock(impl_->mutex);
        for (auto& child : impl_->children) {
            impl_->check(child, now);
            if (!child.process && now >= child.restart_at && !stop.load()) {
                ++child.restarts;
                impl_->start(child);
            }
        }
    }
    std::lock_guard lock(impl_->mutex);
    impl_->stop_all();
}

std::vector<ChildStatus> Supervisor::status() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<ChildStatus> out;
    for (const auto& child : impl_->children) {
        out.push_back({child.spec.name, child.process ? static_cast<int>(child.process->id()) : 0,
                       child.restarts, child.last_exit, child.backoff});
    }
    return out;
}

}  // namespace digitpipe::framework
