// Tests of Serialize/Deserialize (serialization.h) and of Connection::send/recv, our analogues of
// pickle and of semantics.md §1.C (CONN-SEND, CONN-RECV, CONN-SEND-PICKLEFAIL,
// CONN-RECV-UNPICKLE-ERR, CONN-RECV-EMPTY-FRAME). The polymorphic tests play the part of dill
// sending a lambda: a functor object travels through a base pointer to a forked child, which calls
// its virtual function and sends the result back.

#include "mpipc/serialization.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/serialization/base_object.hpp>
#include <boost/serialization/export.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "test_support.h"

// ---------------------------------------------------------------------------------------------
// Types under test. They live outside the anonymous namespace so that their exported names are
// plain and stable.

namespace mpipc_test {

struct Point {
  int32_t x = 0;
  int32_t y = 0;
  std::string label;
  std::vector<double> weights;
  bool operator==(const Point&) const = default;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& x;
    ar& y;
    ar& label;
    ar& weights;
  }
};

// "A function": a base with a virtual call operator. `live` counts instances, so that tests can
// check that a failed load leaks nothing.
class Operation {
 public:
  Operation() { ++live; }
  Operation(const Operation& /*other*/) { ++live; }
  Operation& operator=(const Operation&) = default;
  virtual ~Operation() { --live; }
  static inline int live = 0;
  virtual int64_t Apply(int64_t x) const = 0;
  virtual std::string Name() const = 0;
  template <class Archive>
  void serialize(Archive& /*ar*/, unsigned /*version*/) {}
};

// "lambda x: x + n"
class AddN : public Operation {
 public:
  AddN() = default;
  explicit AddN(int64_t n) : n_(n) {}
  int64_t Apply(int64_t x) const override { return x + n_; }
  std::string Name() const override { return "AddN(" + std::to_string(n_) + ")"; }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Operation>(*this);
    ar& n_;
  }

 private:
  int64_t n_ = 0;
};

// "lambda x: x * factor, with a captured label"
class Scale : public Operation {
 public:
  Scale() = default;
  Scale(int64_t factor, std::string label) : factor_(factor), label_(std::move(label)) {}
  int64_t Apply(int64_t x) const override { return x * factor_; }
  std::string Name() const override { return "Scale(" + label_ + ")"; }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Operation>(*this);
    ar& factor_;
    ar& label_;
  }

 private:
  int64_t factor_ = 1;
  std::string label_;
};

// "lambda x: inner(x) + add": a function owning another, for nested objects and the references a
// hostile archive could make between them.
class Compose : public Operation {
 public:
  Compose() = default;
  Compose(std::unique_ptr<Operation> inner, int64_t add) : inner_(std::move(inner)), add_(add) {}
  int64_t Apply(int64_t x) const override { return (inner_ ? inner_->Apply(x) : x) + add_; }
  std::string Name() const override {
    return "Compose(" + (inner_ ? inner_->Name() : std::string()) + ")";
  }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Operation>(*this);
    ar& inner_;
    ar& add_;
  }

 private:
  std::unique_ptr<Operation> inner_;
  int64_t add_ = 0;
};

// Pointers that may share their objects: object ids and back references.
struct Sharing {
  std::vector<std::shared_ptr<Operation>> shared;
  std::vector<std::unique_ptr<Operation>> owned;
  const Operation* alias = nullptr;  // not owned: points into `shared` or `owned`
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& shared;
    ar& owned;
    ar& alias;
  }
};

// Exported, but not an Operation.
class Unrelated {
 public:
  Unrelated() { ++live; }
  Unrelated(const Unrelated& /*other*/) { ++live; }
  Unrelated& operator=(const Unrelated&) = default;
  virtual ~Unrelated() { --live; }
  static inline int live = 0;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& x_;
  }

 private:
  int64_t x_ = 0;
};

// Deliberately not exported: the "local lambda" that cannot be pickled.
class Unregistered : public Operation {
 public:
  int64_t Apply(int64_t x) const override { return -x; }
  std::string Name() const override { return "Unregistered"; }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Operation>(*this);
  }
};

}  // namespace mpipc_test

