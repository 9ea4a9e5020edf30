#include "functions.h"

// The archives first: BOOST_CLASS_EXPORT instantiates the serializers of the archives included
// before it.
#include "mpipc/serialization.h"

#include <boost/serialization/base_object.hpp>
#include <boost/serialization/export.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "mpipc/errors.h"

namespace mpipc_driver {

using mpipc::Value;

std::string TypeName(const Operand& x) {
  if (const auto* v = std::get_if<Value>(&x)) return std::string(v->type_name());
  return "function";
}

namespace {

// A number as Python sees it in arithmetic: bool is an int.
bool IsIntLike(const Value& v) { return v.is_int() || v.is_bool(); }
int64_t IntOf(const Value& v) { return v.is_bool() ? int64_t{v.as_bool()} : v.as_int(); }
double FloatOf(const Value& v) {
  return v.is_float() ? v.as_float() : static_cast<double>(IntOf(v));
}
bool IsNumber(const Value& v) { return IsIntLike(v) || v.is_float(); }

[[noreturn]] void BigInt() {
  throw Unsupported("int result beyond int64 (the reference's Value has no big integers)");
}

const Value& OneValue(const std::vector<Operand>& args, const char* op) {
  if (args.size() != 1) {
    throw mpipc::TypeError("<lambda>() takes 1 positional argument but " +
                           std::to_string(args.size()) + " were given");
  }
  if (const auto* v = std::get_if<Value>(&args[0])) return *v;
  throw mpipc::TypeError(std::string("unsupported operand type(s) for ") + op + ": 'function'");
}

Value AddValues(const Value& a, const Value& b) {
  if (IsIntLike(a) && IsIntLike(b)) {
    int64_t r = 0;
    if (__builtin_add_overflow(IntOf(a), IntOf(b), &r)) BigInt();
    return r;
  }
  if (IsNumber(a) && IsNumber(b)) return FloatOf(a) + FloatOf(b);
  if (a.kind() == b.kind()) {
    switch (a.kind()) {
      case Value::Kind::kStr:
        return a.as_str() + b.as_str();
      case Value::Kind::kBytes:
        return mpipc::Bytes{a.as_bytes().data + b.as_bytes().data};
      case Value::Kind::kList: {
        mpipc::List out = a.as_list();
        out.insert(out.end(), b.as_list().begin(), b.as_list().end());
        return out;
      }
      case Value::Kind::kTuple: {
        std::vector<Value> out = a.as_tuple().items;
        out.insert(out.end(), b.as_tuple().items.begin(), b.as_tuple().items.end());
        return mpipc::Tuple(std::move(out));
      }
      default:
        break;
    }
  }
  throw mpipc::TypeError("unsupported operand type(s) for +: '" + std::string(a.type_name()) +
                         "' and '" + std::string(b.type_name()) + "'");
}

}  // namespace

// lambda x: x
class Identity : public Function {
 public:
  std::string name() const override { return "identity"; }
  Operand Call(const std::vector<Operand>& args) const override {
    if (args.size() != 1) OneValue(args, "");  // raises the arity TypeError
    return args[0];
  }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Function>(*this);
  }
};

// lambda x: x * x
class Square : public Function {
 public:
  std::string name() const override { return "square"; }
  Operand Call(const std::vector<Operand>& args) const override {
    const Value& x = OneValue(args, "*");
    if (IsIntLike(x)) {
      int64_t r = 0;
      if (__builtin_mul_overflow(IntOf(x), IntOf(x), &r)) BigInt();
      return Value(r);
    }
    if (x.is_float()) return Value(x.as_float() * x.as_float());
    if (x.is_str() || x.is_bytes() || x.is_list() || x.is_tuple()) {
      throw mpipc::TypeError("can't multiply sequence by non-int of type '" +
                             std::string(x.type_name()) + "'");
    }
    throw mpipc::TypeError("unsupported operand type(s) for *: '" + std::string(x.type_name()) +
                           "' and '" + std::string(x.type_name()) + "'");
  }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Function>(*this);
  }
};

// lambda x: -x
class Negate : public Function {
 public:
  std::string name() const override { return "negate"; }
  Operand Call(const std::vector<Operand>& args) const override {
    const Value& x = OneValue(args, "unary -");
    if (IsIntLike(x)) {
      int64_t r = 0;
      if (__builtin_sub_overflow(int64_t{0}, IntOf(x), &r)) BigInt();
      return Value(r);
    }
    if (x.is_float()) return Value(-x.as_float());
    throw mpipc::TypeError("bad operand type for unary -: '" + std::string(x.type_name()) + "'");
  }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Function>(*this);
  }
};

// lambda x: x + n
class Add : public Function {
 public:
  Add() = default;
  explicit Add(Value n) : n_(std::move(n)) {}
  std::string name() const override { return "add"; }
  std::optional<Operand> arg() const override { return Operand(n_); }
  Operand Call(const std::vector<Operand>& args) const override {
    return AddValues(OneValue(args, "+"), n_);
  }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Function>(*this);
    ar& n_;
  }

 private:
  Value n_;
};

// lambda *a: v (v a Value or a function)
class Const : public Function {
 public:
  Const() = default;
  explicit Const(Operand v) {
    if (auto* f = std::get_if<FunctionPtr>(&v)) {
      function_ = *f;
    } else {
      value_ = std::get<Value>(std::move(v));
    }
  }
  std::string name() const override { return "const"; }
  std::optional<Operand> arg() const override { return Result(); }
  Operand Call(const std::vector<Operand>& /*args*/) const override { return Result(); }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Function>(*this);
    ar& value_;
    ar& function_;
  }

 private:
  Operand Result() const { return function_ ? Operand(function_) : Operand(value_); }

  Value value_;
  FunctionPtr function_;  // non-null: the constant is this function
};

FunctionPtr MakeFunction(const std::string& name, const std::optional<Operand>& arg) {
  if (name == "identity") return std::make_shared<Identity>();
  if (name == "square") return std::make_shared<Square>();
  if (name == "negate") return std::make_shared<Negate>();
  if (name == "add" || name == "const") {
    if (!arg) throw ProtocolError("function '" + name + "' needs an 'arg'");
    if (name == "const") return std::make_shared<Const>(*arg);
    if (!std::holds_alternative<Value>(*arg)) {
      throw Unsupported("add with a function as n is not supported");
    }
    return std::make_shared<Add>(std::get<Value>(*arg));
  }
  throw ProtocolError("unknown function '" + name + "'");
}

}  // namespace mpipc_driver

BOOST_CLASS_EXPORT_GUID(mpipc_driver::Identity, "mpipc_driver.identity")
BOOST_CLASS_EXPORT_GUID(mpipc_driver::Square, "mpipc_driver.square")
BOOST_CLASS_EXPORT_GUID(mpipc_driver::Negate, "mpipc_driver.negate")
BOOST_CLASS_EXPORT_GUID(mpipc_driver::Add, "mpipc_driver.add")
BOOST_CLASS_EXPORT_GUID(mpipc_driver::Const, "mpipc_driver.const")
