// Builders and readers for driver-protocol values (spec/driver-protocol.md §2): the common data
// model (none, bool, int, float, str, bytes, list, tuple, dict), functions and handles, as JSON.
// Pure functions; no state.
#ifndef MPIPC_CONFORMANCE_HARNESS_VALUES_H_
#define MPIPC_CONFORMANCE_HARNESS_VALUES_H_

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mpipc::conformance {

using Json = nlohmann::json;

// Python None.
inline Json None() { return Json(nullptr); }
// bytes: any byte string (base64 on the wire).
Json Bytes(std::string_view data);
// n bytes of a repeating, position-dependent pattern (so misplaced bytes are visible).
Json PatternBytes(size_t n, unsigned seed = 0);
std::string PatternString(size_t n, unsigned seed = 0);
Json Tuple(std::vector<Json> items);
Json Dict(std::vector<std::pair<Json, Json>> items);
// A float that stays a float even when integral (1.0, -0.0); nan/inf are tagged.
Json Float(double x);
// A function of the fixed table (§2.1): identity, square, negate, add(arg), const(arg).
Json Function(const std::string& name, std::optional<Json> arg = std::nullopt);
// An object bound to `name` in the addressed actor.
Json Handle(const std::string& name);
// An AF_INET address tuple.
Json InetAddress(const std::string& host, int port);

// Decoders; each throws std::invalid_argument when `v` is not of that shape.
std::string AsBytes(const Json& v);
bool IsBytes(const Json& v);
bool IsFunction(const Json& v);
std::vector<Json> AsTuple(const Json& v);

}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_HARNESS_VALUES_H_
