// Joining Prometheus text expositions (format 0.0.4) for GET /metrics: the gateway's own
// registry plus each stage's `metrics` verb reply. Every stage renders the worker host's
// families (digitpipe_worker_requests_total{stage=...}, ...), so pasting the texts together
// would repeat # HELP/# TYPE lines and split families, which Prometheus rejects; this merges
// them by family instead.
#pragma once

#include <string>
#include <vector>

namespace digitpipe::gateway {

// One exposition holding every family of `texts`, in order of first appearance: the first
// # HELP and # TYPE seen for a family, then all its samples from all texts (a histogram's
// _bucket/_sum/_count lines stay with their family). Other comments and blank lines are
// dropped. Samples are not deduplicated: callers pass texts whose label sets differ.
std::string merge_prometheus_texts(const std::vector<std::string>& texts);

}  // namespace digitpipe::gateway
