#include "cpu/threads.h"

#include <pthread.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#ifdef AXONAL_OPENMP
#include <omp.h>
#endif

namespace axonal {

int hardware_threads() {
#ifdef AXONAL_OPENMP
  return omp_get_num_procs();
#else
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
#endif
}

static int initial_threads() {
  if (const char* env = std::getenv("AXONAL_NUM_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && v >= 1 && v <= 4096) return static_cast<int>(v);
  }
#ifdef AXONAL_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

static int g_threads = initial_threads();

// A process forked from one whose OpenMP thread team exists (any multi-threaded kernel call) must
// not start a parallel region: GNU libgomp's team does not survive fork and the child would hang.
// Children (DataLoader-style workers, multiprocessing's fork start method) therefore start on one
// thread; set_num_threads() in the child overrides this at the caller's risk.
static void on_fork_child() { g_threads = 1; }
static const int g_atfork = pthread_atfork(nullptr, nullptr, &on_fork_child);

int get_num_threads() {
#ifdef AXONAL_OPENMP
  return g_threads;
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  if (n < 1)
    throw std::invalid_argument("set_num_threads: the thread count must be >= 1, got " +
                                std::to_string(n));
  g_threads = n;
}

bool built_with_openmp() {
#ifdef AXONAL_OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace axonal
