// Dataset loading and the epoch plan (see dataset.hpp).
#include "digitpipe/training/dataset.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <numeric>
#include <stdexcept>

#include "digitpipe/idx.hpp"
#include "digitpipe/nn/random.hpp"
#include "digitpipe/nn/safetensors.hpp"

namespace digitpipe::training {
namespace {

namespace fw = framework;

struct DatasetFiles {
    std::string name;
    std::string folder;
    std::string suffix;  // ".gz" for Debian's Fashion-MNIST
    std::vector<std::string> class_names;
};

const std::vector<DatasetFiles>& known_datasets() {
    static const std::vector<DatasetFiles> datasets{
        {"mnist", "mnist", "", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}},
        {"fashion",
         "fashion-mnist",
         ".gz",
         {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
          "Bag", "Ankle boot"}},
    };
    return datasets;
}

// Salt of the validation hold-out permutation, apart from every epoch's (epoch numbers are
// small, this is not).
constexpr std::uint64_t kValidationStream = 0x76616c6964ULL;  // "valid"

}  // namespace

std::string_view split_name(Split split) noexcept {
    return split == Split::kTrain ? "train" : "test";
}

const std::vector<std::string>& dataset_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& d : known_datasets()) out.push_back(d.name);
        return out;
    }();
    return names;
}

Dataset load_dataset(const std::filesystem::path& data_dir, std::string_view name, Split split) {
    const auto& datasets = known_datasets();
    const auto it = std::find_if(datasets.begin(), datasets.end(),
                                 [&](const DatasetFiles& d) { return d.name == name; });
    if (it == datasets.end()) {
        std::string known;
        for (const auto& d : datasets) known += (known.empty() ? "" : ", ") + d.name;
        throw std::invalid_argument("unknown dataset '" + std::string(name) + "' (known: " + known +
                                    ")");
    }
    const std::string prefix = split == Split::kTrain ? "train" : "t10k";
    const auto folder = data_dir / it->folder;
    const auto image_file = folder / (prefix + "-images-idx3-ubyte" + it->suffix);
    const auto label_file = folder / (prefix + "-labels-idx1-ubyte" + it->suffix);
    if (!std::filesystem::exists(image_file)) {
        throw fw::DataError(image_file.string() +
                            ": missing (run deploy/fetch-data.sh, or set paths.data)");
    }
    fw::IdxArray images = fw::read_idx(image_file);
    fw::IdxArray labels = fw::read_idx(label_file);
    if (images.dtype != fw::IdxType::kU8 || images.dims.size() != 3) {
        throw fw::DataError(image_file.string() + ": expected N x H x W u8 images, got " +
                            images.describe());
    }
    if (labels.dtype != fw::IdxType::kU8 || labels.dims.size() != 1 ||
        labels.dims[0] != images.dims[0]) {
        throw fw::DataError(label_file.string() + ": expected " + std::to_string(images.dims[0]) +
                            " u8 labels (one per image in " + image_file.filename().string() +
                            "), got " + labels.describe());
    }
    Dataset out;
    out.name = it->name;
    out.split = split;
    out.count = images.dims[0];
    out.height = images.dims[1];
    out.width = images.dims[2];
    out.class_names = it->class_names;
    out.labels.resize(labels.data.size());
    for (std::size_t i = 0; i < labels.data.size(); ++i) {
        if (labels.data[i] >= out.class_names.size()) {
            throw fw::DataError(label_file.string() + ": label " + std::to_string(i) + " is " +
                                std::to_string(labels.data[i]) + ", outside [0, " +
                                std::to_string(out.class_names.size()) + ")");
        }
        out.labels[i] = labels.data[i];
    }
    std::vector<std::uint8_t> both = images.data;
    both.insert(both.end(), labels.data.begin(), labels.data.end());
    out.sha256 = nn::sha256_hex(std::as_bytes(std::span(both)));
    out.images = std::move(images.data);
    return out;
}

nlohmann::json to_json(const EpochPlanSpec& spec) {
    return {{"dataset", spec.dataset},
            {"seed", spec.seed},
            {"batch_size", spec.batch_size},
            {"validation", spec.validation},
            {"limit", spec.limit}};
}

