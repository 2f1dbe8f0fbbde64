// `digitpipe train` and `digitpipe eval`: clients of the train and evaluate stages. With an
// inproc:// deployment (the default, configs/pipeline.yaml) they first start the whole
// deployment as threads of this process, so one command runs the pipeline with nothing else
// set up; with tcp:// or ipc:// they talk to a deployment started by `digitpipe up`.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "digitpipe/deployment.hpp"
#include "digitpipe/envelope.hpp"
#include "digitpipe/mdp.hpp"
#include "in_process.hpp"

namespace digitpipe::cli {
namespace fw = framework;
using nlohmann::json;
namespace {

// The deployment these commands talk to: started here when its broker is inproc://, and
// stopped when the Connection goes. With `stop`, the deployment also stops on the signal;
// without, the command winds its work down first (train cancels its run, which needs the
// broker and the stages still up) and the deployment stops after.
class Connection {
 public:
    Connection(const fw::DeploymentConfig& deployment, bool verbose,
               const std::atomic<bool>* stop) {
        if (deployment.broker.endpoint.starts_with("inproc://")) {
            local_.emplace(deployment, verbose);
            local_->start(stop);
        } else {
            own_.emplace(1);
        }
    }
    zmq::context_t& context() { return local_ ? local_->context() : *own_; }

