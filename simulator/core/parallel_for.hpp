// Runs fn(state, i) for i in [0, n) on a pool of std::threads, each with its own state from
// make_state() (a cost model is not thread-safe, so every worker makes its own). Workers take the
// next indices from a shared counter; results go to slot i of the caller's vector, so the outcome
// does not depend on the thread count or on which thread ran what. If any call throws, the
// exception of the lowest index is rethrown after all workers stop (the same one on every run).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ecsim {

// 0 asks for one worker per hardware thread.
inline unsigned worker_count(unsigned requested, std::size_t work_items) {
  unsigned n = requested != 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
  if (work_items < n) n = static_cast<unsigned>(std::max<std::size_t>(1, work_items));
  return n;
}

// Workers take `grain` consecutive indices at a time (neighbours that share work in a worker's
// state stay together). on_done(k) is called after each item with the number finished so far
// (from the workers: it must be thread-safe).
template <class MakeState, class Fn, class OnDone>
void parallel_for(std::size_t n, unsigned threads, std::size_t grain, MakeState make_state, Fn fn, OnDone on_done) {
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> finished{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::size_t error_index = n;
  std::exception_ptr error;
  auto work = [&] {
    try {
      auto state = make_state();
      // A block once taken runs up to its first failure, so every index below the lowest
      // failing one runs too.
      while (!failed) {
        const std::size_t first = next.fetch_add(grain);
        if (first >= n) break;
        for (std::size_t i = first; i < std::min(n, first + grain); ++i) {
          try {
            fn(state, i);
          } catch (...) {
            const std::lock_guard<std::mutex> lock(error_mutex);
            if (i < error_index) {
              error_index = i;
              error = std::current_exception();
            }
            failed = true;
            break;
          }
          on_done(++finished);
        }
      }
    } catch (...) {
      // make_state failed: index 0's slot stands for it (it precedes every item).
      const std::lock_guard<std::mutex> lock(error_mutex);
      error_index = 0;
      error = std::current_exception();
      failed = true;
    }
  };
  const unsigned count = worker_count(threads, n);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < count; ++t) pool.emplace_back(work);
  work();  // the calling thread is a worker too
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace ecsim
