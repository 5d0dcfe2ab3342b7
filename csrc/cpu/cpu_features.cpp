#include "cpu/cpu_features.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace axonal {

bool cpu_has_avx2_fma() {
#if defined(AXONAL_X86) && (defined(__GNUC__) || defined(__clang__))
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok;
#else
  return false;
#endif
}

bool cpu_has_avx512f() {
#if defined(AXONAL_X86) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports checks the CPU's and (in current GCC) the OS's support
  static const bool ok = [] {
    __builtin_cpu_init();
    return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f");
  }();
  return ok;
#else
  return false;
#endif
}

static SimdPath initial_path() {
  const char* env = std::getenv("AXONAL_SIMD");
  if (env && (std::strcmp(env, "portable") == 0 || std::strcmp(env, "generic") == 0))
    return SimdPath::portable;
  if (env && std::strcmp(env, "avx2") == 0 && cpu_has_avx2_fma()) return SimdPath::avx2;
  if (cpu_has_avx512f()) return SimdPath::avx512;
  return cpu_has_avx2_fma() ? SimdPath::avx2 : SimdPath::portable;
}

static SimdPath g_path = initial_path();

SimdPath simd_path() { return g_path; }

void set_simd_path(SimdPath p) {
  if (p == SimdPath::avx2 && !cpu_has_avx2_fma())
    throw std::invalid_argument("set_simd_path: this CPU (or build) has no AVX2/FMA support");
  if (p == SimdPath::avx512 && !cpu_has_avx512f())
    throw std::invalid_argument("set_simd_path: this CPU (or build) has no AVX-512F support");
  g_path = p;
}

std::string simd_path_name() {
  switch (g_path) {
    case SimdPath::avx512:
      return "avx512f+avx2+fma";
    case SimdPath::avx2:
      return "avx2+fma";
    default:
      return "portable";
  }
}

}  // namespace axonal
