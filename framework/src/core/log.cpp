// logfmt lines to stderr, one write(2) per line so lines from threads and processes that share
// a terminal or file never interleave mid-line.
#include "digitpipe/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace digitpipe::framework {
namespace {

LogLevel level_from_environment() noexcept {
    const char* value = std::getenv("DIGITPIPE_LOG_LEVEL");
    if (value == nullptr) return LogLevel::kInfo;
    const std::string_view v(value);
    if (v == "debug") return LogLevel::kDebug;
    if (v == "warn") return LogLevel::kWarn;
    if (v == "error") return LogLevel::kError;
    return LogLevel::kInfo;
}

std::string_view level_name(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::kDebug:
            return "debug";
        case LogLevel::kInfo:
            return "info";
        case LogLevel::kWarn:
            return "warn";
        case LogLevel::kError:
            return "error";
    }
    return "info";
}

bool needs_quotes(std::string_view value) {
    if (value.empty()) return true;
    for (char c : value) {
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
            return true;
        }
    }
    return false;
}

void append_value(std::string& out, std::string_view value) {
    if (!needs_quotes(value)) {
        out += value;
        return;
    }
    out += '"';
    for (char c : value) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

std::string timestamp() {
    const auto now = std::chrono::system_clock::now();
    const auto seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buf[96];  // generous: the compiler cannot bound tm_year
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(millis));
    return buf;
}

}  // namespace

bool log_enabled(LogLevel level) noexcept {
    static const LogLevel threshold = level_from_environment();
    return level >= threshold;
}

std::string format_log_line(LogLevel level, std::string_view component, std::string_view message,
                            std::initializer_list<LogField> fields) {
    std::string line = "ts=" + timestamp();
    line += " level=";
    line += level_name(level);
    line += " component=";
    append_value(line, component);
    line += " msg=";
    append_value(line, message);
    for (const auto& [key, value] : fields) {
        line += ' ';
        line += key;
        line += '=';
        append_value(line, value);
    }
    line += '\n';
    return line;
}

void log_event(LogLevel level, std::string_view component, std::string_view message,
               std::initializer_list<LogField> fields) noexcept {
    if (!log_enabled(level)) return;
    try {
        const std::string line = format_log_line(level, component, message, fields);
        // One write per line; a short write to a dying stderr is not worth a retry loop.
        [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line.data(), line.size());
    } catch (...) {
        // Out of memory while logging: dropping the line is the only safe choice.
    }
}

}  // namespace digitpipe::framework
