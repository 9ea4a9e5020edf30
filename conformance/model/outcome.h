// mpipc::model::Outcome<R> and Error: what one operation of a conformance model predicts.
//
// The models (queue_model.h, connection_model.h) are pure, deterministic, single-threaded
// descriptions of the documented sequential semantics of Python's multiprocessing IPC objects
// (/work/shared/semantics.md, spec/clauses/*.json). Each operation returns an Outcome<R>:
//
//   value        the call returns normally with `value()` (R = None for calls returning None);
//   error        the call raises `error()`: a Python exception name, args[0] or no args, and how
//                the message is compared (exact text or a regex, as the clause files say);
//   would-block  in a single-threaded world the call would block for ever (e.g. get() on an empty
//                queue with no timeout). A driver that sees this outcome predicted should not issue
//                the call; the model's state is unchanged by it.
//
// Exactness. Most outcomes are exact: the implementation must produce exactly that outcome. Some
// are relaxations, where CPython's observable behaviour depends on timing (a feeder thread, a
// close racing with a flush): then `exact()` is false and `alternatives()` lists every other
// outcome that conforms. `Accepts(actual)` checks an observed outcome against all of them. When
// an alternative was observed, the model that produced the outcome must be told through its
// Reconcile() so that its state follows what really happened.
//
// Thread-safety: plain values; no shared state. Header-only, std only, C++20.

