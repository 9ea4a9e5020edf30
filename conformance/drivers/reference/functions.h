// The function table of driver protocol 1 (§2.1) as polymorphic, serializable functors: each
// table entry is a class derived from Function, registered with BOOST_CLASS_EXPORT, carrying its
// closure state (add's n, const's v) as members. A std::shared_ptr<Function> therefore travels
// through a Connection (send/recv, Boost.Serialization) and arrives as a callable, the way dill
// carries a lambda (reference/examples/enhanced_serialization.cc does the same). The descriptor
// ({"name": N, "arg": v}) is kept beside the callable: name() and arg().
//
// Operands are protocol values that are either an mpipc::Value or a function (const's v may be
// a function). Integer arithmetic stays within int64: a result beyond it raises Unsupported, as
// every integer beyond int64 does in this driver.
#ifndef MPIPC_CONFORMANCE_DRIVERS_REFERENCE_FUNCTIONS_H_
#define MPIPC_CONFORMANCE_DRIVERS_REFERENCE_FUNCTIONS_H_

#include <boost/serialization/assume_abstract.hpp>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mpipc/value.h"

namespace mpipc_driver {

class Function;
using FunctionPtr = std::shared_ptr<Function>;
using Operand = std::variant<mpipc::Value, FunctionPtr>;

class Function {
 public:
  virtual ~Function() = default;
  // The table name: identity, square, negate, add or const.
  virtual std::string name() const = 0;
  // The descriptor's "arg", for add and const.
  virtual std::optional<Operand> arg() const { return std::nullopt; }
  // Calls the function with positional arguments; TypeError as Python's lambda would raise.
  virtual Operand Call(const std::vector<Operand>& args) const = 0;

  template <class Archive>
  void serialize(Archive& /*ar*/, unsigned /*version*/) {}
};

// Builds a table function. ProtocolError for an unknown name or add/const without an arg;
// Unsupported for add with a function as n.
FunctionPtr MakeFunction(const std::string& name, const std::optional<Operand>& arg);

// Python's type(x).__name__ of an operand ("function" for a function).
std::string TypeName(const Operand& x);

}  // namespace mpipc_driver

BOOST_SERIALIZATION_ASSUME_ABSTRACT(mpipc_driver::Function)

#endif  // MPIPC_CONFORMANCE_DRIVERS_REFERENCE_FUNCTIONS_H_
