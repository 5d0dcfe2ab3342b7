// threads.h: the library-wide thread count for the CPU kernels (OpenMP), and the one-level
// split of a range of work items over threads that the row-wise kernels share.
#pragma once
#include <algorithm>
#include <cstdint>

#ifdef AXONAL_OPENMP
#include <omp.h>
#endif

namespace axonal {

int get_num_threads();
void set_num_threads(int n);  // n >= 1
int hardware_threads();
bool built_with_openmp();

// body(lo, hi) over [0, items) in contiguous chunks, one per thread, on up to nt threads (never
// more threads than items; inline on this thread when one).
template <class F>
void parallel_chunks(std::int64_t items, int nt, F&& body) {
  const int nth = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(nt, items)));
#ifdef AXONAL_OPENMP
  if (nth > 1) {
#pragma omp parallel num_threads(nth)
    {
      const std::int64_t tid = omp_get_thread_num(), n = omp_get_num_threads();
      const std::int64_t q = items / n, r = items % n;
      const std::int64_t lo = tid * q + std::min(tid, r);
      body(lo, lo + q + (tid < r ? 1 : 0));
    }
    return;
  }
#endif
  (void)nth;
  body(std::int64_t(0), items);
}

}  // namespace axonal