BOOST_SERIALIZATION_ASSUME_ABSTRACT(mpipc_test::Operation)
BOOST_CLASS_EXPORT(mpipc_test::AddN)
BOOST_CLASS_EXPORT(mpipc_test::Scale)
BOOST_CLASS_EXPORT(mpipc_test::Compose)
BOOST_CLASS_EXPORT(mpipc_test::Unrelated)

namespace mpipc {
namespace {

using mpipc_test::AddN;
using mpipc_test::Compose;
using mpipc_test::Operation;
using mpipc_test::Point;
using mpipc_test::Scale;
using mpipc_test::Sharing;
using mpipc_test::Unregistered;
using mpipc_test::Unrelated;
using testing_support::ThrowsExactly;
using testing_support::WaitChild;

// ---------------------------------------------------------------------------------------------
// Serialize / Deserialize

TEST(Serialization, RoundTripInt) {
  for (int v : {0, 1, -1, 255, 1 << 30, INT32_MIN}) {
    EXPECT_EQ(Deserialize<int>(Serialize(v)), v);
  }
  EXPECT_EQ(Deserialize<int64_t>(Serialize(int64_t{-1234567890123})), -1234567890123);
  EXPECT_EQ(Deserialize<double>(Serialize(2.5)), 2.5);
  EXPECT_EQ(Deserialize<bool>(Serialize(true)), true);
}

TEST(Serialization, RoundTripString) {
  for (const std::string& s : {std::string(), std::string("hello"), std::string("with\0nul", 8),
                               std::string(100000, 'z')}) {
    EXPECT_EQ(Deserialize<std::string>(Serialize(s)), s);
  }
}

TEST(Serialization, RoundTripVector) {
  const std::vector<int> ints = {3, 1, 4, 1, 5, 9, 2, 6};
  EXPECT_EQ(Deserialize<std::vector<int>>(Serialize(ints)), ints);
  const std::vector<std::string> strings = {"", "a", "bc"};
  EXPECT_EQ(Deserialize<std::vector<std::string>>(Serialize(strings)), strings);
  EXPECT_TRUE(Deserialize<std::vector<int>>(Serialize(std::vector<int>{})).empty());
}

TEST(Serialization, RoundTripMap) {
  const std::map<std::string, std::vector<int>> m = {{"a", {1}}, {"b", {}}, {"c", {2, 3}}};
  EXPECT_EQ((Deserialize<std::map<std::string, std::vector<int>>>(Serialize(m))), m);
  const std::pair<int, std::string> p = {7, "seven"};
  EXPECT_EQ((Deserialize<std::pair<int, std::string>>(Serialize(p))), p);
}

TEST(Serialization, RoundTripUserStruct) {
  const Point p{3, -4, "corner", {0.5, 1.5}};
  EXPECT_EQ(Deserialize<Point>(Serialize(p)), p);
}

TEST(Serialization, RoundTripPolymorphicPointer) {
  std::unique_ptr<Operation> op = std::make_unique<Scale>(3, "triple");
  const std::unique_ptr<Operation> back = Deserialize<std::unique_ptr<Operation>>(Serialize(op));
  ASSERT_NE(back, nullptr);
  const Operation& received = *back;
  EXPECT_EQ(typeid(received), typeid(Scale));
  EXPECT_EQ(back->Apply(5), 15);
  EXPECT_EQ(back->Name(), "Scale(triple)");
  const std::shared_ptr<Operation> shared = std::make_shared<AddN>(2);
  const auto shared_back = Deserialize<std::shared_ptr<Operation>>(Serialize(shared));
  ASSERT_NE(shared_back, nullptr);
  EXPECT_EQ(shared_back->Apply(5), 7);
}

TEST(Serialization, EmptyInputIsRanOutOfInput) {
  EXPECT_TRUE(ThrowsExactly<EOFError>([] { Deserialize<int>(""); }, "Ran out of input"));
  EXPECT_TRUE(
      ThrowsExactly<EOFError>([] { Deserialize<std::string>(std::string()); }, "Ran out of input"));
}

TEST(Serialization, GarbageIsSerializationError) {
  // Too short for the type.
  EXPECT_TRUE(ThrowsExactly<SerializationError>([] { Deserialize<int64_t>("abc"); },
                                                "cannot deserialize object: ", true));
  // A string whose length prefix (5) promises more bytes than follow.
  const std::string truncated("\x05\0\0\0\0\0\0\0ab", 10);
  EXPECT_TRUE(ThrowsExactly<SerializationError>([&] { Deserialize<std::string>(truncated); },
                                                "cannot deserialize object: ", true));
  // Not an archive of a pointer at all.
  EXPECT_TRUE(
      ThrowsExactly<SerializationError>([] { Deserialize<std::unique_ptr<Operation>>("\x01"); },
                                        "cannot deserialize object: ", true));
  // Truncating a valid archive anywhere breaks it.
  const std::string whole = Serialize(Point{1, 2, "label", {1.0, 2.0, 3.0}});
  for (size_t n = 1; n < whole.size(); ++n) {
    EXPECT_THROW(Deserialize<Point>(whole.substr(0, n)), SerializationError) << n << " bytes";
  }
}

// Found by fuzz/payload.cc: Boost resizes a string or collection to the length the input claims
// before reading it, so 8 bytes could make Deserialize allocate any amount. HardenedIArchive
// rejects a length beyond the bytes left, before the allocation.
TEST(Serialization, HostileLengthIsRejectedBeforeAllocation) {
  const std::string kLeft =
      "cannot deserialize object: input stream error-a length exceeds the bytes left in the input";
  // Little-endian 8-byte lengths: 2^62 - 1 + ..., 1 GiB, and a 2^60 element count.
  const std::string huge_string = std::string("\xff\xff\xff\xff\xff\xff\xff\x3f", 8) + "abc";
  EXPECT_TRUE(
      ThrowsExactly<SerializationError>([&] { Deserialize<std::string>(huge_string); }, kLeft));
  // 1 GiB: an allocation Boost alone would make (and zero-fill) without complaint.
  const std::string gib_string = std::string("\x00\x00\x00\x40\x00\x00\x00\x00", 8) + "abc";
  EXPECT_TRUE(
      ThrowsExactly<SerializationError>([&] { Deserialize<std::string>(gib_string); }, kLeft));
  const std::string huge_vector =
      std::string("\xff\xff\xff\xff\xff\xff\xff\x0f", 8) + std::string(8, '\0');
  EXPECT_TRUE(ThrowsExactly<SerializationError>(
      [&] { Deserialize<std::vector<int32_t>>(huge_vector); }, kLeft));
  // Lengths that fit still load, and containers round-trip as before.
  const std::vector<std::string> v{"", "a", std::string(1000, 'x')};
  EXPECT_EQ(Deserialize<std::vector<std::string>>(Serialize(v)), v);
  const std::map<std::string, std::vector<int>> m{{"k", {1, 2, 3}}, {"", {}}};
  EXPECT_EQ((Deserialize<std::map<std::string, std::vector<int>>>(Serialize(m))), m);
}

TEST(Serialization, UnregisteredDerivedClassIsSerializationError) {
  const std::unique_ptr<Operation> op = std::make_unique<Unregistered>();
  EXPECT_TRUE(ThrowsExactly<SerializationError>(
      [&] { Serialize(op); }, "cannot serialize object: unregistered class", true));
}

// ---------------------------------------------------------------------------------------------
// Hostile class and object ids (fuzz/README.md, finding 4). Each test takes a valid archive, alters
// the bytes of one id as a hostile peer could, and expects SerializationError where Boost alone
// crashed (or double-freed, or leaked). Layout of a binary archive of std::unique_ptr<Operation>
// holding a Scale (no header; little-endian):
//   unique_ptr class: tracking u8, version u32
//   pointer: class id i16 (1, new) | name length u64, "mpipc_test::Scale" |
//            Scale class: tracking u8 (1), version u32 | object id u32 (0) |
//            Operation class: tracking u8, version u32 | factor i64 | label: length u64, bytes

// Deserialize<T>(bytes) throws SerializationError whose message contains `part`, and every
// Operation and Unrelated it created is gone again.
template <typename T>
testing::AssertionResult Rejects(const std::string& bytes, std::string_view part) {
  const int operations = Operation::live;
  const int unrelated = Unrelated::live;
  testing::AssertionResult result = testing::AssertionFailure() << "accepted";
  try {
    (void)Deserialize<T>(bytes);
  } catch (const SerializationError& e) {
    const std::string_view got = e.what();
    if (got.starts_with("cannot deserialize object: ") &&
        got.find(part) != std::string_view::npos) {
      result = testing::AssertionSuccess();
    } else {
      result = testing::AssertionFailure()
               << "what() is '" << got << "', expected '" << part << "'";
    }
  } catch (const std::exception& e) {
    return testing::AssertionFailure() << "threw " << typeid(e).name() << ": " << e.what();
  }
  if (result && (Operation::live != operations || Unrelated::live != unrelated)) {
    return testing::AssertionFailure()
           << "leaked " << Operation::live - operations << " Operation(s) and "
           << Unrelated::live - unrelated << " Unrelated";
  }
  return result;
}

std::string U16(uint16_t v) { return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)}; }
std::string U32(uint32_t v) { return U16(v & 0xffff) + U16(v >> 16); }
std::string U64(uint64_t v) { return U32(v & 0xffffffff) + U32(v >> 32); }
// An exported name as Boost writes it: u64 length, bytes.
std::string Name(std::string_view name) { return U64(name.size()) + std::string(name); }

