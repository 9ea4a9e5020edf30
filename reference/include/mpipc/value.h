// mpipc::Value: a dynamically typed value holding what a Python multiprocessing queue usually
// carries — None, bool, int, float, str, bytes, list, tuple, dict — with Python's equality and
// repr(), a hardened binary codec (EncodeValue/DecodeValue) and Boost.Serialization support, so
// that Connection::send(value), recv<Value>() and queues of Value work.
//
// Kinds (Python -> C++ payload):
//   None   kNone   (no payload)          str    kStr    std::string holding valid UTF-8
//   bool   kBool   bool                  bytes  kBytes  Bytes{std::string}
//   int    kInt    int64_t (not bigint)  list   kList   List = std::vector<Value>
//   float  kFloat  double                tuple  kTuple  Tuple{std::vector<Value>}
//                                        dict   kDict   Dict: insertion-ordered unique keys
// Construction is implicit from each payload type: Value(nullptr) or Value() is None, any integer
// type is int (an unsigned value above INT64_MAX raises ValueError), any floating type is float,
// a string literal / const char* / std::string / std::string_view is str (never bool), so
//   Value v = List{1, "a", 2.5, nullptr, Tuple{true}, Dict{{"k", Bytes{"\xff"}}}};
// One caveat of braces: Tuple{Tuple{...}} and List{List{...}} (a single element of the same type)
// copy on some compilers (clang, CWG 2137) and nest on others (GCC); write Tuple{Value(Tuple{})}.
// A str that is not valid UTF-8 raises ValueError (Python's UnicodeDecodeError is one). Character
// types (char, wchar_t, char8_t, ...) and pointers other than const char* do not convert.
//
// Accessors (as_int(), as_list(), ...) return the payload and raise TypeError("expected int, got
// str") for another kind; there is no implicit conversion between kinds (as_int() of True and
// as_float() of 1 raise). type_name() is Python's type(x).__name__.
//
// Equality is Python's ==: bool, int and float compare by numeric value (True == 1 == 1.0, and
// int/float exactly: 2**53 + 1 != 2.0**53), nan is unequal to everything including itself (also
// inside containers: Python's identity shortcut does not exist here), str never equals bytes, a
// list never equals a tuple, dicts are equal when they hold equal keys mapped to equal values, in
// any order.
//
// Dict keys must be hashable as in Python: None, bool, int, float, str, bytes, and tuples of
// those; a list or dict key (also inside a tuple) raises TypeError("unhashable type: 'list'").
// Keys are unique under ==: inserting 1.0 where 1 is a key replaces the value and keeps the key 1,
// as Python's dict does. Lookups use a keyed hash (SipHash-1-3 with a per-process random key, as
// CPython's str hash), so that keys crafted to collide, and degrade a Dict to quadratic time, are
// impractical to find.
//
// repr() prints exactly what CPython 3.13 prints: None, True, 42, 0.1, 1e+16, inf, nan, -0.0,
// 'a' and "it's" quoting, escapes (\n, \x00, \u200b, ... for characters str.isprintable() rejects,
// by Unicode 15.1; CPython 3.11/3.12 differ only for characters assigned in Unicode 15.0/15.1),
// b'\xff', [1, 'a'], (1,), (1, 2), {'k': 1}.
//
// Binary codec. EncodeValue(v) -> bytes, DecodeValue(bytes) -> Value, each the inverse of the
// other; the format is canonical (a decodable input is exactly EncodeValue of its result):
//   value := 'N' | 'F' | 'T'                       None, False, True
//          | 'i' int64 | 'f' float64               8 bytes little-endian (float: IEEE 754 bits)
//          | 's' len bytes | 'b' len bytes         str (valid UTF-8) / bytes
//          | 'l' len value* | 't' len value*       list / tuple of len values
//          | 'd' len (key value)*                  dict: len pairs, keys hashable and distinct
//   len   := unsigned LEB128, at most 10 bytes, no redundant trailing 0x80 groups
// DecodeValue is hardened against hostile input: every failure (truncation, unknown tag, a length
// larger than the bytes that remain, invalid UTF-8, an unhashable or repeated dict key, more than
// kMaxDepth nested containers, trailing bytes) raises SerializationError; it never reads out of
// bounds and allocates memory proportional to the input size only. EncodeValue raises
// SerializationError for a value nested deeper than kMaxDepth containers (it could not be decoded).
//
// Boost.Serialization (serialization.h): a Value is saved as its EncodeValue bytes and loaded
// through DecodeValue, so recv<Value>() has the same checks (Boost's own framing around it does
// not; see serialization.h).
//
// Thread-safety: a Value is a plain value type (copyable, movable); concurrent reads of one Value
// are safe, a write needs exclusive access. The codec functions are reentrant. Values nested
// thousands of levels deep (built in code; decoding stops at kMaxDepth) can exhaust the stack in
// repr(), ==, copying and destruction, as CPython raises RecursionError.

