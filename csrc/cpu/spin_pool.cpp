// spin_pool.cpp: see spin_pool.h.
//
// Protocol. `state` packs (generation << 32 | next item). The caller publishes a job by storing
// its fields and then a new generation with item 0 (release). Anyone claims item i by a CAS from
// (g, i) to (g, i + 1), so a worker that read a previous job's fields can never claim an item of
// a newer one: its CAS names the old generation and fails. Workers count finished items in
// `done`; the caller, once every item is claimed, waits until `done` plus its own count reaches n.
// A worker spins for a while after its last job (cheap hand-over for a burst of small calls),
// then sleeps on a condition variable until a new generation is published.
#include "cpu/spin_pool.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace axonal {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

struct Pool {
  std::atomic<std::uint64_t> state{0};
  std::atomic<void (*)(void*, std::int64_t)> fn{nullptr};
  std::atomic<void*> ctx{nullptr};
  std::atomic<std::uint32_t> n_items{0};
  std::atomic<int> active{0};  // workers [0, active) may take part in the current job
  std::atomic<std::uint32_t> done{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> busy{false};
  std::mutex m;
  std::condition_variable cv;
  int started = 0;         // workers created (guarded by busy)
  std::uint32_t gen = 0;   // last published generation (guarded by busy)
  pid_t pid = ::getpid();  // the pool's threads exist only in this process

  void worker(int id) {
    std::uint32_t seen = static_cast<std::uint32_t>(state.load(std::memory_order_acquire) >> 32);
    auto last = std::chrono::steady_clock::now();
    for (;;) {
      std::uint64_t st = state.load(std::memory_order_acquire);
      const auto g = static_cast<std::uint32_t>(st >> 32);
      if (g != seen) {
        seen = g;
        if (id < active.load(std::memory_order_relaxed)) {
          auto* f = fn.load(std::memory_order_relaxed);
          void* c = ctx.load(std::memory_order_relaxed);
          const std::uint32_t n = n_items.load(std::memory_order_relaxed);
          for (;;) {
            if (static_cast<std::uint32_t>(st >> 32) != g || static_cast<std::uint32_t>(st) >= n)
              break;
            if (state.compare_exchange_weak(st, st + 1, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
              f(c, static_cast<std::int64_t>(static_cast<std::uint32_t>(st)));
              done.fetch_add(1, std::memory_order_release);
              st = state.load(std::memory_order_acquire);
            }
          }
        }
        last = std::chrono::steady_clock::now();
        continue;
      }
      // ~0.2 ms of spinning after the last job, then sleep until the next generation
      // (yielding, not pausing: when the scheduler has put this worker on the caller's CPU, a
      // pure spin would take the caller's time slices and make the call slower than one thread)
      if (std::chrono::steady_clock::now() - last < std::chrono::microseconds(200)) {
        std::this_thread::yield();
        continue;
      }
      std::unique_lock<std::mutex> lk(m);
      sleepers.fetch_add(1);
      cv.wait(lk, [&] { return static_cast<std::uint32_t>(state.load() >> 32) != seen; });
      sleepers.fetch_sub(1);
      lk.unlock();
      last = std::chrono::steady_clock::now();
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may still spin on it at exit
  return *p;
}

}  // namespace

bool spin_pool_run(std::int64_t n, int helpers, void (*fn)(void*, std::int64_t), void* ctx) {
  static const bool enabled = [] {  // AXONAL_SPIN_POOL=0: small GEMMs use OpenMP like the rest
    const char* v = std::getenv("AXONAL_SPIN_POOL");
    return !(v && v[0] == '0');
  }();
  if (n <= 0) return true;
  // never more spinning workers than the machine has other cores (set_num_threads(64) on a
  // 2-core machine must not start 63 of them)
  static const int max_helpers =
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);
  helpers = std::min(helpers, max_helpers);
  if (!enabled || helpers <= 0 || n >= (std::int64_t(1) << 32)) return false;
  Pool& p = pool();
  if (p.pid != ::getpid()) return false;  // forked child: the workers stayed in the parent
  if (p.busy.exchange(true, std::memory_order_acquire)) return false;
  try {
    while (p.started < helpers) {
      const int id = p.started;
      std::thread([&p, id] { p.worker(id); }).detach();
      ++p.started;
    }
  } catch (...) {  // no thread could be created: run on the caller alone
    if (p.started == 0) {
      p.busy.store(false, std::memory_order_release);
      return false;
    }
  }
  const auto items = static_cast<std::uint32_t>(n);
  p.fn.store(fn, std::memory_order_relaxed);
  p.ctx.store(ctx, std::memory_order_relaxed);
  p.n_items.store(items, std::memory_order_relaxed);
  p.active.store(helpers, std::memory_order_relaxed);
  p.done.store(0, std::memory_order_relaxed);
  ++p.gen;
  if (p.gen == 0) ++p.gen;                    // generation 0 is the initial state
  p.state.store(std::uint64_t(p.gen) << 32);  // seq_cst: ordered before the sleepers check
  if (p.sleepers.load() > 0) {
    {
      std::lock_guard<std::mutex> lk(p.m);
    }
    p.cv.notify_all();
  }
  std::uint32_t mine = 0;
  std::uint64_t st = p.state.load(std::memory_order_acquire);
  while (static_cast<std::uint32_t>(st) < items) {
    if (p.state.compare_exchange_weak(st, st + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      fn(ctx, static_cast<std::int64_t>(static_cast<std::uint32_t>(st)));
      ++mine;
      st = p.state.load(std::memory_order_acquire);
    }
  }
  // Wait for the items workers claimed. Spin briefly, then yield: a worker the scheduler put on
  // this CPU can only finish its item when the caller lets it run.
  for (int spins = 0; p.done.load(std::memory_order_acquire) + mine < items; ++spins) {
    if (spins < 256)
      cpu_relax();
    else
      std::this_thread::yield();
  }
  p.busy.store(false, std::memory_order_release);
  return true;
}

}  // namespace axonal
