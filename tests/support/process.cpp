// Process, TempDir and polling helpers for integration tests (see process.hpp).
#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include <boost/process.hpp>
#include <boost/process/extend.hpp>

namespace bp = boost::process;

namespace digitpipe::test_support {
namespace {

// In the child: die with the test process; start with no signals blocked.
struct ChildSetup : bp::extend::handler {
    template <typename Executor>
    void on_exec_setup(Executor& /*executor*/) const {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigset_t all;
        sigfillset(&all);
        ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
    }
};

int decode_exit(int native) {
    if (WIFSIGNALED(native)) return -WTERMSIG(native);
    if (WIFEXITED(native)) return WEXITSTATUS(native);
    return native;
}

}  // namespace

struct Process::Impl {
    bp::pipe out;
    std::optional<bp::child> child;
    std::string buffer;  // bytes read from `out` past the last returned line
};

Process::Process(const std::filesystem::path& program, const std::vector<std::string>& args,
                 bool capture_stdout)
    : impl_(std::make_unique<Impl>()) {
    std::error_code error;
    if (capture_stdout) {
        impl_->child.emplace(bp::exe = program.string(), bp::args = args, bp::std_out > impl_->out,
                             ChildSetup{}, error);
    } else {
        impl_->child.emplace(bp::exe = program.string(), bp::args = args, ChildSetup{}, error);
    }
    if (error)
        throw std::runtime_error("cannot start " + program.string() + ": " + error.message());
}

Process::~Process() {
    if (!impl_->child) return;
    std::error_code error;
    if (impl_->child->running(error)) impl_->child->terminate(error);
    impl_->child->wait(error);
}

int Process::pid() const noexcept {
    return impl_->child->id();
}

bool Process::running() {
    std::error_code error;
    return impl_->child->running(error);
}

void Process::signal(int signal_number) {
    ::kill(impl_->child->id(), signal_number);
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::error_code error;
    while (impl_->child->running(error)) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return decode_exit(impl_->child->native_exit_code());
}

std::optional<std::string> Process::read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const int fd = impl_->out.native_source();
    for (;;) {
        const auto newline = impl_->buffer.find('\n');
        if (newline != std::string::npos) {
            std::string line = impl_->buffer.substr(0, newline);
            impl_->buffer.erase(0, newline + 1);
            return line;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
        char chunk[4096];
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) return std::nullopt;
        impl_->buffer.append(chunk, static_cast<std::size_t>(n));
    }
}

TempDir::TempDir() {
    std::random_device random;
    const auto base = std::filesystem::temp_directory_path();
    for (;;) {
        path_ = base / ("digitpipe-test-" + std::to_string(random()));
        if (std::filesystem::create_directory(path_)) break;
    }
}

TempDir::~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream(file) << text;
    return file;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(interval);
    }
}

bool process_alive(int pid) {
    if (::kill(pid, 0) != 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, comm, state;
    stat >> pid_field >> comm >> state;
    return state != "Z";
}

}  // namespace digitpipe::test_support