// `s` with `n` bytes at `pos` replaced by `with`.
std::string Splice(std::string s, size_t pos, size_t n, const std::string& with) {
  return s.replace(pos, n, with);
}

// Position of the first byte after `needle` in `s` (which must contain it).
size_t After(const std::string& s, std::string_view needle, size_t from = 0) {
  const size_t at = s.find(needle, from);
  EXPECT_NE(at, std::string::npos) << needle;
  return at + needle.size();
}

std::string ScaleArchive() {
  const std::unique_ptr<Operation> op = std::make_unique<Scale>(3, "triple");
  return Serialize(op);
}

TEST(Serialization, ArchiveLayoutAsTheseTestsAssume) {
  const std::string a = ScaleArchive();
  EXPECT_EQ(a.substr(0, 15), std::string(5, '\0') + U16(1) + U64(17));
  const size_t name_end = After(a, "mpipc_test::Scale");
  EXPECT_EQ(name_end, 32u);
  EXPECT_EQ(a.substr(name_end, 9), "\x01" + U32(0) + U32(0));  // tracked, version 0, object 0
  EXPECT_EQ(Deserialize<std::unique_ptr<Operation>>(a)->Name(), "Scale(triple)");
}

// The fuzzer's input (fuzz/corpus/payload/payload-boost-pointer-class-id without its selector
// byte): the unique_ptr class claims tracking, object id 0x74706563, and the pointer class id
// 0x8969 (negative), which Boost 1.74 used to index its class table (SEGV).
TEST(Serialization, FuzzerPointerClassIdInputIsRejected) {
  const std::string input("\x53\x74\x39\x65\x78\x63\x65\x70\x74\x69\x89\x6e\x9a", 13);
  EXPECT_TRUE(Rejects<std::unique_ptr<Operation>>(input, "object id 1953523043 is neither"));
  // With a valid object id, the class id itself is what is rejected.
  const std::string fixed_object_id = Splice(input, 5, 4, U32(0));
  EXPECT_TRUE(Rejects<std::unique_ptr<Operation>>(
      fixed_object_id, "class id -30359 is neither a known one (below 1) nor the next new one"));
}

