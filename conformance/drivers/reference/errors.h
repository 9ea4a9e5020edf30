// Errors the driver itself raises, by their canonical protocol name (spec/driver-protocol.md §5):
// ProtocolError, Unsupported, ActorDied, and the Python names mpipc has no C++ type for
// (PicklingError / UnpicklingError for a mpipc::SerializationError by direction, RuntimeError).
#ifndef MPIPC_CONFORMANCE_DRIVERS_REFERENCE_ERRORS_H_
#define MPIPC_CONFORMANCE_DRIVERS_REFERENCE_ERRORS_H_

#include <stdexcept>
#include <string>
#include <utility>

namespace mpipc_driver {

class DriverError : public std::runtime_error {
 public:
  DriverError(std::string type, const std::string& message)
      : std::runtime_error(message), type_(std::move(type)) {}
  const std::string& type() const noexcept { return type_; }

 private:
  std::string type_;
};

inline DriverError ProtocolError(const std::string& message) { return {"ProtocolError", message}; }
inline DriverError Unsupported(const std::string& message) { return {"Unsupported", message}; }

}  // namespace mpipc_driver

#endif  // MPIPC_CONFORMANCE_DRIVERS_REFERENCE_ERRORS_H_
