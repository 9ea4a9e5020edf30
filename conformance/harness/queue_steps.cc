#include "queue_steps.h"

#include <algorithm>
#include <utility>

namespace mpipc::conformance {

size_t LargerThanTransport(ConformanceTest& test) {
  return test.IsPython() ? size_t{256} << 10 : (size_t{4} << 20) + (size_t{256} << 10);
}

TimedResponse TimedCall(const Ref& q, const std::string& method, Args args, Json kwargs) {
  const Stopwatch watch;
  TimedResponse t;
  t.response = q.Call(method, std::move(args), std::move(kwargs));
  t.seconds = watch.Seconds();
  return t;
}

bool WaitUntilNotEmpty(const Ref& q, double max_seconds) {
  const Stopwatch watch;
  do {
    const Json empty = q.Ok("empty");
    if (empty.is_boolean() && !empty.get<bool>()) return true;
  } while (watch.Seconds() < max_seconds);
  return false;
}

Drained Drain(const Ref& q, size_t count, double per_item_timeout) {
  Drained d;
  for (size_t i = 0; i < count; ++i) {
    Response r = q.Call("get", Json::array(), {{"timeout", per_item_timeout}});
    if (!r.ok) {
      d.error = r.error;
      break;
    }
    d.items.push_back(std::move(r.result));
  }
  return d;
}

std::optional<int> JoinActor(ConformanceTest& test, const std::string& actor, double timeout) {
  Response r = test.Request({{"op", "join"}, {"actor", actor}, {"timeout", timeout}});
  if (!r.ok) throw StepFailed("join " + actor + " raised " + r.error.ToString());
  const Json& code = r.result["exitcode"];
  if (code.is_null()) return std::nullopt;
  return code.get<int>();
}

::testing::AssertionResult ReturnedBytes(const Response& r, const Json& expected) {
  if (!r.ok) return ::testing::AssertionFailure() << "expected bytes, got " << r.error.ToString();
  if (!IsBytes(r.result)) {
    const std::string shown = r.result.dump();
    return ::testing::AssertionFailure() << "expected bytes, got " << shown.substr(0, 200);
  }
  if (r.result == expected) return ::testing::AssertionSuccess();  // no decoding needed
  const std::string got = AsBytes(r.result);
  const std::string want = AsBytes(expected);
  if (got == want) return ::testing::AssertionSuccess();
  const auto diff = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
  return ::testing::AssertionFailure()
         << "bytes differ: got " << got.size() << " bytes, expected " << want.size()
         << ", first difference at offset " << (diff.first - got.begin());
}

}  // namespace mpipc::conformance