 private:
    std::optional<zmq::context_t> own_;  // declared first: destroyed after local_'s sockets
    std::optional<InProcessDeployment> local_;
};

// Sends one request and returns the decoded reply; a transport failure or an error reply
// becomes a runtime_error naming the service.
fw::Reply call(fw::Client& client, const std::string& service, const std::string& verb,
               json header) {
    fw::Request request;
    request.verb = verb;
    request.correlation_id = fw::make_correlation_id();
    request.header = std::move(header);
    auto frames = client.request(service, fw::encode_request(request));
    if (!frames) {
        throw std::runtime_error(service + " did not answer " + verb + ": " +
                                 frames.status().message() +
                                 " (is the deployment up, with that stage?)");
    }
    auto decoded = fw::decode_reply(*frames);
    if (!decoded) throw std::runtime_error(service + ": bad reply: " + decoded.status().message());
    return std::move(decoded->reply);
}

// Waits until the broker has a live worker for `service` (in-process workers need a moment).
void wait_for_service(fw::Client& client, const std::string& service, int timeout_ms,
                      const std::atomic<bool>& stop) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!stop.load()) {
        const auto available = client.service_available(service);
        if (available && *available) return;
        if (std::chrono::steady_clock::now() > until) {
            throw std::runtime_error("no worker serves " + service + " (waited " +
                                     std::to_string(timeout_ms) + " ms; is the deployment up?)");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw fw::ConfigError({fw::ConfigProblem{path, 0, 0, "", "cannot read the file"}});
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string clock_text(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "--:--";
    const auto s = static_cast<long>(seconds + 0.5);
    char buffer[32];
    if (s >= 3600) {
        std::snprintf(buffer, sizeof buffer, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    } else {
        std::snprintf(buffer, sizeof buffer, "%ld:%02ld", s / 60, s % 60);
    }
    return buffer;
}

// Renders train.* events for a person: a live progress line on a terminal, one line per
// epoch (and per minute of steps) otherwise.
class ProgressView {
 public:
    explicit ProgressView(bool terminal) : terminal_(terminal) {}

    void step(const json& e) {
        const auto epoch = e.value("epoch", 0) + 1;
        const auto epochs = e.value("epochs", 0);
        const auto step = e.value("step", 0);
        const auto steps = std::max(1, e.value("steps", 1));
        char line[256];
        const int width = 24;
        const int filled = width * step / steps;
        std::snprintf(line, sizeof line,
                      "epoch %d/%d [%s%s] %d/%d  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s", epoch,
                      epochs, std::string(static_cast<std::size_t>(filled), '#').c_str(),
                      std::string(static_cast<std::size_t>(width - filled), '.').c_str(), step,
                      steps, e.value("loss", 0.0), 100.0 * e.value("accuracy", 0.0),
                      e.value("images_per_second", 0.0),
                      clock_text(e.value("eta_seconds", -1.0)).c_str());
        if (terminal_) {
            std::printf("\r\033[K%s", line);
            std::fflush(stdout);
            dirty_ = true;
        } else if (std::chrono::steady_clock::now() - last_plain_ > std::chrono::seconds(60)) {
            last_plain_ = std::chrono::steady_clock::now();
            std::printf("%s\n", line);
            std::fflush(stdout);
        }
    }

    void epoch(const json& e) {
        std::string validation;
        if (e.contains("validation_accuracy")) {
            char buffer[96];
            std::snprintf(buffer, sizeof buffer, "  val loss %.4f acc %.2f%%",
                          e.value("validation_loss", 0.0),
                          100.0 * e.value("validation_accuracy", 0.0));
            validation = buffer;
        }
        line(std::string("epoch ") + std::to_string(e.value("epoch", 0) + 1) + "/" +
             std::to_string(e.value("epochs", 0)) +
             format("  train loss %.4f acc %.2f%%", e.value("train_loss", 0.0),
                    100.0 * e.value("train_accuracy", 0.0)) +
             validation +
             format("  test loss %.4f acc %.2f%%", e.value("test_loss", 0.0),
                    100.0 * e.value("test_accuracy", 0.0)) +
             format("  %.1f s, %.0f img/s, lr %.2g",
                    e.value("train_seconds", 0.0) + e.value("eval_seconds", 0.0),
                    e.value("images_per_second", 0.0), e.value("lr", 0.0)));
    }

    void line(const std::string& text) {
        if (dirty_) std::printf("\r\033[K");
        dirty_ = false;
        std::printf("%s\n", text.c_str());
        std::fflush(stdout);
    }

    static std::string format(const char* pattern, double a, double b, double c = 0) {
        char buffer[128];
        std::snprintf(buffer, sizeof buffer, pattern, a, b, c);
        return buffer;
    }

 private:
    bool terminal_;
    bool dirty_ = false;
    std::chrono::steady_clock::time_point last_plain_{};
};

fw::ClientOptions options_for(const fw::DeploymentConfig& deployment,
                              std::chrono::milliseconds attempt_timeout) {
    fw::ClientOptions options;
    options.broker_endpoint = deployment.broker.endpoint;
    options.attempt_timeout = attempt_timeout;
    options.attempts = 1;
    options.max_message_bytes = deployment.broker.max_message_bytes;
    options.security = deployment.security;
    return options;
}

}  // namespace

int run_train(const programs::CommonFlags& common, const std::string& experiment_file,
              const std::string& resume, const fw::StopSignal& stop) {
    return programs::run_guarded("digitpipe train", [&] {
        const auto deployment = programs::load_deployment(common, {});
        json start;
        if (!resume.empty()) {
            start["resume"] = resume;
        } else {
            start["experiment"] = read_file(experiment_file);
            start["label"] = experiment_file;
            start["overrides"] = common.overrides;
        }
        Connection connection(deployment, common.verbose, nullptr);
        fw::EventSubscriber events(connection.context(), deployment.broker.events_out,
                                   {"train.", "model."}, deployment.security);
        fw::Client client(connection.context(),
                          options_for(deployment, std::chrono::milliseconds(10000)));
        const std::string service = "digitpipe.train";
        wait_for_service(client, service, 10000, stop.flag());
        // Let the subscription reach the event proxy before the run's first event.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const auto started = call(client, service, "train.start", start);
        if (!started.status.is_ok()) {
            std::cerr << "digitpipe train: " << started.status.message() << "\n";
            return started.status.code() == fw::StatusCode::kInvalidArgument ||
                           started.status.code() == fw::StatusCode::kNotFound
                       ? 2
                       : 1;
        }
        const auto run = started.header.value("run", std::string());
        ProgressView view(::isatty(STDOUT_FILENO) == 1);
        view.line("run " + run + " -> " + started.header.value("run_dir", std::string()) + " (" +
                  std::to_string(started.header.value("epochs_planned", 0)) + " epochs" +
                  (started.header.value("resumed", false) ? ", resumed" : "") + ")");
        bool cancel_sent = false;
        int restarts = 0;
        constexpr int kMaxAutoResumes = 3;
        auto last_event = std::chrono::steady_clock::now();
        for (;;) {
            if (stop.stop_requested() && !cancel_sent) {
                view.line("stopping: cancelling the run after its current step ...");
                // The deployment may be stopping too (in-process): a missing answer is fine.
                try {
                    call(client, service, "train.cancel", json::object());
                } catch (const std::exception&) {
                }
                cancel_sent = true;
            }
            std::optional<json> terminal;
            std::string topic;
            if (auto event = events.receive(std::chrono::milliseconds(200))) {
                last_event = std::chrono::steady_clock::now();
                const auto body = json::parse(event->json_text, nullptr, false);
                if (!body.is_object() || body.value("run", std::string()) != run) continue;
                topic = event->topic;
                if (topic == "train.progress") view.step(body);
                if (topic == "train.epoch") view.epoch(body);
                if (topic == "train.note") view.line(body.value("text", std::string()));
                if (topic == "train.finished" || topic == "train.failed" ||
                    topic == "train.cancelled") {
                    terminal = body;
                }
            } else if (std::chrono::steady_clock::now() - last_event > std::chrono::seconds(3) ||
                       cancel_sent) {
                // Events are best-effort: ask for the state when they go quiet.
                last_event = std::chrono::steady_clock::now();
                fw::Reply status;
                try {
                    status = call(client, service, "train.status", json::object());
                } catch (const std::exception& e) {
                    if (cancel_sent) {
                        view.line("stopped; resume with: digitpipe train --resume " + run);
                        return 130;
                    }
                    throw;
                }
                const auto state = status.header.value("state", std::string());
                if (status.header.value("run", std::string()) != run && !cancel_sent) {
                    // The train worker restarted (it crashed and `digitpipe up` started it
                    // again) and lost the job: continue from the run's last checkpoint.
                    if (++restarts > kMaxAutoResumes) {
                        view.line("failed: the train worker lost the run " +
                                  std::to_string(kMaxAutoResumes) + " times");
                        return 1;
                    }
                    view.line("the train worker restarted; resuming " + run +
                              " from its last checkpoint");
                    const auto again = call(client, service, "train.start", {{"resume", run}});
                    if (!again.status.is_ok()) {
                        view.line("failed: cannot resume: " + again.status.message());
                        return 1;
                    }
                    continue;
                }
                if (status.header.value("run", std::string()) == run && state != "running") {
                    topic = "train." + state;
                    terminal =
                        status.header.contains("result") ? status.header["result"] : status.header;
                }
            }
            if (!terminal) continue;
            if (topic == "train.finished") {
                char summary[512];
                std::snprintf(summary, sizeof summary,
                              "finished: test accuracy %.2f%% (loss %.4f) after %d epochs, %s "
                              "(%s)",
                              100.0 * terminal->value("test_accuracy", 0.0),
                              terminal->value("test_loss", 0.0), terminal->value("epochs", 0),
                              clock_text(terminal->value("elapsed_seconds", 0.0)).c_str(),
                              terminal->value("stopped_because", std::string()).c_str());
                view.line(summary);
                view.line("model " + terminal->value("path", std::string()) + "\nsha256 " +
                          terminal->value("sha256", std::string()));
                return 0;
            }
            view.line((topic == "train.cancelled" ? "cancelled: " : "failed: ") +
                      terminal->value("error", std::string()));
            if (topic == "train.cancelled") {
                view.line("resume with: digitpipe train --resume " + run);
                return 130;
            }
            return 1;
        }
    });
}

int run_eval(const programs::CommonFlags& common, const std::string& model,
             const std::string& dataset, bool as_json, const fw::StopSignal& stop) {
    return programs::run_guarded("digitpipe eval", [&] {
        const auto deployment = programs::load_deployment(common);
        json header{{"model", std::filesystem::exists(model)
                                  ? std::filesystem::absolute(model).string()
                                  : model}};
        if (!dataset.empty()) header["dataset"] = dataset;
        Connection connection(deployment, common.verbose, &stop.flag());
        fw::Client client(connection.context(),
                          options_for(deployment, std::chrono::milliseconds(300000)));
        const std::string service = "digitpipe.evaluate";
        wait_for_service(client, service, 10000, stop.flag());
        const auto reply = call(client, service, "evaluate", header);
        if (!reply.status.is_ok()) {
            std::cerr << "digitpipe eval: " << reply.status.message() << "\n";
            return reply.status.code() == fw::StatusCode::kInternal ? 1 : 2;
        }
        const auto& r = reply.header;
        if (as_json) {
            std::cout << r.dump(2) << "\n";
            return 0;
        }
        std::printf("model    %s\nsha256   %s\narch     %s\ndataset  %s test, %lld images\n",
                    r.value("model", std::string()).c_str(),
                    r.value("sha256", std::string()).c_str(),
                    r.value("architecture", std::string()).c_str(),
                    r.value("dataset", std::string()).c_str(), r.value("count", 0LL));
        std::printf("accuracy %.2f%% (%lld of %lld)  loss %.4f\n\n",
                    100.0 * r.value("accuracy", 0.0), r.value("correct", 0LL),
                    r.value("count", 0LL), r.value("loss", 0.0));
        std::printf("%-12s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
        for (const auto& c : r["classes"]) {
            std::printf("%-12s %8.2f%% %8.2f%% %8.2f%% %8lld\n",
                        c.value("name", std::string()).c_str(), 100.0 * c.value("precision", 0.0),
                        100.0 * c.value("recall", 0.0), 100.0 * c.value("f1", 0.0),
                        c.value("support", 0LL));
        }
        std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n%5s", "");
        for (std::size_t c = 0; c < r["confusion"].size(); ++c) std::printf("%6zu", c);
        std::printf("\n");
        for (std::size_t row = 0; row < r["confusion"].size(); ++row) {
            std::printf("%5zu", row);
            for (const auto& v : r["confusion"][row]) std::printf("%6lld", v.get<long long>());
            std::printf("\n");
        }
        const auto& wrong = r["most_confident_wrong"];
        if (!wrong.empty()) {
            std::printf("\nmost confidently wrong (test index: true -> predicted, confidence)\n");
            for (std::size_t i = 0; i < std::min<std::size_t>(wrong.size(), 10); ++i) {
                std::printf("  #%-6lld %lld -> %lld  %.1f%%\n", wrong[i].value("index", 0LL),
                            wrong[i].value("label", 0LL), wrong[i].value("predicted", 0LL),
                            100.0 * wrong[i].value("confidence", 0.0));
            }
        }
        return 0;
    });
}

}  // namespace digitpipe::cli
