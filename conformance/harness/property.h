// RapidCheck properties inside conformance tests: running one with a per-call number of cases,
// reporting its counterexample and the command that reproduces it as a GoogleTest failure,
// getting driver faults out of RapidCheck's hands, and generating values of the driver
// protocol's data model (spec/driver-protocol.md §2) with a strict comparison for them.
//
//   CONFORMANCE_TEST(BytesProperties, RoundTrip, "CONN-SEND CONN-RECV") {
//     DriverFaultLatch latch;
//     EXPECT_TRUE(CheckProperty("values round-trip", {.max_success = 100}, [&] {
//       const Json v = *GenValue();
//       latch.Run([&] { ...requests...; RC_ASSERT(StrictlyEqual(got, v)); });
//     }));
//     latch.Rethrow();
//   }
//
// The run's seed reaches RapidCheck through RC_PARAMS (the runner sets it from --seed); the
// failure message names it: `mpipc conform --target T --filter Suite.Test --seed N`.
// Header-only; the including binary links rapidcheck. Thread-safety: use from the test thread.
#ifndef MPIPC_CONFORMANCE_HARNESS_PROPERTY_H_
#define MPIPC_CONFORMANCE_HARNESS_PROPERTY_H_

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "driver.h"
#include "fixture.h"
#include "session.h"
#include "values.h"

namespace mpipc::conformance {

// `mpipc conform --target T --filter Suite.Test --seed N` for the running test.
inline std::string ReproduceCommand() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info == nullptr ? std::string("?")
                                     : std::string(info->test_suite_name()) + "." + info->name();
  Session& s = CurrentSession();
  return "mpipc conform --target " + s.options().target_name + " --filter " + test + " --seed " +
         std::to_string(s.seed());
}

struct PropertyOptions {
  int max_success = 100;  // cases that must pass
  int max_size = 100;     // RapidCheck's size bound (container lengths, command sequences)
  // RapidCheck's seed; unset: the global configuration's (RC_PARAMS, set from --seed). A test
  // running one property per variant derives a seed per variant from the session's.
  std::optional<uint64_t> seed = std::nullopt;
};

// Runs `testable` as RapidCheck's rc::check does, with the global configuration (seed from
// RC_PARAMS) but this call's case count and size bound. On failure the message carries
// RapidCheck's report (counterexample after shrinking) and the reproduce command.
template <typename Testable>
::testing::AssertionResult CheckProperty(const std::string& description, PropertyOptions options,
                                         Testable&& testable) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = options.max_success;
  params.maxSize = options.max_size;
  if (options.seed) params.seed = *options.seed;
  rc::detail::TestMetadata metadata;
  metadata.id = description;
  metadata.description = description;
  const rc::detail::TestResult result =
      rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
  std::ostringstream report;
  rc::detail::printResultMessage(result, report);
  std::cerr << "- " << description << "\n" << report.str() << "\n";
  if (result.template is<rc::detail::SuccessResult>()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "property '" << description << "' failed (RapidCheck seed " << params.seed << "):\n"
         << report.str() << "\nreproduce: " << ReproduceCommand();
}

// Keeps faults of the target's driver (timeout, crash, Unsupported) out of RapidCheck, which
// would take them for counterexamples and shrink against a dead driver: the first fault is
// stored, every later case passes without running, and Rethrow() (after the property) hands the
// fault to the fixture, which reports the test as TIMEOUT / CRASH / SKIP.
class DriverFaultLatch {
 public:
  template <typename Body>
  void Run(Body&& body) {
    if (fault_) return;
    try {
      body();
    } catch (const DriverTimeout&) {
      fault_ = std::current_exception();
    } catch (const DriverCrashed&) {
      fault_ = std::current_exception();
    } catch (const UnsupportedByTarget&) {
      fault_ = std::current_exception();
    } catch (const StepFailed&) {
      fault_ = std::current_exception();
    }
  }
  bool faulted() const { return static_cast<bool>(fault_); }
  void Rethrow() const {
    if (fault_) std::rethrow_exception(fault_);
  }

 private:
  std::exception_ptr fault_;
};

// ---- Values of the data model ----

