// Tests of WorkerSession::run_batches (framework/src/messaging/worker_session.cpp and
// handler_channel.cpp): requests that arrive while the handler gathers a batch join it, replies
// go back per request and in order, and options outside their ranges are refused. Over
// inproc:// and tcp://127.0.0.1:*; waits are bounded by kPatience; no test asserts on time.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "digitpipe/mdp.hpp"
#include "messaging_test_support.hpp"

namespace digitpipe::framework {
namespace {

using namespace std::chrono_literals;
using mdp_test::RunningBroker;
using mdp_test::Transport;

class BatchTest : public ::testing::TestWithParam<Transport> {
 protected:
    zmq::context_t context;  // declared first: destroyed after every socket below
};

// The first request opens a batch; the handler gathers (max_batch_wait is long) until the
// other three have arrived through the broker, and gets all four at once.
TEST_P(BatchTest, RequestsArrivingWhileGatheringJoinTheBatch) {
    RunningBroker broker(context, mdp_test::broker_options(GetParam()));
    auto options = mdp_test::worker_options(broker.endpoint(), "echo");
    options.prefetch = 4;
    options.max_batch = 4;
    options.max_batch_wait = 10s;  // far longer than four sends take: the batch fills first
    std::mutex mutex;
    std::vector<std::size_t> batch_sizes;
    std::atomic<bool> stop{false};
    WorkerSession session(context, options);
    std::thread worker([&] {
        session.run_batches(
            [&](std::vector<Frames>&& bodies) {
                {
                    const std::lock_guard lock(mutex);
                    batch_sizes.push_back(bodies.size());
                }
                for (auto& body : bodies) body[0] = "batched";
                return std::move(bodies);
            },
            stop);
    });
    struct StopOnExit {
        std::atomic<bool>& stop;
        std::thread& thread;
        ~StopOnExit() {
            stop = true;
            thread.join();
        }
    } stop_on_exit{stop, worker};
    ASSERT_TRUE(mdp_test::wait_until([&] { return broker.service("echo").workers_idle == 1; }));

    AsyncClient client(context, broker.endpoint());
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(client.send("echo", mdp_test::make_body("id-" + std::to_string(i))).is_ok());
    }
    std::vector<std::string> answered;
    while (answered.size() < 4) {
        const auto reply = client.receive(mdp_test::kPatience);
        ASSERT_TRUE(reply.has_value()) << "after " << answered.size() << " replies";
        EXPECT_EQ(reply->second.at(0), "batched");
        answered.push_back(reply->second.at(2));
    }
    EXPECT_EQ(answered, (std::vector<std::string>{"id-0", "id-1", "id-2", "id-3"}));
    const std::lock_guard lock(mutex);
    EXPECT_EQ(batch_sizes, std::vector<std::size_t>{4});
}

INSTANTIATE_TEST_SUITE_P(Transports, BatchTest,
                         ::testing::Values(Transport::kInproc, Transport::kTcp),
                         [](const auto& info) { return mdp_test::transport_name(info.param); });

TEST(WorkerOptionsTest, RejectsABatchLargerThanThePrefetchCredit) {
    zmq::context_t context;
    auto options = mdp_test::worker_options("inproc://x", "echo");
    options.prefetch = 4;
    for (const int max_batch : {0, 5}) {
        options.max_batch = max_batch;
        EXPECT_THROW(WorkerSession(context, options), std::invalid_argument) << max_batch;
    }
    options.max_batch = 4;
    options.max_batch_wait = -1us;
    EXPECT_THROW(WorkerSession(context, options), std::invalid_argument);
    options.max_batch_wait = 0us;
    EXPECT_NO_THROW(WorkerSession(context, options));
}

}  // namespace
}  // namespace digitpipe::framework
