// A worker child of a Pipeline (`framebus worker`): one inference worker, or several as threads
// of this process, each with its own classifier.

#include <iostream>
#include <thread>
#include <vector>

#include "framebus/pipeline/children.hpp"
#include "framebus/pipeline/worker.hpp"

namespace framebus {
namespace {

int run_one(const WorkerProcessOptions& a, std::uint32_t id, const std::stop_token& stop) {
  auto classifier = Classifier::create(to_classifier_options(a.model, a.threads, a.worker.batch));
  if (!classifier) {
    std::cerr << "framebus worker " << id << ": " << classifier.error().message() << '\n';
    return 1;
  }
  WorkerOptions o = a.worker;
  o.worker_id = id;
  o.stop = stop;
  auto stats = run_worker(*classifier, o);
  if (!stats) {
    std::cerr << "framebus worker " << id << ": " << stats.error().message() << '\n';
    return 1;
  }
  if (stats->last_error) {
    std::cerr << "framebus worker " << id << ": " << stats->errors
              << " frames failed to classify: " << stats->last_error->message() << '\n';
  }
  return 0;
}

}  // namespace

int run_worker_process(const WorkerProcessOptions& a, std::stop_token stop) {
  if (a.worker_threads <= 1) return run_one(a, a.worker.worker_id, stop);
  std::vector<int> status(a.worker_threads, 0);
  std::vector<std::thread> threads;
  for (std::uint32_t i = 0; i < a.worker_threads; ++i) {
    threads.emplace_back([&, i] { status[i] = run_one(a, a.worker.worker_id + i, stop); });
  }
  for (auto& t : threads) t.join();
  for (int s : status) {
    if (s != 0) return s;
  }
  return 0;
}

}  // namespace framebus
