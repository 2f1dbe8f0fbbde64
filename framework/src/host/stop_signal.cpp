// SIGINT/SIGTERM to a flag via sigwait on a dedicated thread (see host.hpp for why).
#include <pthread.h>
#include <signal.h>

#include "digitpipe/host.hpp"
#include "digitpipe/log.hpp"

namespace digitpipe::framework {
namespace {

// SIGUSR2 wakes the waiter when the StopSignal is destroyed without a real signal.
sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2);
    return set;
}

}  // namespace

StopSignal::StopSignal() {
    const sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    waiter_ = std::thread([this, set] {
        for (;;) {
            int received = 0;
            if (sigwait(&set, &received) != 0) continue;
            if (received == SIGUSR2) return;
            signal_.store(received);
            stop_.store(true);
            log_event(LogLevel::kInfo, "signal", "stop requested",
                      {{"signal", received == SIGINT ? "SIGINT" : "SIGTERM"}});
        }
    });
}

StopSignal::~StopSignal() {
    pthread_kill(waiter_.native_handle(), SIGUSR2);
    waiter_.join();
}

}  // namespace digitpipe::framework
