// Structured logging: one line per event, logfmt style, to stderr.
//   ts=2026-11-24T08:00:00.123Z level=info component=broker msg="worker ready" service=echo
// The level comes from DIGITPIPE_LOG_LEVEL (debug|info|warn|error; default info), the one
// environment variable digitpipe reads. Thread-safe: each line is written with one call.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace digitpipe::framework {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// One key=value field; values are quoted when they hold spaces, quotes or '='.
using LogField = std::pair<std::string_view, std::string>;

// True when lines at `level` are written under the current DIGITPIPE_LOG_LEVEL.
bool log_enabled(LogLevel level) noexcept;

// Writes one line. Never throws (logging must not take a process down).
void log_event(LogLevel level, std::string_view component, std::string_view message,
               std::initializer_list<LogField> fields = {}) noexcept;

// Formats one line without writing it (for tests and for callers that buffer).
std::string format_log_line(LogLevel level, std::string_view component, std::string_view message,
                            std::initializer_list<LogField> fields);

// A logger bound to a component name, for brevity at call sites.
class Logger {
 public:
    explicit Logger(std::string component) : component_(std::move(component)) {}
    void debug(std::string_view m, std::initializer_list<LogField> f = {}) const noexcept {
        log_event(LogLevel::kDebug, component_, m, f);
    }
    void info(std::string_view m, std::initializer_list<LogField> f = {}) const noexcept {
        log_event(LogLevel::kInfo, component_, m, f);
    }
    void warn(std::string_view m, std::initializer_list<LogField> f = {}) const noexcept {
        log_event(LogLevel::kWarn, component_, m, f);
    }
    void error(std::string_view m, std::initializer_list<LogField> f = {}) const noexcept {
        log_event(LogLevel::kError, component_, m, f);
    }
    const std::string& component() const noexcept { return component_; }

 private:
    std::string component_;
};

}  // namespace digitpipe::framework
