// A training step in steady state allocates no large buffers: every activation, gradient,
// workspace and scratchpad is made when a (batch, mode) plan is built (FACTS.md: allocator
// churn cost PyTorch 20-30%). Counts allocations of at least kLargeAllocationBytes made
// anywhere in the process through operator new (our buffers) or posix_memalign (oneDNN's
// memory objects and scratchpads), interposed below. oneDNN's C++ API and its internal argument
// maps make small allocations per primitive call, which glibc serves from its thread cache.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>

#include "digitpipe/nn/network.hpp"
#include "digitpipe/nn/optimizer.hpp"
#include "nn_test_util.hpp"

namespace {

// Smallest allocation that counts as large: well above oneDNN's per-call bookkeeping, well
// below the smallest activation of the test network (8 x 16 x 6 x 6 x 4 bytes = 18 KiB).
constexpr std::size_t kLargeAllocationBytes = 16 * 1024;

std::atomic<long> large_allocations{0};

}  // namespace

// glibc's own aligned allocator, which the interposed posix_memalign forwards to.
extern "C" void* __libc_memalign(std::size_t alignment, std::size_t size);

extern "C" int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
    if (size >= kLargeAllocationBytes) {
        large_allocations.fetch_add(1, std::memory_order_relaxed);
    }
    void* p = __libc_memalign(alignment, size);
    if (p == nullptr) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}

void* operator new(std::size_t size) {
    if (size >= kLargeAllocationBytes) {
        large_allocations.fetch_add(1, std::memory_order_relaxed);
    }
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
// g++ 12 at -O2 -g cannot see that the replaced operator new above allocates with malloc and
// flags the matching free as mismatched.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace digitpipe::nn {
namespace {

TEST(AllocationTest, SteadyStateTrainingStepAllocatesNoLargeBuffers) {
    NetworkSpec spec;
    spec.name = "alloc";
    spec.input = {1, 12, 12};
    spec.layers = {{"conv", Conv2dSpec{.filters = 16}},
                   {"bn", BatchNormSpec{}},
                   {"relu", ReluSpec{}},
                   {"pool", MaxPoolSpec{}},
                   {"drop", DropoutSpec{.rate = 0.25F}},
                   {"flat", FlattenSpec{}},
                   {"fc", DenseSpec{.units = 10}}};
    Network net(spec, {});
    Adam adam(net.trainable_parameters(), {});
    const std::vector<float> src = testing::random_values(8 * 144, 501);
    const std::vector<std::int32_t> labels = {0, 1, 2, 3, 4, 5, 6, 7};
    const long at_start = large_allocations.load();
    net.train_step(src, labels);  // builds the training plan
    adam.step(1e-3F);
    net.predict(src);  // builds the inference plan
    const long before = large_allocations.load();
    // The hooks see the plans' buffers (activations from oneDNN, masks from operator new).
    ASSERT_GT(before - at_start, 10);
    for (int step = 0; step < 3; ++step) {
        net.train_step(src, labels);
        adam.step(1e-3F);
        net.predict(src);
    }
    EXPECT_EQ(large_allocations.load() - before, 0);
}

}  // namespace
}  // namespace digitpipe::nn