#ifndef MPIPC_VALUE_H_
#define MPIPC_VALUE_H_

#include <boost/serialization/access.hpp>
#include <boost/serialization/split_member.hpp>
#include <boost/serialization/string.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "mpipc/errors.h"

namespace mpipc {

class Value;

// Python's bytes: raw octets, distinct from str.
struct Bytes {
  std::string data;
  bool operator==(const Bytes& other) const = default;
};

// Python's list.
using List = std::vector<Value>;

// Python's tuple: like a list, but a distinct kind (and hashable when its items are).
struct Tuple {
  std::vector<Value> items;

  Tuple() = default;
  Tuple(std::initializer_list<Value> items);  // NOLINT(google-explicit-constructor)
  explicit Tuple(std::vector<Value> items);
  bool operator==(const Tuple& other) const;
};

// Python's dict: keys unique under ==, kept in insertion order.
class Dict {
 public:
  using Item = std::pair<Value, Value>;
  using const_iterator = std::vector<Item>::const_iterator;

  Dict() = default;
  // Python's {k1: v1, k2: v2, ...}: a repeated key keeps its first position and its last value.
  // TypeError for an unhashable key.
  Dict(std::initializer_list<Item> items);  // NOLINT(google-explicit-constructor)
  explicit Dict(std::vector<Item> items);

  size_t size() const noexcept;
  bool empty() const noexcept;
  // The (key, value) pairs in insertion order.
  const std::vector<Item>& items() const noexcept { return items_; }
  const_iterator begin() const noexcept;
  const_iterator end() const noexcept;

  // The value of `key`, or nullptr (also for an unhashable key: it cannot be present).
  const Value* find(const Value& key) const;
  Value* find(const Value& key);
  bool contains(const Value& key) const;
  // d[key] = value: replaces the value of an equal key in place, else appends. Returns true when
  // the key was new. TypeError for an unhashable key.
  bool insert_or_assign(Value key, Value value);
  // Inserts only when no equal key is present; returns whether it inserted. TypeError for an
  // unhashable key.
  bool try_emplace(Value key, Value value);

  // Python's dict ==: same keys with equal values, order ignored.
  bool operator==(const Dict& other) const;

 private:
  // Position of the item whose key equals `key` (hash `h`), or npos.
  size_t position(const Value& key, uint64_t h) const;

  std::vector<Item> items_;
  std::unordered_multimap<uint64_t, size_t> index_;  // key hash -> position in items_
};

class Value {
 public:
  // In the order of the payload alternatives.
  enum class Kind { kNone, kBool, kInt, kFloat, kStr, kBytes, kList, kTuple, kDict };

  // The deepest nesting of containers (list, tuple, dict) the codec accepts: a list holding a list
  // ... 64 levels deep is fine, 65 is not.
  static constexpr int kMaxDepth = 64;

  Value() noexcept = default;
  Value(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)
  template <std::same_as<bool> B>
  Value(B b) noexcept : v_(static_cast<bool>(b)) {}  // NOLINT(google-explicit-constructor)
  template <std::integral I>
  requires(!std::same_as<I, bool> && !std::same_as<I, char> && !std::same_as<I, wchar_t> &&
           !std::same_as<I, char8_t> && !std::same_as<I, char16_t> && !std::same_as<I, char32_t>)
      Value(I i)  // NOLINT(google-explicit-constructor)
      : v_(CheckedInt(i)) {}
  template <std::floating_point F>
  Value(F f) noexcept : v_(static_cast<double>(f)) {}  // NOLINT(google-explicit-constructor)
  Value(const char* s);                                // NOLINT(google-explicit-constructor)
  Value(std::string s);                                // NOLINT(google-explicit-constructor)
  Value(std::string_view s);                           // NOLINT(google-explicit-constructor)
  Value(Bytes b) noexcept : v_(std::move(b)) {}        // NOLINT(google-explicit-constructor)
  Value(List l) noexcept : v_(std::move(l)) {}         // NOLINT(google-explicit-constructor)
  Value(Tuple t) noexcept : v_(std::move(t)) {}        // NOLINT(google-explicit-constructor)
  Value(Dict d) noexcept : v_(std::move(d)) {}         // NOLINT(google-explicit-constructor)

  Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
  // "NoneType", "bool", "int", "float", "str", "bytes", "list", "tuple" or "dict".
  std::string_view type_name() const noexcept;

