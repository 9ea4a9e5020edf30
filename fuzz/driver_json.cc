// Fuzz target: the reference driver's decoding of protocol messages (spec/driver-protocol.md §2,
// conformance/drivers/reference/json_value.{h,cc}, linked from source): ParseLine on arbitrary
// text, then DecodeItem/ValueFromJson on what parses, and the driver's answer path (OkLine,
// ErrorLine). Only the driver's own errors (DriverError: ProtocolError, Unsupported) and mpipc's
// ValueError/TypeError may escape a decode; a decoded Value must survive
// ValueToJson -> ValueFromJson unchanged; Base64 must round-trip.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "errors.h"
#include "fuzz_input.h"
#include "json_value.h"
#include "mpipc/errors.h"
#include "mpipc/value.h"

namespace {

using mpipc::fuzz::Check;
using mpipc_driver::Json;

std::string Encoded(const mpipc::Value& v) {
  try {
    return mpipc::EncodeValue(v);
  } catch (const mpipc::SerializationError&) {
    return "<too deep>";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Base64 of the raw input round-trips; decoding the raw input either works or is a
  // ProtocolError.
  Check(mpipc_driver::Base64Decode(mpipc_driver::Base64Encode(text)) == text, "base64 round trip");
  try {
    (void)mpipc_driver::Base64Decode(text);
  } catch (const mpipc_driver::DriverError&) {
  }

  Json j;
  try {
    j = mpipc_driver::ParseLine(text);
  } catch (const mpipc_driver::DriverError&) {
    return 0;
  }
  const mpipc_driver::HandleLookup lookup = [](const std::string& name) -> mpipc_driver::Item {
    throw mpipc_driver::ProtocolError("no handle named " + name);
  };
  // The request envelope's fields, as the actor reads them.
  const Json id = j.is_object() && j.contains("id") ? j["id"] : Json();
  try {
    const mpipc::Value v = mpipc_driver::ValueFromJson(j, lookup);
    const Json back = mpipc_driver::ValueToJson(v);
    const mpipc::Value again = mpipc_driver::ValueFromJson(back, lookup);
    Check(Encoded(v) == Encoded(again), "ValueToJson/ValueFromJson round trip");
    (void)mpipc_driver::OkLine(id, back);
  } catch (const mpipc_driver::DriverError&) {
    (void)mpipc_driver::ErrorLine(id, std::current_exception());
  } catch (const mpipc::ValueError&) {
    (void)mpipc_driver::ErrorLine(id, std::current_exception());
  } catch (const mpipc::TypeError&) {
    (void)mpipc_driver::ErrorLine(id, std::current_exception());
  }
  return 0;
}
