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

// "A function": a base with a virtual call operator.
class Operation {
 public:
  virtual ~Operation() = default;
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

namespace mpipc {
namespace {

using mpipc_test::AddN;
using mpipc_test::Operation;
using mpipc_test::Point;
using mpipc_test::Scale;
using mpipc_test::Unregistered;
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