TEST(Serialization, HostilePointerClassIdIsRejected) {
  const std::string a = ScaleArchive();
  const size_t class_id = 5;
  // Classes known at that point: 0 (the unique_ptr itself); 1 would be the next new one.
  for (const uint16_t id : {uint16_t{2}, uint16_t{3}, uint16_t{0x7fff}, uint16_t{0x8000},
                            uint16_t{0xfffe}, uint16_t{0x8969}}) {
    const int16_t shown = static_cast<int16_t>(id);
    EXPECT_TRUE(Rejects<std::unique_ptr<Operation>>(
        Splice(a, class_id, 2, U16(id)),
        "class id " + std::to_string(shown) + " is neither a known one (below 1)"))
        << id;
  }
  // A known class that is never loaded through a pointer: the unique_ptr<Operation> class.
  EXPECT_TRUE(Rejects<std::unique_ptr<Operation>>(Splice(a, class_id, 2, U16(0)),
                                                  "class id 0 names a class not loaded through"));
  // Null (-1) is a valid class id: the rest of the input is then ignored.
  EXPECT_EQ(Deserialize<std::unique_ptr<Operation>>(Splice(a, class_id, 2, U16(0xffff))), nullptr);
}

TEST(Serialization, HostileClassNameIsRejected) {
  const std::string a = ScaleArchive();
  const size_t name = 7;  // length, then the name
  EXPECT_TRUE(Rejects<std::unique_ptr<Operation>>(Splice(a, name, 25, Name("mpipc_test::Scalf")),
                                                  "unregistered class name \"mpipc_test::Scalf\""));
  EXPECT_TRUE(Rejects<std::unique_ptr<Operation>>(Splice(a, name, 25, Name("")),
                                                  "unregistered class name \"\""));
  // Registered, loadable, but not an Operation: Boost loads it, then finds it cannot convert it.
  const std::string unrelated = Splice(a, name, 25, Name("mpipc_test::Unrelated"));
  EXPECT_TRUE(Rejects<std::unique_ptr<Operation>>(
      unrelated, "a pointer's object is of a class not derived from the pointer's type"));
  // A new class id naming a class already in the table. Two Scales; classes 0-3 are the vector,
  // the unique_ptr, Scale and its Operation base, so the second Scale has the known class id 2.
  // Make it the new 4 and name Scale again: Boost would register Scale, get 2 back, and index its
  // table at 4.
  std::vector<std::unique_ptr<Operation>> two;
  two.push_back(std::make_unique<Scale>(2, "first-label"));
  two.push_back(std::make_unique<Scale>(3, "second"));
  const std::string b = Serialize(two);
  const size_t second = After(b, "first-label");
  ASSERT_EQ(b.substr(second, 2), U16(2));
  EXPECT_TRUE(Rejects<std::vector<std::unique_ptr<Operation>>>(
      Splice(b, second, 2, U16(4) + Name("mpipc_test::Scale")),
      "new class id 4 names known class id 2"));
  // The known 3 is the abstract Operation, which has no pointer serializer.
  EXPECT_TRUE(Rejects<std::vector<std::unique_ptr<Operation>>>(
      Splice(b, second, 2, U16(3)), "class id 3 names a class not loaded through pointers"));
  EXPECT_EQ(Deserialize<std::vector<std::unique_ptr<Operation>>>(b).at(1)->Name(), "Scale(second)");
}

