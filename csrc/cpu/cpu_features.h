// cpu_features.h: which SIMD path the CPU kernels take, chosen once at run time.
#pragma once
#include <string>

namespace axonal {

enum class SimdPath { portable = 0, avx2 = 1 };

// True when the CPU (and OS) support AVX2 + FMA and the code was built with the x86 kernels.
bool cpu_has_avx2_fma();
// The path in use: AVX2/FMA where available unless AXONAL_SIMD=portable (or set_simd_path) says
// otherwise.
SimdPath simd_path();
void set_simd_path(SimdPath p);  // throws if avx2 is asked for on a CPU without it
std::string simd_path_name();

}  // namespace axonal
