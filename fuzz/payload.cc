// Fuzz target: decoding payloads from hostile bytes.
//
//  * mpipc::DecodeValue (value.h's hardened codec): must either throw SerializationError or
//    return a Value whose EncodeValue is exactly the input (the format is canonical), never crash,
//    never read out of bounds, never allocate beyond the input's size.
//  * Deserialize<T> (serialization.h, Boost binary archives) for plain types, containers,
//    mpipc::Value and polymorphic objects through std::unique_ptr<Base>: must throw only
//    SerializationError / EOFError, and what it returns must survive a Serialize/Deserialize
//    round trip. Boost archives are not built for hostile input; what the fuzzer found there and
//    how the reference contains it is in fuzz/README.md.
// The first input byte picks the decoder; the rest is the payload.

#include <boost/serialization/base_object.hpp>
#include <boost/serialization/export.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "mpipc/errors.h"
#include "mpipc/serialization.h"
#include "mpipc/value.h"

namespace fuzzshapes {

struct Shape {
  virtual ~Shape() = default;
  virtual uint64_t area() const = 0;
  template <class Archive>
  void serialize(Archive& /*ar*/, unsigned /*version*/) {}
};

struct Rect : Shape {
  int64_t w = 0;
  int64_t h = 0;
  std::string name;
  uint64_t area() const override { return static_cast<uint64_t>(w) * static_cast<uint64_t>(h); }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Shape>(*this);
    ar& w;
    ar& h;
    ar& name;
  }
};

struct Group : Shape {
  std::vector<std::unique_ptr<Shape>> parts;
  uint64_t area() const override {
    uint64_t a = 0;
    for (const auto& p : parts) a += p ? p->area() : 0;
    return a;
  }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Shape>(*this);
    ar& parts;
  }
};

}  // namespace fuzzshapes

BOOST_SERIALIZATION_ASSUME_ABSTRACT(fuzzshapes::Shape)
BOOST_CLASS_EXPORT(fuzzshapes::Rect)
BOOST_CLASS_EXPORT(fuzzshapes::Group)

namespace {

using mpipc::fuzz::Check;

// Decodes `bytes` as T; a successful decode must round-trip. Only mpipc's errors may escape.
template <typename T, typename Eq>
void Decode(std::string_view bytes, Eq eq) {
  T obj{};
  try {
    obj = mpipc::Deserialize<T>(bytes);
  } catch (const mpipc::SerializationError&) {
    return;
  } catch (const mpipc::EOFError&) {
    Check(bytes.empty(), "EOFError for a non-empty payload");
    return;
  }
  const std::string again = mpipc::Serialize(obj);
  Check(eq(obj, mpipc::Deserialize<T>(again)), "Serialize/Deserialize round trip");
}

template <typename T>
void Decode(std::string_view bytes) {
  Decode<T>(bytes, [](const T& a, const T& b) { return a == b; });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mpipc::fuzz::FuzzInput in(data, size);
  const uint8_t which = in.Byte();
  const std::string_view bytes = in.Rest();
  switch (which % 8) {
    case 0:
    case 1: {
      mpipc::Value v;
      try {
        v = mpipc::DecodeValue(bytes);
      } catch (const mpipc::SerializationError&) {
        break;
      }
      Check(mpipc::EncodeValue(v) == bytes, "DecodeValue accepted a non-canonical encoding");
      (void)v.repr();
      break;
    }
    case 2:
      Decode<mpipc::Value>(bytes, [](const mpipc::Value& a, const mpipc::Value& b) {
        return mpipc::EncodeValue(a) == mpipc::EncodeValue(b);  // nan != nan under ==
      });
      break;
    case 3:
      Decode<std::string>(bytes);
      break;
    case 4:
      Decode<std::vector<int32_t>>(bytes);
      break;
    case 5:
      Decode<std::map<std::string, std::vector<std::string>>>(bytes);
      break;
    case 6:
      Decode<std::unique_ptr<fuzzshapes::Shape>>(
          bytes, [](const std::unique_ptr<fuzzshapes::Shape>& a,
                    const std::unique_ptr<fuzzshapes::Shape>& b) {
            return (a == nullptr) == (b == nullptr) && (!a || a->area() == b->area());
          });
      break;
    default:
      Decode<std::vector<std::pair<int64_t, double>>>(
          bytes, [](const auto& a, const auto& b) { return a.size() == b.size(); });
      break;
  }
  return 0;
}
