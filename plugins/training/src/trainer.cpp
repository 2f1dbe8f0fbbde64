// The training loop (see trainer.hpp).
#include "digitpipe/training/trainer.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "digitpipe/nn/optimizer.hpp"
#include "digitpipe/nn/random.hpp"
#include "digitpipe/nn/safetensors.hpp"
#include "digitpipe/nn/schedule.hpp"

namespace digitpipe::training {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr std::string_view kCheckpointKey = "checkpoint";
constexpr std::string_view kOptimizerPrefix = "optimizer.";

std::unique_ptr<nn::Optimizer> make_optimizer(const Experiment& e, nn::Network& network) {
    const auto& o = e.optimizer;
    if (o.type == "sgd") {
        return std::make_unique<nn::Sgd>(network.trainable_parameters(),
                                         nn::SgdOptions{o.momentum, o.nesterov, o.weight_decay});
    }
    nn::AdamOptions options;
    options.beta1 = o.beta1;
    options.beta2 = o.beta2;
    options.epsilon = o.epsilon;
    options.weight_decay = o.weight_decay;
    return std::make_unique<nn::Adam>(network.trainable_parameters(), options);
}

// Everything besides weights and optimizer buffers that a resumed run needs to continue
// exactly where the checkpoint was written.
struct LoopState {
    std::int64_t epochs_done = 0;
    std::uint64_t network_steps = 0;
    std::int64_t optimizer_steps = 0;
    nn::PlateauState plateau;
    nn::EarlyStoppingState early;
    double elapsed_seconds = 0.0;
};

nlohmann::json to_json(const LoopState& s) {
    return {{"epochs_done", s.epochs_done},
            {"network_steps", s.network_steps},
            {"optimizer_steps", s.optimizer_steps},
            {"plateau",
             {{"lr", s.plateau.lr},
              {"best", std::isfinite(s.plateau.best) ? s.plateau.best : 1e300},
              {"bad_epochs", s.plateau.bad_epochs},
              {"cooldown_left", s.plateau.cooldown_left}}},
            {"early",
             {{"best", std::isfinite(s.early.best) ? s.early.best : 1e300},
              {"best_epoch", s.early.best_epoch},
              {"bad_epochs", s.early.bad_epochs},
              {"stop", s.early.stop}}},
            {"elapsed_seconds", s.elapsed_seconds}};
}

LoopState loop_state_from_json(const nlohmann::json& j) {
    LoopState s;
    s.epochs_done = j.at("epochs_done").get<std::int64_t>();
    s.network_steps = j.at("network_steps").get<std::uint64_t>();
    s.optimizer_steps = j.at("optimizer_steps").get<std::int64_t>();
    const auto infinite = [](double v) {
        return v >= 1e300 ? std::numeric_limits<double>::infinity() : v;
    };
    const auto& p = j.at("plateau");
    s.plateau.lr = p.at("lr").get<float>();
    s.plateau.best = infinite(p.at("best").get<double>());
    s.plateau.bad_epochs = p.at("bad_epochs").get<std::int64_t>();
    s.plateau.cooldown_left = p.at("cooldown_left").get<std::int64_t>();
    const auto& e = j.at("early");
    s.early.best = infinite(e.at("best").get<double>());
    s.early.best_epoch = e.at("best_epoch").get<std::int64_t>();
    s.early.bad_epochs = e.at("bad_epochs").get<std::int64_t>();
    s.early.stop = e.at("stop").get<bool>();
    s.elapsed_seconds = j.at("elapsed_seconds").get<double>();
    return s;
}

void save_checkpoint(const std::filesystem::path& file, const Experiment& e,
                     const nn::Network& network, nn::Optimizer& optimizer, const LoopState& state) {
    auto tensors = nn::network_tensors(network);
    for (const auto& slot : optimizer.slots()) {
        tensors.push_back(nn::make_f32_tensor(std::string(kOptimizerPrefix) + slot.name,
                                              {static_cast<std::int64_t>(slot.values.size())},
                                              slot.values));
    }
    nn::save_safetensors(
        file, tensors,
        {{std::string(kCheckpointKey), to_json(state).dump()}, {"experiment", e.yaml}});
}

LoopState load_checkpoint(const std::filesystem::path& file, const Experiment& e,
                          nn::Network& network, nn::Optimizer& optimizer) {
    const auto loaded = nn::load_safetensors(file);
    const auto fail = [&](const std::string& why) {
        return nn::SafetensorsError(file.string() + ": " + why);
    };
    const auto experiment = loaded.metadata.find("experiment");
    if (experiment == loaded.metadata.end() || experiment->second != e.yaml) {
        throw fail("written by a different experiment than this run's config.yaml");
    }
    const auto state_text = loaded.metadata.find(std::string(kCheckpointKey));
    if (state_text == loaded.metadata.end()) throw fail("no checkpoint state in the metadata");
    LoopState state;
    try {
        state = loop_state_from_json(nlohmann::json::parse(state_text->second));
    } catch (const std::exception& ex) {
        throw fail(std::string("checkpoint state unreadable: ") + ex.what());
    }
    // Check everything before writing anything.
    std::vector<std::pair<std::span<float>, const nn::Tensor*>> copies;
    for (auto& p : network.parameters()) {
        const auto* t = loaded.find(p.name);
        if (t == nullptr || t->shape != p.dims || t->dtype != nn::DType::kF32) {
            throw fail("tensor '" + p.name + "' missing or of another shape than " +
                       nn::format_dims(p.dims));
        }
        copies.emplace_back(p.value, t);
    }
    for (const auto& slot : optimizer.slots()) {
        const auto* t = loaded.find(std::string(kOptimizerPrefix) + slot.name);
        if (t == nullptr || t->shape.size() != 1 ||
            t->shape[0] != static_cast<std::int64_t>(slot.values.size())) {
            throw fail("optimizer state '" + slot.name + "' missing or of another size");
        }
        copies.emplace_back(slot.values, t);
    }
    for (auto& [dst, tensor] : copies) {
        const auto values = nn::tensor_f32_values(*tensor);
        std::copy(values.begin(), values.end(), dst.begin());
    }
    for (auto& p : network.parameters()) p.mark_updated();
    network.set_step_count(state.network_steps);
    optimizer.set_steps(state.optimizer_steps);
    return state;
}

double learning_rate(const Experiment& e, std::int64_t epoch, std::int64_t global_step,
                     std::int64_t total_steps, std::int64_t steps_per_epoch,
                     const nn::PlateauState& plateau) {
    const auto& s = e.schedule;
    const float base = e.optimizer.lr;
    if (s.type == "step") return nn::step_lr(base, epoch, s.step_epochs, s.gamma);
    if (s.type == "cosine") {
        const auto warmup =
            static_cast<std::int64_t>(s.warmup_epochs * static_cast<double>(steps_per_epoch));
        return nn::cosine_lr(base, global_step, total_steps, warmup, s.min_lr);
    }
    if (s.type == "one_cycle") {
        if (total_steps < 2) return base;
        return nn::one_cycle_lr(base, global_step, total_steps,
                                {s.pct_start, s.div_factor, s.final_div_factor});
    }
    if (s.type == "plateau") return plateau.lr;
    return base;
}

// Keeps the metrics lines of epochs before `epochs_done` (a resumed run rewrites the rest).
void truncate_metrics(const std::filesystem::path& file, std::int64_t epochs_done) {
    std::ifstream in(file);
    std::string kept, line;
    while (std::getline(in, line)) {
        try {
            if (nlohmann::json::parse(line).at("epoch").get<std::int64_t>() < epochs_done) {
                kept += line + "\n";
            }
        } catch (const std::exception&) {
            // A torn last line from a crash: drop it.
        }
    }
    in.close();
    std::ofstream(file, std::ios::trunc) << kept;
}

}  // namespace