TEST(Serialization, HostileObjectIdIsRejected) {
  const std::string a = ScaleArchive();
  const size_t object_id = 32 + 5;  // after the name, Scale's tracking and version
  for (const uint32_t id : {1u, 2u, 0x80000000u, 0xffffffffu}) {
    EXPECT_TRUE(Rejects<std::unique_ptr<Operation>>(
        Splice(a, object_id, 4, U32(id)),
        "object id " + std::to_string(id) + " is neither a loaded one (below 0) nor the next new"));
  }
}

// Back references: an object id below the count names an object already loaded. Boost hands that
// object out without checking its class or who else holds it.
TEST(Serialization, HostileBackReferenceIsRejected) {
  // Two owned objects of different classes (classes: 0 vector, 1 unique_ptr, 2 Scale,
  // 3 Operation, 4 AddN); the AddN's object id (1) made 0, the Scale: type confusion.
  std::vector<std::unique_ptr<Operation>> mixed;
  mixed.push_back(std::make_unique<Scale>(2, "first-label"));
  mixed.push_back(std::make_unique<AddN>(5));
  const std::string m = Serialize(mixed);
  const size_t addn_object_id = After(m, "mpipc_test::AddN") + 5;
  ASSERT_EQ(m.substr(addn_object_id, 4), U32(1));
  EXPECT_TRUE(Rejects<std::vector<std::unique_ptr<Operation>>>(
      Splice(m, addn_object_id, 4, U32(0)), "object id 0 has class id 2, not 4"));

  // Two owned Scales; the second's object id (1) made 0: two unique_ptrs would own one object.
  std::vector<std::unique_ptr<Operation>> two;
  two.push_back(std::make_unique<Scale>(2, "first-label"));
  two.push_back(std::make_unique<Scale>(3, "second"));
  const std::string b = Serialize(two);
  const size_t second_object_id = After(b, "first-label") + 2;  // after its class id
  ASSERT_EQ(b.substr(second_object_id, 4), U32(1));
  EXPECT_TRUE(Rejects<std::vector<std::unique_ptr<Operation>>>(
      Splice(b, second_object_id, 4, U32(0)),
      "a unique_ptr refers to an object already owned or still loading"));

  // A shared then an owned Scale (class 3); the owned one's object id made 0, the object the
  // shared_ptr owns. After the first label: the owned vector's class (5 bytes), count (8), item
  // version (4), the unique_ptr's class (5), then the class id and object id.
  Sharing sharing;
  sharing.shared.push_back(std::make_shared<Scale>(2, "first-label"));
  sharing.owned.push_back(std::make_unique<Scale>(3, "second"));
  const std::string s = Serialize(sharing);
  const size_t owned = After(s, "first-label") + 5 + 8 + 4 + 5;
  ASSERT_EQ(s.substr(owned, 6), U16(3) + U32(1));
  EXPECT_TRUE(Rejects<Sharing>(Splice(s, owned + 2, 4, U32(0)),
                               "a unique_ptr refers to an object already owned or still loading"));

  // The converse: an owned then a shared Scale (class 2); the shared one's object id made 0.
  // After the first label: the shared_ptr's class (5), then the class id and object id.
  std::pair<std::unique_ptr<Operation>, std::shared_ptr<Operation>> pair{
      std::make_unique<Scale>(2, "first-label"), std::make_shared<Scale>(3, "second")};
  const std::string p = Serialize(pair);
  const size_t shared = After(p, "first-label") + 5;
  ASSERT_EQ(p.substr(shared, 6), U16(2) + U32(1));
  EXPECT_TRUE((Rejects<std::pair<std::unique_ptr<Operation>, std::shared_ptr<Operation>>>(
      Splice(p, shared + 2, 4, U32(0)), "a shared_ptr refers to an object a unique_ptr owns")));

  // A function that owns itself: Compose's inner pointer (class 3, a new AddN) made a back
  // reference to the Compose being loaded (class 1, object 0).
  const std::unique_ptr<Operation> nested =
      std::make_unique<Compose>(std::make_unique<AddN>(4), 10);
  const std::string n = Serialize(nested);
  // After Compose's name: its tracking, version, object id (9), its Operation base's class (5).
  const size_t inner = After(n, "mpipc_test::Compose") + 9 + 5;
  ASSERT_EQ(n.substr(inner, 2 + 8), U16(3) + U64(16));
  const size_t inner_end = After(n, "mpipc_test::AddN") + 9;  // AddN's tracking, version, id
  EXPECT_TRUE(Rejects<std::unique_ptr<Operation>>(
      Splice(n, inner, inner_end - inner, U16(1) + U32(0)),
      "a unique_ptr refers to an object already owned or still loading"));
}

