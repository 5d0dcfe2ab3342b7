// cpu_features.h: which SIMD path the CPU kernels take, chosen once at run time.
#pragma once
#include <string>

namespace axonal {

// avx512: the GEMM uses AVX-512F micro-kernels; every other kernel takes its AVX2 path.
enum class SimdPath { portable = 0, avx2 = 1, avx512 = 2 };

// True when the CPU (and OS) support AVX2 + FMA and the code was built with the x86 kernels.
bool cpu_has_avx2_fma();
// True when, in addition, the CPU and OS support AVX-512F (zmm state enabled in XCR0).
bool cpu_has_avx512f();
// The path in use: the widest the CPU supports unless AXONAL_SIMD=portable|avx2 (or set_simd_path)
// says otherwise.
SimdPath simd_path();
// AVX2/FMA code may run (the avx2 and avx512 paths)
inline bool simd_avx2() { return simd_path() != SimdPath::portable; }
void set_simd_path(SimdPath p);  // throws if the CPU lacks what p needs
std::string simd_path_name();

}  // namespace axonal