  bool is_none() const noexcept { return kind() == Kind::kNone; }
  bool is_bool() const noexcept { return kind() == Kind::kBool; }
  bool is_int() const noexcept { return kind() == Kind::kInt; }
  bool is_float() const noexcept { return kind() == Kind::kFloat; }
  bool is_str() const noexcept { return kind() == Kind::kStr; }
  bool is_bytes() const noexcept { return kind() == Kind::kBytes; }
  bool is_list() const noexcept { return kind() == Kind::kList; }
  bool is_tuple() const noexcept { return kind() == Kind::kTuple; }
  bool is_dict() const noexcept { return kind() == Kind::kDict; }

  // The payload; TypeError for another kind. A str is read-only (it must stay valid UTF-8).
  bool as_bool() const;
  int64_t as_int() const;
  double as_float() const;
  const std::string& as_str() const;
  const Bytes& as_bytes() const;
  Bytes& as_bytes();
  const List& as_list() const;
  List& as_list();
  const Tuple& as_tuple() const;
  Tuple& as_tuple();
  const Dict& as_dict() const;
  Dict& as_dict();

  // Python's repr(), see above.
  std::string repr() const;

  // Python's ==, see above.
  bool operator==(const Value& other) const;

 private:
  friend class boost::serialization::access;

  template <std::integral I>
  static int64_t CheckedInt(I i) {
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= sizeof(int64_t)) {
      if (i > static_cast<I>(std::numeric_limits<int64_t>::max())) {
        throw ValueError("int too large for a Value: " + std::to_string(i));
      }
    }
    return static_cast<int64_t>(i);
  }
  [[noreturn]] void wrong_kind(Kind expected) const;
  // The payload of type T, or TypeError naming the kind expected (the as_*() accessors).
  template <typename T>
  const T& checked() const;
  template <typename T>
  T& checked() {
    return const_cast<T&>(std::as_const(*this).checked<T>());
  }

  template <class Archive>
  void save(Archive& ar, unsigned /*version*/) const;
  template <class Archive>
  void load(Archive& ar, unsigned /*version*/);
  BOOST_SERIALIZATION_SPLIT_MEMBER()

  std::variant<std::monostate, bool, int64_t, double, std::string, Bytes, List, Tuple, Dict> v_;
};

// Defined here, where Value is complete (std::pair<Value, Value> needs it).
inline size_t Dict::size() const noexcept { return items_.size(); }
inline bool Dict::empty() const noexcept { return items_.empty(); }
inline Dict::const_iterator Dict::begin() const noexcept { return items_.begin(); }
inline Dict::const_iterator Dict::end() const noexcept { return items_.end(); }
inline bool Dict::contains(const Value& key) const { return find(key) != nullptr; }

// Prints v.repr().
std::ostream& operator<<(std::ostream& os, const Value& v);

// The codec described above. EncodeValue throws SerializationError for a value nested deeper
// than Value::kMaxDepth; DecodeValue throws SerializationError for any input that is not exactly
// one encoded value.
std::string EncodeValue(const Value& value);
Value DecodeValue(std::string_view bytes);

template <class Archive>
void Value::save(Archive& ar, unsigned /*version*/) const {
  const std::string encoded = EncodeValue(*this);
  ar << encoded;
}

template <class Archive>
void Value::load(Archive& ar, unsigned /*version*/) {
  std::string encoded;
  ar >> encoded;
  *this = DecodeValue(encoded);
}

}  // namespace mpipc

#endif  // MPIPC_VALUE_H_