// An object a smart pointer gets must have been created through a pointer. Here a Scale stored by
// value (class 1, tracked since Scale is exported, object 0) and a unique_ptr to a new AddN; the
// pointer made a back reference to the Scale: the unique_ptr would delete a pair member.
TEST(Serialization, SmartPointerToObjectStoredByValueIsRejected) {
  const std::pair<Scale, std::unique_ptr<Operation>> pair{Scale(2, "by-value"),
                                                          std::make_unique<AddN>(1)};
  const std::string a = Serialize(pair);
  const size_t pointer = After(a, "by-value") + 5;  // after the unique_ptr's class
  ASSERT_EQ(a.substr(pointer, 2 + 8), U16(4) + U64(16));
  const size_t pointer_end = After(a, "mpipc_test::AddN") + 9;
  EXPECT_TRUE((Rejects<std::pair<Scale, std::unique_ptr<Operation>>>(
      Splice(a, pointer, pointer_end - pointer, U16(1) + U32(0)),
      "a smart pointer refers to an object not created through a pointer")));
  EXPECT_EQ((Deserialize<std::pair<Scale, std::unique_ptr<Operation>>>(a).second->Apply(1)), 2);
}

// Every valid archive loads as before, including objects shared or aliased.
TEST(Serialization, SharedAndAliasedObjectsRoundTrip) {
  Sharing sharing;
  const auto add = std::make_shared<AddN>(7);
  sharing.shared = {add, add, std::make_shared<Scale>(2, "double")};
  sharing.owned.push_back(std::make_unique<Compose>(std::make_unique<AddN>(1), 100));
  sharing.owned.push_back(nullptr);
  sharing.alias = sharing.owned[0].get();
  const int before = Operation::live;
  {
    const Sharing back = Deserialize<Sharing>(Serialize(sharing));
    ASSERT_EQ(back.shared.size(), 3u);
    EXPECT_EQ(back.shared[0], back.shared[1]);  // one object, referenced twice
    EXPECT_EQ(back.shared[0]->Apply(1), 8);
    EXPECT_EQ(back.shared[2]->Apply(4), 8);
    ASSERT_EQ(back.owned.size(), 2u);
    EXPECT_EQ(back.owned[0]->Apply(1), 102);
    EXPECT_EQ(back.owned[1], nullptr);
    EXPECT_EQ(back.alias, back.owned[0].get());
  }
  EXPECT_EQ(Operation::live, before);
}

