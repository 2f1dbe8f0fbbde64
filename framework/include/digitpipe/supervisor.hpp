// Process supervision for `digitpipe up`: starts child programs, restarts the ones that exit
// with a doubling backoff (so a crash-looping worker does not spin), and stops them all
// (SIGTERM, then SIGKILL after the grace period) in reverse start order.
// Children get PR_SET_PDEATHSIG(SIGTERM), so even a SIGKILLed supervisor leaves no orphans.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include "digitpipe/deployment.hpp"

namespace digitpipe::framework {

struct ChildSpec {
    std::string name;               // for logs and status, e.g. "worker.echo.1"
    std::vector<std::string> argv;  // argv[0] is the program path
    // Set in the child's environment on top of the supervisor's own (e.g. OMP_NUM_THREADS).
    std::map<std::string, std::string> env;
};

struct ChildStatus {
    std::string name;
    int pid = 0;         // 0 while not running (waiting to restart)
    int restarts = 0;
    int last_exit = 0;   // exit code, or -signal number
    std::chrono::milliseconds backoff{0};  // wait before the next restart (doubles per crash)
};

class Supervisor {
 public:
    explicit Supervisor(SupervisorConfig config);
    ~Supervisor();  // stops any children still running
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // requires: called before run().
    void add(ChildSpec spec);

    // Starts every child, keeps them running until `stop` is true, then stops them all and
    // returns. A child that exits is restarted after restart_backoff, doubled per consecutive
    // quick exit up to restart_backoff_max; a child that ran for 10 s resets its backoff.
    // throws: std::runtime_error when a program cannot be started at all (missing file).
    void run(const std::atomic<bool>& stop);

    // A snapshot; safe from any thread.
    std::vector<ChildStatus> status() const;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace digitpipe::framework