EpochPlanSpec epoch_plan_spec_from_json(const nlohmann::json& json) {
    const auto field = [&](const char* key) -> const nlohmann::json& {
        if (!json.is_object() || !json.contains(key)) {
            throw std::invalid_argument(std::string("plan.") + key + ": missing");
        }
        return json.at(key);
    };
    const auto integer = [&](const char* key) {
        const auto& value = field(key);
        if (!value.is_number_integer()) {
            throw std::invalid_argument(std::string("plan.") + key + ": expected an integer");
        }
        return value.get<std::int64_t>();
    };
    EpochPlanSpec spec;
    if (!field("dataset").is_string())
        throw std::invalid_argument("plan.dataset: expected a string");
    spec.dataset = field("dataset").get<std::string>();
    if (!field("seed").is_number_unsigned() && !field("seed").is_number_integer()) {
        throw std::invalid_argument("plan.seed: expected an integer");
    }
    spec.seed = field("seed").get<std::uint64_t>();
    spec.batch_size = integer("batch_size");
    spec.validation = integer("validation");
    spec.limit = integer("limit");
    return spec;
}

std::vector<std::int64_t> seeded_permutation(std::int64_t count, std::uint64_t seed,
                                             std::uint64_t stream) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(count));
    std::iota(order.begin(), order.end(), 0);
    if (count < 2) return order;
    std::vector<float> uniform(order.size());
    nn::generate_uniform(nn::mix_seed(seed, 0x7065726dULL /* "perm" */), stream, uniform);
    for (std::int64_t i = count - 1; i > 0; --i) {
        // uniform in [0, 1) with 24 bits: j in [0, i]; the bias for i < 2^24 is negligible.
        const auto j = std::min<std::int64_t>(
            i, static_cast<std::int64_t>(uniform[static_cast<std::size_t>(i)] *
                                         static_cast<float>(i + 1)));
        std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
    }
    return order;
}

EpochPlan::EpochPlan(const EpochPlanSpec& spec, std::int64_t dataset_count) : spec_(spec) {
    if (spec.batch_size < 1) {
        throw std::invalid_argument("batch_size must be >= 1, got " +
                                    std::to_string(spec.batch_size));
    }
    if (spec.validation < 0 || spec.limit < 0) {
        throw std::invalid_argument("validation and limit must be >= 0");
    }
    if (spec.validation >= dataset_count) {
        throw std::invalid_argument("validation holds out " + std::to_string(spec.validation) +
                                    " of " + std::to_string(dataset_count) +
                                    " images, leaving none to train on");
    }
    const auto all = seeded_permutation(dataset_count, spec.seed, kValidationStream);
    validation_.assign(all.begin(), all.begin() + spec.validation);
    std::sort(validation_.begin(), validation_.end());
    train_.assign(all.begin() + spec.validation, all.end());
    std::sort(train_.begin(), train_.end());
    if (spec.limit > 0 && spec.limit < static_cast<std::int64_t>(train_.size())) {
        train_.resize(static_cast<std::size_t>(spec.limit));
    }
    batches_ = static_cast<std::int64_t>(train_.size()) / spec.batch_size;
    if (batches_ < 1) {
        throw std::invalid_argument("batch_size " + std::to_string(spec.batch_size) +
                                    " is larger than the " + std::to_string(train_.size()) +
                                    " training images");
    }
}

const std::vector<std::int64_t>& EpochPlan::order(std::int64_t epoch) const {
    if (cached_epoch_ != epoch) {
        const auto permutation = seeded_permutation(static_cast<std::int64_t>(train_.size()),
                                                    spec_.seed, static_cast<std::uint64_t>(epoch));
        cached_order_.resize(permutation.size());
        for (std::size_t i = 0; i < permutation.size(); ++i) {
            cached_order_[i] = train_[static_cast<std::size_t>(permutation[i])];
        }
        cached_epoch_ = epoch;
    }
    return cached_order_;
}

std::vector<std::int64_t> EpochPlan::batch_indices(std::int64_t epoch, std::int64_t batch) const {
    const auto& all = order(epoch);
    const auto begin = all.begin() + batch * spec_.batch_size;
    return {begin, begin + spec_.batch_size};
}

}  // namespace digitpipe::training
