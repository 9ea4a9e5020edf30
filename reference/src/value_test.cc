// Tests of mpipc::Value (value.h): construction and kinds, Python's equality and dict rules,
// repr() against strings CPython 3.13 printed (the expected strings were produced by running
// repr() in python3.13 on the same values; 3.11/3.12 print the same except where noted), the
// binary codec's round trips, pinned encodings and hostile-input paths (byte surgery, absurd
// lengths, nesting, a seeded mutation loop, allocation bounds), and the Boost.Serialization path
// through Connection::send/recv.

#include "mpipc/value.h"

#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpipc/connection.h"
#include "mpipc/errors.h"
#include "mpipc/serialization.h"
#include "test_support.h"

// ---------------------------------------------------------------------------------------------
// Allocation accounting for the "allocates no more than the input justifies" tests: the global
// operator new of this test binary records the largest single allocation and the total while
// tracking is on. Not under TSan, whose runtime defines operator new itself (the tests that need
// the accounting skip there; the ASan and plain builds run them).
#ifdef MPIPC_TEST_UNDER_TSAN
constexpr bool kAllocationTracking = false;
#else
constexpr bool kAllocationTracking = true;
#endif

namespace {
std::atomic<bool> g_tracking{false};
std::atomic<size_t> g_max_alloc{0};
std::atomic<size_t> g_total_alloc{0};

[[maybe_unused]] void* TrackedAlloc(size_t n) {
  if (g_tracking.load(std::memory_order_relaxed)) {
    size_t prev = g_max_alloc.load(std::memory_order_relaxed);
    while (n > prev && !g_max_alloc.compare_exchange_weak(prev, n)) {
    }
    g_total_alloc.fetch_add(n, std::memory_order_relaxed);
  }
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

#ifndef MPIPC_TEST_UNDER_TSAN
void* operator new(size_t n) { return TrackedAlloc(n); }
void* operator new[](size_t n) { return TrackedAlloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t /*n*/) noexcept { std::free(p); }
void operator delete[](void* p, size_t /*n*/) noexcept { std::free(p); }
#endif

namespace mpipc {
namespace {

using testing_support::ThrowsExactly;

// Tracks allocations for its lifetime.
class AllocationScope {
 public:
  AllocationScope() {
    g_max_alloc = 0;
    g_total_alloc = 0;
    g_tracking = true;
  }
  ~AllocationScope() { g_tracking = false; }
  AllocationScope(const AllocationScope&) = delete;
  AllocationScope& operator=(const AllocationScope&) = delete;
  size_t max_alloc() const { return g_max_alloc.load(); }
  size_t total_alloc() const { return g_total_alloc.load(); }
};

// DecodeValue(bytes) throws SerializationError whose message contains `part`.
testing::AssertionResult DecodeFails(std::string_view bytes, std::string_view part = "") {
  try {
    const Value v = DecodeValue(bytes);
    return testing::AssertionFailure() << "decoded " << v.repr();
  } catch (const SerializationError& e) {
    if (std::string_view(e.what()).find(part) == std::string_view::npos) {
      return testing::AssertionFailure() << "message '" << e.what() << "' lacks '" << part << "'";
    }
    return testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return testing::AssertionFailure() << "threw " << typeid(e).name() << ": " << e.what();
  }
}

std::string Le64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

std::string Leb128(uint64_t n) {
  std::string s;
  while (n >= 0x80) {
    s += static_cast<char>((n & 0x7F) | 0x80);
    n >>= 7;
  }
  s += static_cast<char>(n);
  return s;
}

// A list nested `depth` levels deep around `inner` (depth 0: `inner` itself).
Value Nested(int depth, Value inner = Value()) {
  Value v = std::move(inner);
  for (int i = 0; i < depth; ++i) v = List{std::move(v)};
  return v;
}

// A value with every kind, nested.
Value Sample() {
  return List{nullptr,
              true,
              false,
              0,
              -7,
              std::numeric_limits<int64_t>::min(),
              std::numeric_limits<int64_t>::max(),
              0.5,
              -0.0,
              std::numeric_limits<double>::infinity(),
              "",
              "h\xc3\xa9llo \xf0\x9f\x98\x80",
              Bytes{std::string("\0\xff", 2)},
              List{},
              Tuple{},
              Tuple{1},
              Dict{},
              Dict{{"k", List{1, Tuple{2, "x"}}}, {Tuple{1, Bytes{"b"}}, nullptr}, {2.5, Dict{}}}};
}

// ---------------------------------------------------------------------------------------------
// Kinds and construction.

TEST(Value, KindsOfEachConstructor) {
  EXPECT_EQ(Value().kind(), Value::Kind::kNone);
  EXPECT_EQ(Value(nullptr).kind(), Value::Kind::kNone);
  EXPECT_EQ(Value(true).kind(), Value::Kind::kBool);
  EXPECT_EQ(Value(1).kind(), Value::Kind::kInt);
  EXPECT_EQ(Value(int8_t{-3}).as_int(), -3);
  EXPECT_EQ(Value(uint16_t{65535}).as_int(), 65535);
  EXPECT_EQ(Value(size_t{5}).as_int(), 5);
  EXPECT_EQ(Value(uint64_t{9223372036854775807u}).as_int(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Value(1.5).kind(), Value::Kind::kFloat);
  EXPECT_EQ(Value(0.25f).as_float(), 0.25);
  // A string literal is a str, not a bool (pointer-to-bool conversion).
  EXPECT_EQ(Value("abc").kind(), Value::Kind::kStr);
  EXPECT_EQ(Value("").kind(), Value::Kind::kStr);
  const char* p = "ptr";
  EXPECT_EQ(Value(p).as_str(), "ptr");
  EXPECT_EQ(Value(std::string("s")).as_str(), "s");
  EXPECT_EQ(Value(std::string_view("sv")).as_str(), "sv");
  EXPECT_EQ(Value(Bytes{"b"}).kind(), Value::Kind::kBytes);
  EXPECT_EQ(Value(List{}).kind(), Value::Kind::kList);
  EXPECT_EQ(Value(Tuple{}).kind(), Value::Kind::kTuple);
  EXPECT_EQ(Value(Dict{}).kind(), Value::Kind::kDict);

  const std::vector<std::pair<Value, std::string_view>> names = {
      {Value(), "NoneType"}, {true, "bool"},   {1, "int"},         {1.0, "float"},  {"s", "str"},
      {Bytes{}, "bytes"},    {List{}, "list"}, {Tuple{}, "tuple"}, {Dict{}, "dict"}};
  for (const auto& [v, name] : names) EXPECT_EQ(v.type_name(), name);

  EXPECT_TRUE(Value().is_none());
  EXPECT_TRUE(Value(false).is_bool());
  EXPECT_TRUE(Value(0).is_int());
  EXPECT_TRUE(Value(0.0).is_float());
  EXPECT_TRUE(Value("").is_str());
  EXPECT_TRUE(Value(Bytes{}).is_bytes());
  EXPECT_TRUE(Value(List{}).is_list());
  EXPECT_TRUE(Value(Tuple{}).is_tuple());
  EXPECT_TRUE(Value(Dict{}).is_dict());
  EXPECT_FALSE(Value(1).is_bool());
  EXPECT_FALSE(Value(List{}).is_tuple());
}

TEST(Value, OutOfRangeUnsignedIsRejected) {
  EXPECT_TRUE(ThrowsExactly<ValueError>([] { Value v(uint64_t{9223372036854775808u}); },
                                        "int too large for a Value: 9223372036854775808"));
  EXPECT_THROW((void)Value(std::numeric_limits<uint64_t>::max()), ValueError);
}

TEST(Value, StrMustBeValidUtf8) {
  for (const std::string_view bad : {
           std::string_view("\xff"),              // never valid
           std::string_view("a\x80"),             // stray continuation byte
           std::string_view("\xc0\x80"),          // overlong NUL
           std::string_view("\xe0\x80\xaf"),      // overlong '/'
           std::string_view("\xed\xa0\x80"),      // surrogate U+D800
           std::string_view("\xf4\x90\x80\x80"),  // above U+10FFFF
           std::string_view("\xe2\x82"),          // truncated
           std::string_view("\xf0\x9f\x98"),      // truncated
       }) {
    EXPECT_THROW((void)Value(std::string(bad)), ValueError) << testing::PrintToString(bad);
    EXPECT_THROW((void)Value(bad), ValueError);
  }
  EXPECT_TRUE(ThrowsExactly<ValueError>([] { Value v("ok\xff"); },
                                        "str is not valid UTF-8: byte 0xff at position 2"));
  EXPECT_THROW((void)Value(static_cast<const char*>(nullptr)), ValueError);
  // The extremes of each length are fine.
  EXPECT_EQ(Value("\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf")
                .as_str()
                .size(),
            19u);
  // Bytes hold anything.
  EXPECT_EQ(Value(Bytes{"\xff"}).as_bytes().data, "\xff");
}

TEST(Value, AccessorsRaiseTypeErrorForAnotherKind) {
  EXPECT_TRUE(ThrowsExactly<TypeError>([] { (void)Value("s").as_int(); }, "expected int, got str"));
  EXPECT_TRUE(ThrowsExactly<TypeError>([] { (void)Value(1).as_str(); }, "expected str, got int"));
  EXPECT_TRUE(
      ThrowsExactly<TypeError>([] { (void)Value().as_bool(); }, "expected bool, got NoneType"));
  // No conversions between kinds, not even bool -> int or int -> float.
  EXPECT_TRUE(
      ThrowsExactly<TypeError>([] { (void)Value(true).as_int(); }, "expected int, got bool"));
  EXPECT_TRUE(
      ThrowsExactly<TypeError>([] { (void)Value(1).as_float(); }, "expected float, got int"));
  EXPECT_TRUE(
      ThrowsExactly<TypeError>([] { (void)Value(List{}).as_tuple(); }, "expected tuple, got list"));
  EXPECT_TRUE(
      ThrowsExactly<TypeError>([] { (void)Value(Tuple{}).as_list(); }, "expected list, got tuple"));
  EXPECT_TRUE(
      ThrowsExactly<TypeError>([] { (void)Value("x").as_bytes(); }, "expected bytes, got str"));
  EXPECT_TRUE(
      ThrowsExactly<TypeError>([] { (void)Value(Bytes{}).as_dict(); }, "expected dict, got bytes"));
  Value v = 1;
  EXPECT_THROW(v.as_list(), TypeError);  // the mutable overloads check too
  // TypeError is a std::invalid_argument, as ValueError.
  EXPECT_THROW((void)Value(1).as_str(), std::invalid_argument);
}

TEST(Value, MutableAccessorsAndValueSemantics) {
  Value v = List{1, 2};
  Value copy = v;
  v.as_list().push_back("three");
  EXPECT_EQ(v.repr(), "[1, 2, 'three']");
  EXPECT_EQ(copy.repr(), "[1, 2]");
  Value t = Tuple{1};
  t.as_tuple().items.emplace_back(2);
  EXPECT_EQ(t.repr(), "(1, 2)");
  Value b = Bytes{"a"};
  b.as_bytes().data += '\x01';
  EXPECT_EQ(b.repr(), "b'a\\x01'");
  Value d = Dict{};
  EXPECT_TRUE(d.as_dict().insert_or_assign("k", 1));
  *d.as_dict().find("k") = 2;
  EXPECT_EQ(d.repr(), "{'k': 2}");
}

// ---------------------------------------------------------------------------------------------
// Equality.

TEST(Value, NumbersCompareByValueAcrossBoolIntFloat) {
  EXPECT_EQ(Value(true), Value(1));
  EXPECT_EQ(Value(1), Value(1.0));
  EXPECT_EQ(Value(true), Value(1.0));
  EXPECT_EQ(Value(false), Value(0));
  EXPECT_EQ(Value(0), Value(-0.0));
  EXPECT_EQ(Value(0.0), Value(-0.0));
  EXPECT_NE(Value(true), Value(2));
  EXPECT_NE(Value(1), Value(1.5));
  // Exact, not through a conversion to double: 2**53 + 1 != float(2**53), as in Python.
  EXPECT_NE(Value(int64_t{9007199254740993}), Value(9007199254740992.0));
  EXPECT_EQ(Value(int64_t{9007199254740992}), Value(9007199254740992.0));
  EXPECT_EQ(Value(std::numeric_limits<int64_t>::min()), Value(-9223372036854775808.0));
  EXPECT_NE(Value(std::numeric_limits<int64_t>::max()), Value(9223372036854775808.0));
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NE(Value(std::numeric_limits<int64_t>::max()), Value(inf));
  EXPECT_EQ(Value(inf), Value(inf));
  EXPECT_NE(Value(nan), Value(nan));
  EXPECT_NE(Value(0), Value(nan));
  EXPECT_NE(Value(List{nan}), Value(List{nan}));  // no identity shortcut
}

TEST(Value, OtherKindsCompareOnlyWithTheirOwnKind) {
  EXPECT_EQ(Value(), Value(nullptr));
  EXPECT_NE(Value(), Value(0));
  EXPECT_NE(Value(), Value(false));
  EXPECT_NE(Value(), Value(""));
  EXPECT_EQ(Value("a"), Value("a"));
  EXPECT_NE(Value("a"), Value("b"));
  EXPECT_NE(Value("a"), Value(Bytes{"a"}));  // 'a' != b'a'
  EXPECT_EQ(Value(Bytes{"a"}), Value(Bytes{"a"}));
  EXPECT_NE(Value(List{1, 2}), Value(Tuple{1, 2}));  // [1, 2] != (1, 2)
  EXPECT_EQ(Value(List{1, 2}), Value(List{1.0, true + 1}));
  EXPECT_EQ(Value(Tuple{1, "a"}), Value(Tuple{true, "a"}));
  EXPECT_NE(Value(List{1}), Value(List{1, 1}));
  EXPECT_NE(Value(List{}), Value(Dict{}));
  EXPECT_NE(Value("1"), Value(1));
  // Dicts: same pairs in any order; keys compared with ==.
  EXPECT_EQ(Value(Dict{{"a", 1}, {"b", 2}}), Value(Dict{{"b", 2}, {"a", 1}}));
  EXPECT_EQ(Value(Dict{{1, "x"}}), Value(Dict{{1.0, "x"}}));
  EXPECT_NE(Value(Dict{{"a", 1}}), Value(Dict{{"a", 2}}));
  EXPECT_NE(Value(Dict{{"a", 1}}), Value(Dict{{"b", 1}}));
  EXPECT_NE(Value(Dict{{"a", 1}}), Value(Dict{{"a", 1}, {"b", 1}}));
  EXPECT_EQ(Sample(), Sample());
  // Comparison with implicit conversions.
  EXPECT_TRUE(Value(3) == 3);
  EXPECT_TRUE(3.0 == Value(3));
  EXPECT_TRUE(Value("x") == "x");
}

TEST(Dict, DisplaySemanticsAndHashableKeys) {
  // {1: 'a', 1.0: 'b', True: 'c'} == {1: 'c'}: first key kept, last value.
  const Dict d{{1, "a"}, {1.0, "b"}, {true, "c"}};
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d.items()[0].first.is_int());
  EXPECT_EQ(Value(d).repr(), "{1: 'c'}");
  // Lookups with an equal key of another kind.
  EXPECT_EQ(*d.find(true), Value("c"));
  EXPECT_EQ(*d.find(1.0), Value("c"));
  EXPECT_EQ(d.find(2), nullptr);
  EXPECT_EQ(d.find(List{1}), nullptr);  // unhashable: cannot be present
  EXPECT_TRUE(d.contains(1));
  EXPECT_FALSE(d.contains("1"));

  Dict e;
  EXPECT_TRUE(e.insert_or_assign(0, "zero"));
  EXPECT_FALSE(e.insert_or_assign(-0.0, "still zero"));
  EXPECT_FALSE(e.try_emplace(false, "no"));
  EXPECT_TRUE(e.try_emplace(Tuple{1, Tuple{"n"}}, "tuple key"));
  EXPECT_TRUE(e.try_emplace(Tuple{1.5, nullptr, Bytes{"x"}}, "mixed tuple key"));
  EXPECT_EQ(Value(e).repr(),
            "{0: 'still zero', (1, ('n',)): 'tuple key', (1.5, None, b'x'): "
            "'mixed tuple key'}");
  EXPECT_TRUE(e.contains(Tuple{true, Tuple{"n"}}));
  EXPECT_FALSE(e.contains(List{1, Tuple{"n"}}));

  EXPECT_TRUE(
      ThrowsExactly<TypeError>([&] { e.insert_or_assign(List{}, 1); }, "unhashable type: 'list'"));
  EXPECT_TRUE(ThrowsExactly<TypeError>(
      [&] {
        e.try_emplace(Tuple{1, Dict{}}, 1);
      },
      "unhashable type: 'dict'"));
  EXPECT_TRUE(ThrowsExactly<TypeError>([] { Dict f{{List{}, 1}}; }, "unhashable type: 'list'"));
  EXPECT_EQ(e.size(), 3u);

  // nan is never equal to itself, so each nan key is a key of its own (Python: for distinct
  // nan objects).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Dict n;
  EXPECT_TRUE(n.insert_or_assign(nan, 1));
  EXPECT_TRUE(n.insert_or_assign(nan, 2));
  EXPECT_EQ(n.size(), 2u);
  EXPECT_EQ(n.find(nan), nullptr);
}

TEST(Dict, ManyKeysKeepInsertionOrderAndStayFast) {
  Dict d;
  constexpr int kN = 50000;
  for (int i = kN - 1; i >= 0; --i) d.insert_or_assign(i, i * 2);
  for (int i = 0; i < kN; i += 2) d.insert_or_assign(static_cast<double>(i), -i);
  ASSERT_EQ(d.size(), static_cast<size_t>(kN));
  EXPECT_EQ(d.items().front().first, Value(kN - 1));
  EXPECT_EQ(d.items().back().first, Value(0));
  EXPECT_EQ(*d.find(10), Value(-10));
  EXPECT_EQ(*d.find(11), Value(22));
  const Value v = std::move(d);
  EXPECT_EQ(DecodeValue(EncodeValue(v)), v);
}

// ---------------------------------------------------------------------------------------------
// repr against CPython 3.13.

TEST(Value, ReprMatchesCPython) {
  const std::vector<std::pair<Value, std::string_view>> cases = {
      {Value(), R"py(None)py"},
      {Value(true), R"py(True)py"},
      {Value(false), R"py(False)py"},
      {Value(0), R"py(0)py"},
      {Value(-1), R"py(-1)py"},
      {Value(std::numeric_limits<int64_t>::max()), R"py(9223372036854775807)py"},
      {Value(std::numeric_limits<int64_t>::min()), R"py(-9223372036854775808)py"},
      {Value(0.0), R"py(0.0)py"},
      {Value(-0.0), R"py(-0.0)py"},
      {Value(1.0), R"py(1.0)py"},
      {Value(1.5), R"py(1.5)py"},
      {Value(0.1), R"py(0.1)py"},
      {Value(0.1 + 0.2), R"py(0.30000000000000004)py"},
      {Value(1.0 / 3), R"py(0.3333333333333333)py"},
      {Value(100.0), R"py(100.0)py"},
      {Value(1e15), R"py(1000000000000000.0)py"},
      {Value(1e16), R"py(1e+16)py"},
      {Value(123456789012345678.0), R"py(1.2345678901234568e+17)py"},
      {Value(2e16 + 8), R"py(2.000000000000001e+16)py"},
      {Value(1e22), R"py(1e+22)py"},
      {Value(1.5e300), R"py(1.5e+300)py"},
      {Value(0.0001), R"py(0.0001)py"},
      {Value(0.00012345), R"py(0.00012345)py"},
      {Value(1e-5), R"py(1e-05)py"},
      {Value(-2.5e-10), R"py(-2.5e-10)py"},
      {Value(std::numeric_limits<double>::max()), R"py(1.7976931348623157e+308)py"},
      {Value(std::numeric_limits<double>::denorm_min()), R"py(5e-324)py"},
      {Value(std::numeric_limits<double>::infinity()), R"py(inf)py"},
      {Value(-std::numeric_limits<double>::infinity()), R"py(-inf)py"},
      {Value(std::numeric_limits<double>::quiet_NaN()), R"py(nan)py"},
      {Value(-std::numeric_limits<double>::quiet_NaN()), R"py(nan)py"},
      {Value(1.5f), R"py(1.5)py"},
      {Value(""), R"py('')py"},
      {Value("abc"), R"py('abc')py"},
      {Value("it's"), R"py("it's")py"},
      {Value("say \"hi\""), R"py('say "hi"')py"},
      {Value("both ' and \""), R"py('both \' and "')py"},
      {Value("back\\slash"), R"py('back\\slash')py"},
      {Value("tab\tnl\nret\r"), R"py('tab\tnl\nret\r')py"},
      {Value(std::string("nul\0us\x1f del\x7f", 12)), R"py('nul\x00us\x1f del\x7f')py"},
      {Value("\u0080\u00a0\u00ad\u00e9\u00ff"), R"py('\x80\xa0\xadéÿ')py"},
      {Value("\u65e5\u672c"), R"py('日本')py"},
      {Value("zero\u200bwidth \u2028 \ufeff \u3000"),
       R"py('zero\u200bwidth \u2028 \ufeff \u3000')py"},
      {Value("\U0001F600 \U000E0001 \U0010FFFF \uE000"), R"py('😀 \U000e0001 \U0010ffff \ue000')py"},
      {Value("\U0001FAE9"), R"py('\U0001fae9')py"},
      {Value(Bytes{}), R"py(b'')py"},
      {Value(Bytes{"abc"}), R"py(b'abc')py"},
      {Value(Bytes{"it's"}), R"py(b"it's")py"},
      {Value(Bytes{"both ' and \""}), R"py(b'both \' and "')py"},
      {Value(Bytes{std::string("\0\xff\x7f\x80 \t\n\r\\", 9)}),
       R"py(b'\x00\xff\x7f\x80 \t\n\r\\')py"},
      {Value("\U0001FA75 \U0002EBF0 \u2FFC"), R"py('🩵 𮯰 ⿼')py"},
      {Value(List{}), R"py([])py"},
      {Value(List{1, "a"}), R"py([1, 'a'])py"},
      {Value(Tuple{}), R"py(())py"},
      {Value(Tuple{1}), R"py((1,))py"},
      {Value(Tuple{1, 2}), R"py((1, 2))py"},
      {Value(Dict{}), R"py({})py"},
      {Value(Dict{{"k", 1}}), R"py({'k': 1})py"},
      {Value(List{List{}, Tuple{nullptr}, Dict{{"a", List{1.5, Bytes{"x"}}}}}),
       R"py([[], (None,), {'a': [1.5, b'x']}])py"},
      {Value(Dict{{Tuple{1, "a"}, Dict{{2, Tuple{}}}}, {nullptr, false}, {2.5, -3}}),
       R"py({(1, 'a'): {2: ()}, None: False, 2.5: -3})py"},
      {Value(List{true, 1, 1.0, Tuple{Value(Tuple{})}}), R"py([True, 1, 1.0, ((),)])py"},
      {Value(Dict{{1, "a"}, {1.0, "b"}, {true, "c"}}), R"py({1: 'c'})py"},
  };
  for (const auto& [v, expected] : cases) EXPECT_EQ(v.repr(), expected);
}

TEST(Value, ReprOfNonAsciiPrintabilityFollowsUnicode15_1) {
  // U+1FA75 and U+2EBF0 were assigned in Unicode 15.0 and 15.1: CPython 3.11 escapes them
  // ('\U0001fa75'), 3.12 prints the first, 3.13 (our reference) prints both.
  EXPECT_EQ(Value("\U0001FA75").repr(), "'\U0001FA75'");
  EXPECT_EQ(Value("\U0002EBF0").repr(), "'\U0002EBF0'");
  // Still unassigned in 15.1.
  EXPECT_EQ(Value("\U0001FAE9").repr(), "'\\U0001fae9'");
}

TEST(Value, StreamsItsRepr) {
  std::ostringstream os;
  os << Value(Tuple{1, "a"});
  EXPECT_EQ(os.str(), "(1, 'a')");
}

// ---------------------------------------------------------------------------------------------
// Codec: round trips and pinned encodings.

void ExpectRoundTrip(const Value& v) {
  const std::string enc = EncodeValue(v);
  const Value back = DecodeValue(enc);
  EXPECT_EQ(back.kind(), v.kind());
  EXPECT_EQ(back.repr(), v.repr());
  EXPECT_EQ(EncodeValue(back), enc);
  // Through Boost.Serialization as well.
  const Value boosted = Deserialize<Value>(Serialize(v));
  EXPECT_EQ(EncodeValue(boosted), enc);
}

TEST(ValueCodec, RoundTripsEveryKind) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const Value& v : {Value(),
                         Value(true),
                         Value(false),
                         Value(0),
                         Value(-1),
                         Value(std::numeric_limits<int64_t>::min()),
                         Value(std::numeric_limits<int64_t>::max()),
                         Value(0.0),
                         Value(-0.0),
                         Value(1e300),
                         Value(5e-324),
                         Value(nan),
                         Value(-std::numeric_limits<double>::infinity()),
                         Value(""),
                         Value("\xe6\x97\xa5\xe6\x9c\xac"),
                         Value(Bytes{}),
                         Value(Bytes{std::string("\0\x01\xff", 3)}),
                         Value(List{}),
                         Value(Tuple{}),
                         Value(Dict{}),
                         Sample(),
                         Nested(Value::kMaxDepth)}) {
    SCOPED_TRACE(v.repr());
    ExpectRoundTrip(v);
    if (v == v) {
      EXPECT_EQ(DecodeValue(EncodeValue(v)), v);
    }
  }
  // The exact bits of floats survive: -0.0 and a nan payload.
  const double payload_nan = std::bit_cast<double>(uint64_t{0x7FF8000000012345});
  EXPECT_EQ(std::bit_cast<uint64_t>(DecodeValue(EncodeValue(payload_nan)).as_float()),
            0x7FF8000000012345u);
  EXPECT_TRUE(std::signbit(DecodeValue(EncodeValue(-0.0)).as_float()));
  // Dict order survives.
  const Value d = Dict{{"z", 1}, {"a", 2}, {"m", 3}};
  EXPECT_EQ(DecodeValue(EncodeValue(d)).repr(), "{'z': 1, 'a': 2, 'm': 3}");
}

TEST(ValueCodec, RoundTripsLargeValues) {
  const std::string big(1 << 20, 'x');
  ExpectRoundTrip(Value(big));
  ExpectRoundTrip(Value(Bytes{big}));
  List many;
  for (int i = 0; i < 100000; ++i) many.emplace_back(i % 3 == 0 ? Value(i) : Value("s"));
  ExpectRoundTrip(Value(std::move(many)));
}

TEST(ValueCodec, PinnedEncodings) {
  using std::string_literals::operator""s;
  EXPECT_EQ(EncodeValue(Value()), "N");
  EXPECT_EQ(EncodeValue(false), "F");
  EXPECT_EQ(EncodeValue(true), "T");
  EXPECT_EQ(EncodeValue(1), "i\x01\0\0\0\0\0\0\0"s);
  EXPECT_EQ(EncodeValue(-2), "i\xfe\xff\xff\xff\xff\xff\xff\xff"s);
  EXPECT_EQ(EncodeValue(1.0), "f\0\0\0\0\0\0\xf0\x3f"s);
  EXPECT_EQ(EncodeValue("ab"),
            "s\x02"
            "ab");
  EXPECT_EQ(EncodeValue(Bytes{"\xff"}), "b\x01\xff");
  EXPECT_EQ(EncodeValue(List{nullptr, true}), "l\x02NT");
  EXPECT_EQ(EncodeValue(Tuple{}), "t\x00"s);
  EXPECT_EQ(EncodeValue(Dict{{"k", nullptr}}), "d\x01s\x01kN");
  EXPECT_EQ(EncodeValue(Value(std::string(200, 'x'))), "s\xc8\x01" + std::string(200, 'x'));
}

TEST(ValueCodec, NestingLimitIsSymmetric) {
  EXPECT_NO_THROW(DecodeValue(EncodeValue(Nested(Value::kMaxDepth))));
  EXPECT_TRUE(
      ThrowsExactly<SerializationError>([] { (void)EncodeValue(Nested(Value::kMaxDepth + 1)); },
                                        "cannot encode value: nested deeper than 64 containers"));
  // Tuples and dicts count as containers too; scalars inside the deepest one do not.
  Value mixed = Dict{{"leaf", Tuple{1, "x"}}};
  for (int i = 2; i < Value::kMaxDepth; ++i)
    mixed = i % 2 ? Value(Tuple{mixed}) : Value(List{mixed});
  EXPECT_NO_THROW(DecodeValue(EncodeValue(mixed)));
  EXPECT_THROW((void)EncodeValue(Dict{{"deeper", mixed}}), SerializationError);
}

// ---------------------------------------------------------------------------------------------
// Codec: hostile input.

TEST(ValueDecode, EveryTruncationFails) {
  const std::string enc = EncodeValue(Sample());
  for (size_t n = 0; n < enc.size(); ++n) {
    EXPECT_TRUE(DecodeFails(std::string_view(enc).substr(0, n))) << "prefix of " << n;
  }
  EXPECT_TRUE(DecodeFails("", "truncated input"));
  EXPECT_TRUE(DecodeFails("i\x01\x02", "truncated input"));
  EXPECT_TRUE(DecodeFails("l\x02i\x01\x02", "truncated input"));
  EXPECT_TRUE(DecodeFails("l\x02N", "length 2 exceeds the 1 bytes left (at byte 2)"));
}

TEST(ValueDecode, TrailingBytesFail) {
  const std::string enc = EncodeValue(Sample());
  EXPECT_TRUE(DecodeFails(enc + "N", "1 trailing bytes after the value"));
  EXPECT_TRUE(DecodeFails(enc + std::string(3, '\0'), "3 trailing bytes"));
  EXPECT_TRUE(DecodeFails("NN", "trailing"));
}

TEST(ValueDecode, UnknownTagsFail) {
  const std::string known = "NFTifsbltd";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    if (known.find(c) != std::string::npos) continue;
    EXPECT_TRUE(DecodeFails(std::string(1, c), "unknown tag 0x")) << b;
    EXPECT_TRUE(DecodeFails("l\x01" + std::string(1, c), "unknown tag")) << b;
  }
  EXPECT_TRUE(DecodeFails("l\x01X", "unknown tag 0x58 (at byte 2)"));
}

TEST(ValueDecode, AbsurdLengthsFailBeforeAllocating) {
  if (!kAllocationTracking) GTEST_SKIP() << "no allocation accounting under TSan";
  const std::vector<std::string> hostile = {
      "s" + Leb128(uint64_t{1} << 62) + "abc",
      "b" + Leb128(std::numeric_limits<uint64_t>::max()) + "abc",
      "l" + Leb128(uint64_t{1} << 40) + "NNN",
      "t" + Leb128(1000) + std::string(999, 'N'),
      "d" + Leb128(3) + "NNNNN",  // 3 pairs need 6 bytes
      "b" + Leb128(100000) + std::string(99999, 'x'),
  };
  for (const std::string& in : hostile) {
    AllocationScope scope;
    EXPECT_TRUE(DecodeFails(in));
    EXPECT_LT(scope.max_alloc(), 1024u) << testing::PrintToString(in.substr(0, 12));
  }
  EXPECT_TRUE(DecodeFails("s" + Leb128(4) + "abc", "length 4 exceeds the 3 bytes left"));
}

TEST(ValueDecode, MalformedLengthsFail) {
  using std::string_literals::operator""s;
  EXPECT_TRUE(DecodeFails("s\x80\x00"s, "length not in its shortest form"));
  EXPECT_TRUE(DecodeFails("l\x81\x80\x00"s, "shortest form"));
  // 10 bytes whose last carries more than bit 63, and 11 bytes.
  EXPECT_TRUE(DecodeFails("b" + std::string(9, '\xff') + "\x02", "does not fit in 64 bits"));
  EXPECT_TRUE(DecodeFails("b" + std::string(10, '\xff') + "\x01", "does not fit in 64 bits"));
  EXPECT_TRUE(DecodeFails("s\x80", "truncated"));
  // The largest length still parses (and then exceeds the input).
  EXPECT_TRUE(DecodeFails("b" + std::string(9, '\xff') + "\x01", "exceeds"));
}

TEST(ValueDecode, TooDeepNestingFails) {
  std::string deep;
  for (int i = 0; i < Value::kMaxDepth; ++i) deep += "l\x01";
  EXPECT_EQ(DecodeValue(deep + "N"), Nested(Value::kMaxDepth));
  EXPECT_TRUE(DecodeFails("l\x01" + deep + "N", "nested deeper than 64 containers (at byte 128)"));
  EXPECT_TRUE(DecodeFails("t\x01" + deep + "N", "nested deeper than 64"));
  EXPECT_TRUE(DecodeFails("d\x01N" + deep + "d\x00", "nested deeper than 64"));
  // Far deeper than any stack would survive by recursion: rejected at level 65.
  std::string abyss;
  for (int i = 0; i < 1000000; ++i) abyss += "l\x01";
  EXPECT_TRUE(DecodeFails(abyss + "N", "nested deeper"));
}

TEST(ValueDecode, InvalidUtf8StrFails) {
  EXPECT_TRUE(DecodeFails("s\x01\xff", "str is not valid UTF-8 (at byte 2)"));
  EXPECT_TRUE(DecodeFails("s\x03\xed\xa0\x80", "not valid UTF-8"));
  EXPECT_TRUE(DecodeFails("s\x02\xc3", "exceeds"));
  // The same bytes are a fine bytes value.
  EXPECT_EQ(DecodeValue("b\x01\xff"), Value(Bytes{"\xff"}));
}

TEST(ValueDecode, BadDictKeysFail) {
  using std::string_literals::operator""s;
  const std::string one = "i" + Le64(1);
  const std::string one_float = "f" + Le64(std::bit_cast<uint64_t>(1.0));
  EXPECT_TRUE(DecodeFails("d\x02" + one + "N" + one_float + "N", "repeated dict key"));
  EXPECT_TRUE(DecodeFails("d\x02TN" + one + "N", "repeated dict key"));  // True == 1
  EXPECT_TRUE(DecodeFails("d\x01l\x00N"s, "dict key: unhashable type: 'list' (at byte 2)"));
  EXPECT_TRUE(
      DecodeFails("d\x01t\x01"
                  "d\x00N"s,
                  "dict key: unhashable type: 'dict'"));
  EXPECT_EQ(DecodeValue("d\x02" + one + "N" +
                        "s\x01"
                        "1N")
                .repr(),
            "{1: None, '1': None}");
  // nan keys are never equal: two are fine.
  const std::string nan = "f" + Le64(0x7FF8000000000000);
  EXPECT_EQ(DecodeValue("d\x02" + nan + "N" + nan + "N").as_dict().size(), 2u);
}

TEST(ValueDecode, AllocationIsProportionalToTheInput) {
  if (!kAllocationTracking) GTEST_SKIP() << "no allocation accounting under TSan";
  // The worst case per input byte: many tiny items, each a whole Value.
  for (const std::string& in : {"l" + Leb128(100000) + std::string(100000, 'N'),
                                "d" + Leb128(50000) +
                                    [] {
                                      std::string s;
                                      for (int i = 0; i < 50000; ++i) s += "i" + Le64(i) + "N";
                                      return s;
                                    }(),
                                [] {
                                  std::string s;
                                  for (int i = 0; i < 20000; ++i) s += "t\x01";
                                  return s;
                                }()}) {
    AllocationScope scope;
    try {
      (void)DecodeValue(in);
    } catch (const SerializationError&) {  // the deep one fails, after a bounded amount of work
    }
    EXPECT_LE(scope.total_alloc(), 256 * in.size() + 65536) << in.size();
  }
}

// A seeded mutation loop over valid encodings (a small, deterministic fuzzer): every input either
// fails with SerializationError or decodes to a value whose encoding is the input itself.
TEST(ValueDecode, MutatedEncodingsFailCleanlyOrRoundTripCanonically) {
  std::mt19937_64 rng(20240601);
  const std::vector<std::string> seeds = {
      EncodeValue(Sample()), EncodeValue(Nested(Value::kMaxDepth - 1, Dict{{1, Bytes{"b"}}})),
      EncodeValue(Dict{{"a", List{1, 2.5}}, {Tuple{}, "x"}}), EncodeValue("\xe2\x82\xac")};
  int decoded = 0;
  for (int iter = 0; iter < 30000; ++iter) {
    std::string in = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !in.empty(); ++e) {
      const size_t pos = rng() % in.size();
      switch (rng() % 5) {
        case 0:
          in[pos] = static_cast<char>(rng());
          break;
        case 1:
          in[pos] = static_cast<char>(in[pos] ^ (1 << (rng() % 8)));
          break;
        case 2:
          in.erase(pos, 1 + rng() % 4);
          break;
        case 3:
          in.insert(pos, 1, "NFTifsbltd\x00\x01\x7f\x80\xff"[rng() % 15]);
          break;
        default:
          in.resize(pos);
          break;
      }
    }
    try {
      const Value v = DecodeValue(in);
      ++decoded;
      ASSERT_EQ(EncodeValue(v), in) << v.repr();
    } catch (const SerializationError&) {
    } catch (const std::exception& e) {
      FAIL() << "threw " << typeid(e).name() << ": " << e.what();
    }
  }
  EXPECT_GT(decoded, 0);  // the loop reaches the success path too
}

// ---------------------------------------------------------------------------------------------
// Boost.Serialization and Connection.

TEST(ValueSerialization, ThroughAConnection) {
  auto a_b = Pipe();
  Connection& a = a_b.first;
  Connection& b = a_b.second;
  a.send(Sample());
  const Value got = b.recv<Value>();
  EXPECT_EQ(got, Sample());
  EXPECT_EQ(got.repr(), Sample().repr());

  a.send(std::vector<Value>{1, "two", Tuple{3.0}});
  EXPECT_EQ(b.recv<std::vector<Value>>(), (std::vector<Value>{1, "two", Tuple{3.0}}));
}

TEST(ValueSerialization, CorruptPayloadsAndDepthRaiseSerializationError) {
  std::string payload = Serialize(Value(List{1, 2}));
  ASSERT_NE(payload.find('l'), std::string::npos);
  payload[payload.find('l')] = 'X';
  EXPECT_THROW((void)Deserialize<Value>(payload), SerializationError);
  EXPECT_THROW((void)Serialize(Nested(Value::kMaxDepth + 1)), SerializationError);
  auto a_b = Pipe();
  Connection& a = a_b.first;
  Connection& b = a_b.second;
  EXPECT_THROW(a.send(Nested(Value::kMaxDepth + 1)), SerializationError);
  a.send_bytes(payload);
  EXPECT_THROW((void)b.recv<Value>(), SerializationError);
}

}  // namespace
}  // namespace mpipc
