// bindings.cpp: the _cuda extension module. For now a build probe: device count and properties.
// Every CUDA runtime call is checked and a failure becomes a Python RuntimeError.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

namespace py = pybind11;

namespace {

int device_count() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error: no driver / no device means zero devices
    return 0;
  }
  return n;
}

py::dict device_properties(int dev) {
  const int n = device_count();
  if (dev < 0 || dev >= n)
    throw std::invalid_argument("cuda.device_properties: device " + std::to_string(dev) +
                                " out of range (" + std::to_string(n) + " devices)");
  cudaDeviceProp p{};
  cudaError_t err = cudaGetDeviceProperties(&p, dev);
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(err));
  py::dict d;
  d["name"] = std::string(p.name);
  d["major"] = p.major;
  d["minor"] = p.minor;
  d["total_memory"] = static_cast<size_t>(p.totalGlobalMem);
  d["multi_processor_count"] = p.multiProcessorCount;
  return d;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "axonal CUDA kernels";
  m.def("device_count", &device_count);
  m.def("device_properties", &device_properties, py::arg("device") = 0);
  m.def("runtime_version", [] {
    int v = 0;
    cudaRuntimeGetVersion(&v);
    return v;
  });
  m.def("compiled_version", [] { return CUDART_VERSION; });
}
