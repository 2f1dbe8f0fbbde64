// Labelled image datasets for the learning stages (train, augment, evaluate, infer's samples):
// the MNIST-format IDX files under the deployment's data folder, loaded into memory, and the
// seeded epoch plan that says which images form batch b of epoch e. The plan is a pure
// function of its spec, so the trainer and every augment worker agree on it without talking.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace digitpipe::training {

enum class Split { kTrain, kTest };

// "train" or "test".
std::string_view split_name(Split split) noexcept;

// One split of a dataset, images as u8 (0 = background, 255 = ink) row-major.
// Invariant: images.size() == count * height * width, labels.size() == count, every label in
// [0, class_names.size()).
struct Dataset {
    std::string name;  // "mnist" or "fashion"
    Split split = Split::kTrain;
    std::int64_t count = 0;
    std::int64_t height = 0;
    std::int64_t width = 0;
    std::vector<std::uint8_t> images;
    std::vector<std::int32_t> labels;
    std::vector<std::string> class_names;
    std::string sha256;  // of the image bytes then the label bytes, lower-case hex

    std::int64_t image_size() const noexcept { return height * width; }
    std::span<const std::uint8_t> image(std::int64_t index) const noexcept {
        return {images.data() + index * image_size(), static_cast<std::size_t>(image_size())};
    }
};

// The dataset names load_dataset knows: "mnist" (data/mnist, raw IDX) and "fashion"
// (data/fashion-mnist, gzipped IDX).
const std::vector<std::string>& dataset_names();

// Loads one split of a named dataset from data_dir.
// throws: std::invalid_argument for an unknown name (listing the known ones);
//         framework::DataError naming the file for a missing or malformed file, or images and
//         labels that disagree (count, dims, a label out of range).
Dataset load_dataset(const std::filesystem::path& data_dir, std::string_view name, Split split);

// How the training split is cut into batches. Part of an experiment; sent to augment workers
// as JSON so they rebuild the same plan.
struct EpochPlanSpec {
    std::string dataset = "mnist";
    std::uint64_t seed = 0;
    std::int64_t batch_size = 128;
    std::int64_t validation = 0;  // images held out of training for validation
    std::int64_t limit = 0;       // train on the first `limit` remaining images (0 = all)

    friend bool operator==(const EpochPlanSpec&, const EpochPlanSpec&) = default;
};

nlohmann::json to_json(const EpochPlanSpec& spec);
// throws: std::invalid_argument naming the field for a missing or mistyped one.
EpochPlanSpec epoch_plan_spec_from_json(const nlohmann::json& json);

// The training/validation split of a dataset and the per-epoch shuffle.
// Validation images are a seeded random subset, fixed for the run; the rest are shuffled
// afresh every epoch by (seed, epoch); a last partial batch is dropped (its images are
// different ones each epoch).
// Thread-safety: none (it caches the current epoch's order); one per thread.
class EpochPlan {
 public:
    // throws: std::invalid_argument when batch_size < 1, validation or limit is negative, or
    //         fewer than one batch of training images remains.
    EpochPlan(const EpochPlanSpec& spec, std::int64_t dataset_count);

    const EpochPlanSpec& spec() const noexcept { return spec_; }
    std::int64_t batches_per_epoch() const noexcept { return batches_; }
    std::int64_t train_count() const noexcept { return static_cast<std::int64_t>(train_.size()); }
    const std::vector<std::int64_t>& validation_indices() const noexcept { return validation_; }
    // Dataset indices of batch `batch` of `epoch`, in order.
    // requires: 0 <= batch < batches_per_epoch().
    std::vector<std::int64_t> batch_indices(std::int64_t epoch, std::int64_t batch) const;

 private:
    const std::vector<std::int64_t>& order(std::int64_t epoch) const;

    EpochPlanSpec spec_;
    std::vector<std::int64_t> train_;
    std::vector<std::int64_t> validation_;
    std::int64_t batches_ = 0;
    mutable std::int64_t cached_epoch_ = -1;
    mutable std::vector<std::int64_t> cached_order_;
};

// A seeded Fisher-Yates permutation of [0, count) from the engine's Philox stream.
std::vector<std::int64_t> seeded_permutation(std::int64_t count, std::uint64_t seed,
                                             std::uint64_t stream);

}  // namespace digitpipe::training