#ifndef MPIPC_CONFORMANCE_MODEL_OUTCOME_H_
#define MPIPC_CONFORMANCE_MODEL_OUTCOME_H_

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mpipc::model {

// The result of a call that returns None in Python.
struct None {
  friend bool operator==(const None&, const None&) = default;
};

// How Error::message is compared with an observed message.
enum class MessageMatch {
  kExact,  // equal text; a nullopt message means "raised with no args"
  kRegex,  // std::regex_search with an ECMAScript pattern anchored by ^...$ where needed
};

// A Python exception as the models predict it.
struct Error {
  std::string type;                    // Python class name: "ValueError", "OSError", "Empty", ...
  std::optional<std::string> message;  // args[0]; nullopt for no args (Empty(), Full(), EOFError())
  MessageMatch match = MessageMatch::kExact;
  std::optional<int> errnum;  // OSError subclasses with an errno (BrokenPipeError: 32)

  // True iff an exception of `actual_type` with `actual_message` (nullopt: no args) conforms.
  // The errno is not compared here: a driver that reports it compares it separately.
  bool Matches(std::string_view actual_type,
               const std::optional<std::string>& actual_message) const {
    if (actual_type != type) return false;
    if (match == MessageMatch::kExact) return actual_message == message;
    if (!actual_message || !message) return false;
    return std::regex_search(*actual_message, Compiled(*message));
  }

  // The compiled form of `pattern`, cached per thread: the models use a handful of patterns and
  // compiling a std::regex costs far more than matching one.
  static const std::regex& Compiled(const std::string& pattern) {
    thread_local std::map<std::string, std::regex, std::less<>> cache;
    auto it = cache.find(pattern);
    if (it == cache.end()) it = cache.emplace(pattern, std::regex(pattern)).first;
    return it->second;
  }

  friend bool operator==(const Error& a, const Error& b) {
    return a.type == b.type && a.message == b.message && a.match == b.match && a.errnum == b.errnum;
  }
};

inline Error MakeError(std::string type, std::optional<std::string> message = std::nullopt) {
  return Error{std::move(type), std::move(message), MessageMatch::kExact, std::nullopt};
}

inline Error MakeRegexError(std::string type, std::string pattern) {
  return Error{std::move(type), std::move(pattern), MessageMatch::kRegex, std::nullopt};
}

enum class OutcomeKind { kValue, kError, kWouldBlock };

template <typename R>
class Outcome {
 public:
  static Outcome Value(R value) {
    Outcome o(OutcomeKind::kValue);
    o.value_ = std::move(value);
    return o;
  }
  static Outcome Raise(Error error) {
    Outcome o(OutcomeKind::kError);
    o.error_ = std::move(error);
    return o;
  }
  static Outcome WouldBlock() { return Outcome(OutcomeKind::kWouldBlock); }

  OutcomeKind kind() const { return kind_; }
  bool is_value() const { return kind_ == OutcomeKind::kValue; }
  bool is_error() const { return kind_ == OutcomeKind::kError; }
  bool would_block() const { return kind_ == OutcomeKind::kWouldBlock; }
  // Precondition: is_value() / is_error() respectively.
  const R& value() const { return *value_; }
  const Error& error() const { return *error_; }

  // True when this is the only conforming outcome.
  bool exact() const { return alternatives_.empty(); }
  const std::vector<Outcome>& alternatives() const { return alternatives_; }
  Outcome& Allow(Outcome alternative) {
    alternatives_.push_back(std::move(alternative));
    return *this;
  }

  // True iff `actual` (an exact observed outcome: a value, an error with its type and message,
  // or would-block for a call that timed out as a test harness saw it) is this outcome or one
  // of its alternatives. Errors compare by Error::Matches (the expected side's match mode).
  bool Accepts(const Outcome& actual) const {
    if (SameAs(actual)) return true;
    for (const Outcome& alt : alternatives_) {
      if (alt.SameAs(actual)) return true;
    }
    return false;
  }

  // Equality of the primary outcome only (alternatives ignored), with exact message comparison.
  friend bool operator==(const Outcome& a, const Outcome& b) {
    return a.kind_ == b.kind_ && a.value_ == b.value_ && a.error_ == b.error_;
  }

 private:
  explicit Outcome(OutcomeKind kind) : kind_(kind) {}

  bool SameAs(const Outcome& actual) const {
    if (kind_ != actual.kind_) return false;
    switch (kind_) {
      case OutcomeKind::kValue:
        return *value_ == *actual.value_;
      case OutcomeKind::kError:
        return error_->Matches(actual.error_->type, actual.error_->message);
      case OutcomeKind::kWouldBlock:
        return true;
    }
    return false;
  }

  OutcomeKind kind_;
  std::optional<R> value_;
  std::optional<Error> error_;
  std::vector<Outcome> alternatives_;
};

// "ValueError('negative maxlength')", "Empty()", "would-block", "value" — for test messages.
inline std::string Describe(const Error& e) {
  std::ostringstream out;
  out << e.type << "(";
  if (e.errnum) out << *e.errnum << ", ";
  if (e.message)
    out << (e.match == MessageMatch::kRegex ? "/" : "'") << *e.message
        << (e.match == MessageMatch::kRegex ? "/" : "'");
  out << ")";
  return out.str();
}

template <typename R>
std::string Describe(const Outcome<R>& o) {
  switch (o.kind()) {
    case OutcomeKind::kValue:
      return "value";
    case OutcomeKind::kError:
      return Describe(o.error());
    case OutcomeKind::kWouldBlock:
      return "would-block";
  }
  return "?";
}

// The exception messages the models use, each exactly as CPython spells it.
namespace msg {
inline constexpr std::string_view kHandleClosed = "handle is closed";
inline constexpr std::string_view kReadOnly = "connection is read-only";
inline constexpr std::string_view kWriteOnly = "connection is write-only";
inline constexpr std::string_view kOffsetNegative = "offset is negative";
inline constexpr std::string_view kBufferLtOffset = "buffer length < offset";
inline constexpr std::string_view kSizeNegative = "size is negative";
inline constexpr std::string_view kBufferLtOffsetSize = "buffer length < offset + size";
inline constexpr std::string_view kNegativeMaxlength = "negative maxlength";
inline constexpr std::string_view kBadMessageLength = "bad message length";
inline constexpr std::string_view kNegativeOffset = "negative offset";
inline constexpr std::string_view kOffsetTooLarge = "offset too large";
inline constexpr std::string_view kBrokenPipe = "Broken pipe";
inline constexpr std::string_view kTaskDoneTooMany = "task_done() called too many times";
}  // namespace msg

}  // namespace mpipc::model

#endif  // MPIPC_CONFORMANCE_MODEL_OUTCOME_H_
