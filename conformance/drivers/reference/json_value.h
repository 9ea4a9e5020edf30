// The protocol's JSON encoding of values (spec/driver-protocol.md §2) and of errors (§5), mapped
// to and from the reference's types.
//
// A protocol value becomes an Item: an mpipc::Value (none, bool, int, float, str, bytes, list,
// tuple, dict), a table function (functions.h), or an object bound in the actor (objects.h).
// Functions and objects exist only at the top level of a value (or as const's v): inside a list,
// tuple or dict they would have to be an mpipc::Value, which cannot hold them, so they are
// answered Unsupported.
//
// Integers: a JSON integer beyond int64 (the data model's arbitrary-precision ints) is answered
// Unsupported, since mpipc::Value holds int64 only. ParseLine keeps such integers apart from
// floats by reading the number's text (nlohmann would otherwise turn them into doubles).
#ifndef MPIPC_CONFORMANCE_DRIVERS_REFERENCE_JSON_VALUE_H_
#define MPIPC_CONFORMANCE_DRIVERS_REFERENCE_JSON_VALUE_H_

#include <exception>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "functions.h"
#include "mpipc/value.h"

namespace mpipc_driver {

using Json = nlohmann::json;

struct Object;  // objects.h
using ObjectPtr = std::shared_ptr<Object>;
using Item = std::variant<mpipc::Value, FunctionPtr, ObjectPtr>;

// Parses one request line. An integer beyond int64 is kept as a JSON binary value holding its
// digits (DecodeItem answers Unsupported for it).
// Throws ProtocolError for malformed JSON.
Json ParseLine(std::string_view line);

// RFC 4648 §4, padded. Decode throws ProtocolError for malformed input.
std::string Base64Encode(std::string_view data);
std::string Base64Decode(std::string_view text);

// Resolves a $handle name to what that actor binds under it (ProtocolError if unbound).
using HandleLookup = std::function<Item(const std::string&)>;
// Names an object bound in the actor, for $handle on output.
using HandleName = std::function<std::optional<std::string>(const ObjectPtr&)>;

Item DecodeItem(const Json& j, const HandleLookup& lookup);
// Decodes a value that must be an mpipc::Value (Unsupported for a function or an object).
mpipc::Value ValueFromJson(const Json& j, const HandleLookup& lookup);
Json ValueToJson(const mpipc::Value& v);
Json EncodeItem(const Item& item, const HandleName& name);

// The §5 error object of an exception (mpipc's types, DriverError, anything else as
// RuntimeError).
Json ErrorObject(const std::exception_ptr& e);

// Response lines, compact, without the trailing newline.
std::string OkLine(const Json& id, const Json& result);
std::string ErrorLine(const Json& id, const std::exception_ptr& e);

}  // namespace mpipc_driver

#endif  // MPIPC_CONFORMANCE_DRIVERS_REFERENCE_JSON_VALUE_H_