std::string utc_now(const char* format) {
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buffer[64];
    return std::string(buffer, std::strftime(buffer, sizeof buffer, format, &tm));
}

TrainingBatch make_batch(const Dataset& dataset, const EpochPlan& plan, std::int64_t epoch,
                         std::int64_t batch, const augment::AugmentParams* augmentation) {
    const auto indices = plan.batch_indices(epoch, batch);
    const auto size = static_cast<std::size_t>(dataset.image_size());
    TrainingBatch out;
    out.epoch = epoch;
    out.index = batch;
    out.images.resize(indices.size() * size);
    out.labels.resize(indices.size());
    for (std::size_t i = 0; i < indices.size(); ++i) {
        const auto image = dataset.image(indices[i]);
        std::copy(image.begin(), image.end(),
                  out.images.begin() + static_cast<std::ptrdiff_t>(i * size));
        out.labels[i] = dataset.labels[static_cast<std::size_t>(indices[i])];
    }
    if (augmentation != nullptr) {
        std::vector<std::uint8_t> augmented(out.images.size());
        augment::augment_batch(out.images.data(), augmented.data(), indices.size(),
                               static_cast<int>(dataset.height), static_cast<int>(dataset.width),
                               *augmentation,
                               nn::mix_seed(plan.spec().seed, static_cast<std::uint64_t>(epoch)),
                               static_cast<std::uint64_t>(batch));
        out.images = std::move(augmented);
    }
    return out;
}

