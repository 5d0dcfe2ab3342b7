// threads.h: the library-wide thread count for the CPU kernels (OpenMP).
#pragma once

namespace axonal {

int get_num_threads();
void set_num_threads(int n);  // n >= 1
int hardware_threads();
bool built_with_openmp();

}  // namespace axonal