// A load that fails anywhere, on a truncated or altered archive, throws SerializationError and
// leaves no object behind (Boost alone leaks the object it allocated for a failed pointer).
TEST(Serialization, DamagedArchiveFailsCleanly) {
  Sharing sharing;
  const auto add = std::make_shared<AddN>(7);
  sharing.shared = {add, add};
  sharing.owned.push_back(std::make_unique<Compose>(std::make_unique<Scale>(2, "x"), 1));
  sharing.alias = add.get();
  const std::string whole = Serialize(sharing);
  const int before = Operation::live;
  for (size_t n = 1; n < whole.size(); ++n) {
    EXPECT_THROW(Deserialize<Sharing>(whole.substr(0, n)), SerializationError) << n << " bytes";
    ASSERT_EQ(Operation::live, before) << "leak after truncation to " << n << " bytes";
  }
  for (size_t i = 0; i < whole.size(); ++i) {
    for (const int v : {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, whole[i] ^ 0x01}) {
      std::string damaged = whole;
      damaged[i] = static_cast<char>(v);
      try {
        (void)Deserialize<Sharing>(damaged);
      } catch (const SerializationError&) {
      }
      ASSERT_EQ(Operation::live, before) << "leak with byte " << i << " set to " << v;
      ASSERT_EQ(Unrelated::live, 0);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Connection::send / recv

TEST(Connection, CONN_SEND_RECV_ObjectsRoundTrip) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send(42);
  a.send(std::string("text"));
  a.send(std::vector<int>{1, 2, 3});
  a.send(std::map<std::string, int>{{"one", 1}, {"two", 2}});
  a.send(Point{1, 2, "p", {}});
  EXPECT_EQ(b.recv<int>(), 42);
  EXPECT_EQ(b.recv<std::string>(), "text");
  EXPECT_EQ(b.recv<std::vector<int>>(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ((b.recv<std::map<std::string, int>>()),
            (std::map<std::string, int>{{"one", 1}, {"two", 2}}));
  EXPECT_EQ(b.recv<Point>(), (Point{1, 2, "p", {}}));
  EXPECT_FALSE(b.poll());
}

TEST(Connection, CONN_SEND_OneFramePerObject) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const std::vector<int> v = {5, 6, 7};
  a.send(v);
  // The payload is exactly Serialize(v), framed once.
  EXPECT_EQ(b.recv_bytes(), Serialize(v));
  a.send_bytes(Serialize(std::string("raw")));
  EXPECT_EQ(b.recv<std::string>(), "raw");
}

TEST(Connection, CONN_SEND_PICKLEFAIL_UnregisteredClassWritesNothing) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  const std::unique_ptr<Operation> bad = std::make_unique<Unregistered>();
  EXPECT_TRUE(ThrowsExactly<SerializationError>(
      [&] { a.send(bad); }, "cannot serialize object: unregistered class", true));
  EXPECT_FALSE(b.poll());  // nothing was written
  // The connection stays usable and aligned.
  const std::unique_ptr<Operation> good = std::make_unique<AddN>(1);
  a.send(good);
  const auto got = b.recv<std::unique_ptr<Operation>>();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->Apply(1), 2);
  EXPECT_FALSE(b.poll());
}

TEST(Connection, CONN_SEND_PICKLEFAIL_OnSimplexPipe) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  const std::unique_ptr<Operation> bad = std::make_unique<Unregistered>();
  EXPECT_THROW(w.send(bad), SerializationError);
  EXPECT_FALSE(r.poll());
  w.send(1);
  EXPECT_EQ(r.recv<int>(), 1);
}

