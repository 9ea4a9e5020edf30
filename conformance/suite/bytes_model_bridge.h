// Bridge between driver responses and mpipc::model::ConnectionModel outcomes
// (conformance/model/connection_model.h), for the bytes_* property and stateful tests.
//
// A Response becomes the model::Outcome<R> it represents (value or error), so that the model's
// prediction can judge it with Outcome::Accepts (alternatives included). Pure functions.
#ifndef MPIPC_CONFORMANCE_SUITE_BYTES_MODEL_BRIDGE_H_
#define MPIPC_CONFORMANCE_SUITE_BYTES_MODEL_BRIDGE_H_

#include <optional>
#include <sstream>
#include <string>

#include "connection_model.h"
#include "driver.h"
#include "values.h"

namespace mpipc::conformance {

// The model's Error for an error response: type, and args[0] as the message. BufferTooShort
// carries the message bytes (the model keeps them in Error::message); an errno-carrying OSError
// its strerror (the driver's message), as the model does.
inline model::Error ObservedError(const ErrorInfo& e) {
  model::Error out = model::MakeError(e.type, e.message);
  if (e.type == "BufferTooShort" && e.args.is_array() && e.args.size() == 1 && IsBytes(e.args[0])) {
    out.message = AsBytes(e.args[0]);
  }
  out.errnum = e.errno_value;
  return out;
}

// Decoders of a successful result into the model's R; each throws std::invalid_argument (or
// nlohmann's type_error) when the result has another shape.
inline model::None DecodeNone(const Json& v) {
  if (!v.is_null()) throw std::invalid_argument("expected None, got " + v.dump());
  return {};
}
inline std::string DecodeBytes(const Json& v) { return AsBytes(v); }
inline bool DecodeBool(const Json& v) { return v.get<bool>(); }
inline model::RecvIntoResult DecodeRecvInto(const Json& v) {
  // {"$dict": [["nbytes", n], ["buffer", {"$bytes": ...}]]}
  model::RecvIntoResult out;
  bool have_n = false;
  bool have_buffer = false;
  for (const Json& pair : v.at("$dict")) {
    if (pair.at(0) == "nbytes") {
      out.nbytes = pair.at(1).get<int64_t>();
      have_n = true;
    } else if (pair.at(0) == "buffer") {
      out.buffer = AsBytes(pair.at(1));
      have_buffer = true;
    }
  }
  if (!have_n || !have_buffer) throw std::invalid_argument("not a recv_bytes_into result");
  return out;
}

// The outcome a response stands for; a result of the wrong shape is reported as the error
// "<bad result: ...>" so that no prediction accepts it.
template <typename R, typename Decode>
model::Outcome<R> Observed(const Response& r, Decode decode) {
  if (!r.ok) return model::Outcome<R>::Raise(ObservedError(r.error));
  try {
    return model::Outcome<R>::Value(decode(r.result));
  } catch (const std::exception&) {
    return model::Outcome<R>::Raise(
        model::MakeError("<bad result>", r.result.dump().substr(0, 200)));
  }
}

// Printable forms for failure messages.
inline std::string Show(const model::None&) { return "None"; }
inline std::string Show(const std::string& bytes) { return Bytes(bytes).dump(); }
inline std::string Show(bool b) { return b ? "True" : "False"; }
inline std::string Show(const model::RecvIntoResult& r) {
  return "(nbytes=" + std::to_string(r.nbytes) + ", buffer=" + Bytes(r.buffer).dump() + ")";
}
template <typename R>
std::string Show(const model::Outcome<R>& o) {
  std::string s = o.is_value() ? Show(o.value()) : model::Describe(o);
  for (const auto& alt : o.alternatives()) s += " | " + Show(alt);
  return s;
}

// "expected X, target gave Y" when `predicted` does not accept `actual`; empty when it does.
template <typename R>
std::string Mismatch(const model::Outcome<R>& predicted, const model::Outcome<R>& actual) {
  if (predicted.Accepts(actual)) return "";
  std::ostringstream out;
  out << "model predicted " << Show(predicted) << ", target gave " << Show(actual);
  return out.str();
}

}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_SUITE_BYTES_MODEL_BRIDGE_H_