LocalBatchSource::LocalBatchSource(const Dataset& dataset, const EpochPlan& plan,
                                   std::optional<augment::AugmentParams> augmentation)
    : dataset_(dataset), plan_(plan), augmentation_(std::move(augmentation)) {}

TrainingBatch LocalBatchSource::next(std::int64_t index) {
    return make_batch(dataset_, plan_, epoch_, index, augmentation_ ? &*augmentation_ : nullptr);
}

nlohmann::json to_json(const EpochRecord& r) {
    nlohmann::json j{{"epoch", r.epoch},
                     {"epochs", r.epochs},
                     {"train_loss", r.train_loss},
                     {"train_accuracy", r.train_accuracy},
                     {"test_loss", r.test_loss},
                     {"test_accuracy", r.test_accuracy},
                     {"lr", r.lr},
                     {"images_per_second", r.images_per_second},
                     {"train_seconds", r.train_seconds},
                     {"eval_seconds", r.eval_seconds},
                     {"elapsed_seconds", r.elapsed_seconds}};
    if (r.validation_loss) j["validation_loss"] = *r.validation_loss;
    if (r.validation_accuracy) j["validation_accuracy"] = *r.validation_accuracy;
    return j;
}

TrainResult train(const Experiment& e, const Dataset& train_set, const Dataset& test_set,
                  const EpochPlan& plan, BatchSource& source, const std::filesystem::path& run_dir,
                  const TrainerCallbacks& callbacks, const std::string& run_id) {
    const auto note = [&](const std::string& text) {
        if (callbacks.on_note) callbacks.on_note(text);
    };
    nn::NetworkOptions options;
    options.precision = e.precision;
    options.seed = e.seed;
    nn::Network network(e.model, options);
    auto optimizer = make_optimizer(e, network);

    const auto checkpoint = run_dir / "checkpoint.safetensors";
    const auto best_file = run_dir / "best.safetensors";
    const auto metrics_file = run_dir / "metrics.jsonl";
    LoopState state;
    state.plateau.lr = e.optimizer.lr;
    if (std::filesystem::exists(checkpoint)) {
        state = load_checkpoint(checkpoint, e, network, *optimizer);
        note("resumed from " + checkpoint.string() + " after epoch " +
             std::to_string(state.epochs_done));
    }
    truncate_metrics(metrics_file, state.epochs_done);

    const std::int64_t steps_per_epoch = plan.batches_per_epoch();
    const std::int64_t total_steps = steps_per_epoch * e.epochs;
    const auto batch_images =
        static_cast<std::size_t>(e.batch_size()) * static_cast<std::size_t>(train_set.image_size());
    std::vector<float> images(batch_images);
    const bool validate = !plan.validation_indices().empty();
    std::string stopped_because = "epochs";
    if (state.early.stop) stopped_because = "early_stopping";
    double eval_seconds_estimate = 0.0;

    const auto run_start = Clock::now();
    const double elapsed_before = state.elapsed_seconds;
    for (std::int64_t epoch = state.epochs_done; epoch < e.epochs && !state.early.stop; ++epoch) {
        source.begin_epoch(epoch);
        const auto epoch_start = Clock::now();
        double loss_sum = 0.0;
        std::int64_t correct = 0;
        std::int64_t seen = 0;
        double lr = 0.0;
        for (std::int64_t step = 0; step < steps_per_epoch; ++step) {
            if (callbacks.cancelled && callbacks.cancelled()) {
                throw TrainingCancelled("cancelled in epoch " + std::to_string(epoch + 1) +
                                        ", step " + std::to_string(step + 1));
            }
            const TrainingBatch batch = source.next(step);
            if (batch.labels.size() != static_cast<std::size_t>(e.batch_size()) ||
                batch.images.size() != batch_images || batch.epoch != epoch ||
                batch.index != step) {
                throw std::runtime_error(
                    "batch source delivered epoch " + std::to_string(batch.epoch) + " batch " +
                    std::to_string(batch.index) + " of " + std::to_string(batch.labels.size()) +
                    " images; expected epoch " + std::to_string(epoch) + " batch " +
                    std::to_string(step));
            }
            for (std::size_t i = 0; i < batch_images; ++i) {
                images[i] = static_cast<float>(batch.images[i]) / 255.0F;
            }
            const std::int64_t global_step = epoch * steps_per_epoch + step;
            lr = learning_rate(e, epoch, global_step, total_steps, steps_per_epoch, state.plateau);
            const auto result = network.train_step(images, batch.labels);
            optimizer->step(static_cast<float>(lr));
            loss_sum += result.loss;
            correct += result.correct;
            seen += e.batch_size();
            if (callbacks.on_step) {
                const double train_time = seconds_since(epoch_start);
                const double per_step = train_time / static_cast<double>(step + 1);
                const auto steps_left = total_steps - global_step - 1;
                StepProgress p;
                p.epoch = epoch;
                p.epochs = e.epochs;
                p.step = step + 1;
                p.steps_per_epoch = steps_per_epoch;
                p.loss = loss_sum / static_cast<double>(step + 1);
                p.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
                p.lr = lr;
                p.images_per_second = static_cast<double>(seen) / std::max(train_time, 1e-9);
                p.eta_seconds = per_step * static_cast<double>(steps_left) +
                                eval_seconds_estimate * static_cast<double>(e.epochs - epoch);
                callbacks.on_step(p);
            }
        }
        EpochRecord record;
        record.epoch = epoch;
        record.epochs = e.epochs;
        record.train_seconds = seconds_since(epoch_start);
        record.train_loss = loss_sum / static_cast<double>(steps_per_epoch);
        record.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
        record.images_per_second = static_cast<double>(seen) / record.train_seconds;
        record.lr = lr;

        const auto eval_start = Clock::now();
        const auto test = evaluate(network, test_set, {}, 500, 0);
        record.test_loss = test.loss;
        record.test_accuracy = test.accuracy;
        double monitored = record.train_loss;
        if (validate) {
            const auto val = evaluate(network, train_set, plan.validation_indices(), 500, 0);
            record.validation_loss = val.loss;
            record.validation_accuracy = val.accuracy;
            monitored = val.loss;
        }
        record.eval_seconds = seconds_since(eval_start);
        eval_seconds_estimate = record.eval_seconds;

        if (e.schedule.type == "plateau") {
            nn::PlateauOptions po;
            po.factor = e.schedule.factor;
            po.patience = e.schedule.patience;
            po.min_delta = e.schedule.min_delta;
            po.cooldown = e.schedule.cooldown;
            po.min_lr = e.schedule.min_lr;
            state.plateau = nn::reduce_on_plateau(state.plateau, monitored, po);
        }
        if (validate) {
            const double previous_best = state.early.best;
            state.early = nn::update_early_stopping(state.early, epoch, monitored,
                                                    e.stopping.patience > 0
                                                        ? e.stopping.patience
                                                        : std::numeric_limits<std::int64_t>::max());
            if (monitored < previous_best) nn::save_network(best_file, network);
            if (state.early.stop) stopped_because = "early_stopping";
        }
        state.epochs_done = epoch + 1;
        state.network_steps = network.step_count();
        state.optimizer_steps = optimizer->steps();
        state.elapsed_seconds = elapsed_before + seconds_since(run_start);
        record.elapsed_seconds = state.elapsed_seconds;
        {
            std::ofstream out(metrics_file, std::ios::app);
            out << to_json(record).dump() << "\n";
            out.close();  // flushes: a full disk shows here, not silently in the destructor
            if (!out) {
                throw std::runtime_error(metrics_file.string() +
                                         ": cannot append: " + std::strerror(errno));
            }
        }
        save_checkpoint(checkpoint, e, network, *optimizer, state);
        if (callbacks.on_epoch) callbacks.on_epoch(record);
        if (e.stopping.target_accuracy > 0 && test.accuracy >= e.stopping.target_accuracy) {
            stopped_because = "target_accuracy";
            break;
        }
    }

    if (validate && std::filesystem::exists(best_file)) {
        nn::load_network_weights(best_file, network);
        note("final model: epoch " + std::to_string(state.early.best_epoch + 1) +
             " (lowest validation loss)");
    }
    TrainResult result;
    result.test = evaluate(network, test_set, {}, 500, 20);
    result.epochs_run = state.epochs_done;
    result.elapsed_seconds = state.elapsed_seconds;
    result.stopped_because = stopped_because;
    const auto evaluation_json = to_json(result.test, test_set.class_names);
    {
        const auto file = run_dir / "evaluation.json";
        std::ofstream out(file);
        out << evaluation_json.dump(2) << "\n";
        out.close();
        if (!out) {
            throw std::runtime_error(file.string() + ": cannot write: " + std::strerror(errno));
        }
    }
    nlohmann::json metrics{
        {"test_accuracy", result.test.accuracy},   {"test_loss", result.test.loss},
        {"test_count", result.test.count},         {"epochs", result.epochs_run},
        {"train_seconds", result.elapsed_seconds}, {"stopped_because", stopped_because}};
    // The training curves travel with the model, so whoever serves it can show how it was made.
    nlohmann::json curves = nlohmann::json::array();
    {
        std::ifstream in(metrics_file);
        for (std::string line; std::getline(in, line);) {
            auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
            if (record.is_object()) curves.push_back(std::move(record));
        }
    }
    result.model = run_dir / "model.safetensors";
    nn::save_network(result.model, network,
                     {{"experiment", e.yaml},
                      {"run", run_id},
                      {"created", utc_now("%Y-%m-%dT%H:%M:%SZ")},
                      {"dataset", train_set.name},
                      {"dataset_sha256", train_set.sha256},
                      {"test_sha256", test_set.sha256},
                      {"class_names", nlohmann::json(test_set.class_names).dump()},
                      {"input", "1 x H x W floats: pixel / 255, ink high, background 0"},
                      {"metrics", metrics.dump()},
                      {"evaluation", evaluation_json.dump()},
                      {"curves", curves.dump()}});
    result.model_sha256 = nn::file_sha256(result.model);
    return result;
}

}  // namespace digitpipe::training