// True iff `a` and `b` are the same protocol value: same types (an int is not a float, 1 is not
// 1.0 nor True), floats bit-for-bit apart from NaN payloads (-0.0 differs from 0.0), tagged values
// and containers element by element, in order.
inline bool StrictlyEqual(const Json& a, const Json& b) {
  const bool a_int = a.is_number_integer();  // signed or unsigned storage
  const bool b_int = b.is_number_integer();
  if (a_int || b_int) {
    if (!(a_int && b_int)) return false;
    if (a.is_number_unsigned() && b.is_number_unsigned()) {
      return a.get<uint64_t>() == b.get<uint64_t>();
    }
    if (a.is_number_unsigned() || b.is_number_unsigned()) {
      const Json& u = a.is_number_unsigned() ? a : b;
      const Json& s = a.is_number_unsigned() ? b : a;
      return s.get<int64_t>() >= 0 && static_cast<uint64_t>(s.get<int64_t>()) == u.get<uint64_t>();
    }
    return a.get<int64_t>() == b.get<int64_t>();
  }
  if (a.is_number_float() || b.is_number_float()) {
    if (!(a.is_number_float() && b.is_number_float())) return false;
    const double x = a.get<double>();
    const double y = b.get<double>();
    return x == y && std::signbit(x) == std::signbit(y);
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!StrictlyEqual(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !StrictlyEqual(it.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

// UTF-8 text of `code_points` (which must not hold surrogates).
inline std::string Utf8(const std::vector<uint32_t>& code_points) {
  std::string out;
  for (uint32_t c : code_points) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// A Python str: ASCII (NUL included), other BMP characters and astral ones; no lone surrogates.
inline rc::Gen<Json> GenStr() {
  const rc::Gen<uint32_t> code_point = rc::gen::weightedOneOf<uint32_t>({
      {6, rc::gen::inRange<uint32_t>(0x20, 0x7F)},
      {1, rc::gen::elementOf(std::vector<uint32_t>{0, 1, '\n', 0x7F, 0xFF, 0xFFFD, 0x10FFFF})},
      {2, rc::gen::inRange<uint32_t>(0x80, 0xD800)},
      {1, rc::gen::inRange<uint32_t>(0xE000, 0x10000)},
      {1, rc::gen::inRange<uint32_t>(0x10000, 0x110000)},
  });
  return rc::gen::map(rc::gen::container<std::vector<uint32_t>>(code_point),
                      [](const std::vector<uint32_t>& cps) { return Json(Utf8(cps)); });
}

inline rc::Gen<Json> GenInt() {
  return rc::gen::map(
      rc::gen::weightedOneOf<int64_t>({
          {4, rc::gen::arbitrary<int64_t>()},
          {2, rc::gen::inRange<int64_t>(-300, 300)},
          {1, rc::gen::elementOf(std::vector<int64_t>{
                  std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                  int64_t{1} << 31, -(int64_t{1} << 31) - 1, int64_t{1} << 32, 255, 256, 65535,
                  65536, -1})},
      }),
      [](int64_t v) { return Json(v); });
}

inline rc::Gen<Json> GenFloat() {
  const double inf = std::numeric_limits<double>::infinity();
  return rc::gen::map(
      rc::gen::weightedOneOf<double>({
          {4, rc::gen::arbitrary<double>()},
          {2, rc::gen::map(rc::gen::inRange(-1000000, 1000000),
                           [](int v) { return static_cast<double>(v) / 64.0; })},
          {2, rc::gen::elementOf(std::vector<double>{
                  std::nan(""), -0.0, 0.0, inf, -inf, 1.0, 0.1,
                  std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max(),
                  std::numeric_limits<double>::lowest(), 1e300, -1e-300})},
      }),
      [](double v) { return Float(v); });
}

inline rc::Gen<Json> GenBytes() {
  return rc::gen::map(rc::gen::container<std::string>(rc::gen::arbitrary<char>()),
                      [](const std::string& s) { return Bytes(s); });
}

// Hashable values with distinct Python equality classes once deduplicated by their JSON text
// (no bool or float keys: True == 1 == 1.0 in Python).
inline rc::Gen<Json> GenKey() {
  return rc::gen::oneOf(
      GenStr(), GenInt(), GenBytes(), rc::gen::just(None()),
      rc::gen::map(rc::gen::scale(0.1, rc::gen::container<std::vector<Json>>(
                                           rc::gen::oneOf(GenStr(), GenInt()))),
                   [](std::vector<Json> items) { return Tuple(std::move(items)); }));
}

// Any value of the data model (none, bool, int within int64, float with nan/±inf/-0.0, str,
// bytes, list, tuple, dict), nested up to `depth` containers deep.
inline rc::Gen<Json> GenValue(int depth = 3) {
  rc::Gen<Json> leaf = rc::gen::weightedOneOf<Json>({
      {1, rc::gen::just(None())},
      {1, rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return Json(b); })},
      {3, GenInt()},
      {3, GenFloat()},
      {3, GenStr()},
      {2, GenBytes()},
  });
  if (depth <= 0) return leaf;
  const auto items = [depth] {
    return rc::gen::scale(0.2, rc::gen::container<std::vector<Json>>(GenValue(depth - 1)));
  };
  rc::Gen<Json> list =
      rc::gen::map(items(), [](std::vector<Json> v) { return Json(std::move(v)); });
  rc::Gen<Json> tuple =
      rc::gen::map(items(), [](std::vector<Json> v) { return Tuple(std::move(v)); });
  rc::Gen<Json> dict =
      rc::gen::map(rc::gen::scale(0.2, rc::gen::container<std::vector<std::pair<Json, Json>>>(
                                           rc::gen::pair(GenKey(), GenValue(depth - 1)))),
                   [](std::vector<std::pair<Json, Json>> entries) {
                     std::set<std::string> seen;
                     std::vector<std::pair<Json, Json>> unique;
                     for (auto& e : entries) {
                       if (seen.insert(e.first.dump()).second) unique.push_back(std::move(e));
                     }
                     return Dict(std::move(unique));
                   });
  return rc::gen::weightedOneOf<Json>({{13, leaf}, {2, list}, {2, tuple}, {2, dict}});
}

}  // namespace mpipc::conformance

#endif  // MPIPC_CONFORMANCE_HARNESS_PROPERTY_H_
