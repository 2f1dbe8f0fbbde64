// Test support: real child processes and temporary folders for integration tests.
// Children die with the test (PR_SET_PDEATHSIG) and are killed in the destructor, so a failed
// or aborted test leaves no process behind.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace digitpipe::test_support {

// One child process. Not copyable; movable through unique_ptr.
class Process {
 public:
    // Starts `program` with `args`. When capture_stdout is true, stdout is a pipe read by
    // read_line(); stderr always goes to the test's stderr (ctest shows it on failure).
    // throws: std::runtime_error when the program cannot be started.
    Process(const std::filesystem::path& program, const std::vector<std::string>& args,
            bool capture_stdout = false);
    ~Process();  // SIGKILL if still running, then reap
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    int pid() const noexcept;
    bool running();
    void signal(int signal_number);
    // Waits for exit up to `timeout`; the exit code (or -signal), nullopt on timeout.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    // One line of captured stdout (without the newline), nullopt at EOF or after `timeout`.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }
    // Writes `text` to path()/name and returns the full path.
    std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
    std::filesystem::path path_;
};

// Polls `condition` every `interval` until it is true (returns true) or `timeout` passes
// (returns false). For readiness checks; never for asserting how long something took.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(20));

// True when a process with this pid exists and is not a zombie.
bool process_alive(int pid);

}  // namespace digitpipe::test_support
