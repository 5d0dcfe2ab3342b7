// spin_pool.h: a small pool of worker threads for kernels that take a few microseconds (a 64^3
// GEMM is ~5 us). OpenMP's fork/join makes the caller wait for every thread of the team, and in a
// VM a worker's wake-up alone can cost as much as the whole product. Here the caller never waits
// for a worker to arrive: items are claimed one at a time from a shared counter, the caller works
// through them itself, and it waits only for items a worker has already claimed. A late worker
// finds nothing left and the call runs at one thread's speed instead of stalling.
#pragma once
#include <cstdint>

namespace axonal {

// Run fn(ctx, i) for every i in [0, n) on the calling thread and up to `helpers` pool workers.
// Returns false without running anything when the pool cannot be used (another thread is using it,
// or this is a child process after fork); the caller then runs the items itself.
bool spin_pool_run(std::int64_t n, int helpers, void (*fn)(void*, std::int64_t), void* ctx);

}  // namespace axonal