TEST(Connection, CONN_CHECK_ORDER_DirectionBeforeSerialization) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  const std::unique_ptr<Operation> bad = std::make_unique<Unregistered>();
  try {
    r.send(bad);
    FAIL() << "no exception";
  } catch (const OSError& e) {
    EXPECT_STREQ(e.what(), "connection is read-only");
  }
  r.close();
  try {
    r.send(bad);
    FAIL() << "no exception";
  } catch (const OSError& e) {
    EXPECT_STREQ(e.what(), "handle is closed");
  }
}

TEST(Connection, CONN_RECV_UNPICKLE_ERR_MessageIsConsumed) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("not an archive");
  a.send(99);
  EXPECT_TRUE(ThrowsExactly<SerializationError>([&] { b.recv<Point>(); },
                                                "cannot deserialize object: ", true));
  // The stream stays aligned: the next object follows.
  EXPECT_EQ(b.recv<int>(), 99);
  a.send_bytes("x");
  EXPECT_THROW(b.recv<int64_t>(), SerializationError);
  EXPECT_FALSE(b.poll());
}

TEST(Connection, CONN_RECV_EMPTY_FRAME_IsRanOutOfInput) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("");
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv<std::string>(); }, "Ran out of input"));
  a.close();
  EXPECT_TRUE(ThrowsExactly<EOFError>([&] { b.recv<std::string>(); }, ""));
}

// The dill analogue: functors go to a child process through a base pointer; the child calls them
// and returns the results and the dynamic type's name.
TEST(Connection, CONN_SEND_PolymorphicFunctorsToChildProcess) {
  Connection parent_end, child_end;
  std::tie(parent_end, child_end) = Pipe();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    try {
      parent_end.close();
      for (;;) {
        const auto op = child_end.recv<std::unique_ptr<Operation>>();
        if (!op) break;  // a null pointer ends the session
        child_end.send(std::make_pair(op->Name(), op->Apply(10)));
      }
      // Unknown classes do not travel back either.
      const std::unique_ptr<Operation> bad = std::make_unique<Unregistered>();
      try {
        child_end.send(bad);
        code = 5;
      } catch (const SerializationError&) {
      }
      child_end.send(std::string("done"));
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  child_end.close();
  std::vector<std::unique_ptr<Operation>> ops;
  ops.push_back(std::make_unique<AddN>(5));
  ops.push_back(std::make_unique<Scale>(-3, "neg"));
  ops.push_back(std::make_unique<AddN>(-10));
  for (const auto& op : ops) parent_end.send(op);
  parent_end.send(std::unique_ptr<Operation>());
  using Result = std::pair<std::string, int64_t>;
  EXPECT_EQ(parent_end.recv<Result>(), (Result{"AddN(5)", 15}));
  EXPECT_EQ(parent_end.recv<Result>(), (Result{"Scale(neg)", -30}));
  EXPECT_EQ(parent_end.recv<Result>(), (Result{"AddN(-10)", 0}));
  EXPECT_EQ(parent_end.recv<std::string>(), "done");
  EXPECT_EQ(WaitChild(pid), 0);
  EXPECT_THROW(parent_end.recv_bytes(), EOFError);
}

TEST(Connection, CONN_SEND_PICKLEFAIL_ChildSeesNothingFromFailedSend) {
  Connection parent_end, child_end;
  std::tie(parent_end, child_end) = Pipe();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    try {
      parent_end.close();
      // Nothing may be readable before the good message: the failed send wrote nothing.
      if (!child_end.poll(std::nullopt)) code = 2;
      const auto op = child_end.recv<std::unique_ptr<Operation>>();
      child_end.send(op ? op->Apply(1) : int64_t{-999});
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  child_end.close();
  const std::unique_ptr<Operation> bad = std::make_unique<Unregistered>();
  EXPECT_THROW(parent_end.send(bad), SerializationError);
  const std::unique_ptr<Operation> good = std::make_unique<Scale>(7, "seven");
  parent_end.send(good);
  EXPECT_EQ(parent_end.recv<int64_t>(), 7);
  EXPECT_EQ(WaitChild(pid), 0);
}

}  // namespace
}  // namespace mpipc
