// check.h: argument checks that turn into Python exceptions.
// AX_CHECK(cond, msg) throws std::invalid_argument (ValueError in Python);
// AX_CHECK_TYPE throws pybind11::type_error (TypeError). Messages name the op and the shapes.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace axonal {

template <typename... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace axonal

#define AX_CHECK(cond, ...)                                                   \
  do {                                                                        \
    if (!(cond)) throw std::invalid_argument(::axonal::str_cat(__VA_ARGS__)); \
  } while (0)
