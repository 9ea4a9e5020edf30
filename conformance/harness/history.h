// History: a recorded concurrent run of producers and consumers on one queue, and a pure checker
// of it in the style of Jepsen's queue checkers.
//
// Every item is a tuple (producer id, sequence number); producer p puts seq 0, 1, 2, ... in that
// order, each put waiting for the previous one's answer. A put is recorded with its outcome:
//   kAcknowledged   put() returned: the implementation took the item;
//   kIndeterminate  no answer (the producer was killed while the put was in flight): the item
//                   may or may not be delivered, either is fine;
//   kFailed         put() raised: the item must never be delivered.
// A get is recorded with the consumer that made it and the value it returned, in the order that
// consumer received them.
//
// Check() reports
//   lost         acknowledged items never got (only when the queue was drained, and not for
//                producers whose acknowledged items may be lost, e.g. a SIGKILLed producer whose
//                buffer died with it — those must lose a suffix only, see `gaps`);
//   gaps         for such a lossy producer: an item not got while a later item of the same
//                producer was got (a loss that is not a suffix);
//   duplicated   items got more than once (a queue never duplicates);
//   unexpected   values never put (or put and failed), or not a (producer, seq) tuple at all;
//   order        per consumer and producer, a seq got after a higher seq of the same producer
//                (each consumer must see every producer's items in put order, Q-FIFO-PRODUCER).
//
// Thread-safety: History's Record* methods may be called from any thread (one mutex); Check()
// takes a snapshot. Check() itself is a pure function.
#ifndef MPIPC_CONFORMANCE_HARNESS_HISTORY_H_
#define MPIPC_CONFORMANCE_HARNESS_HISTORY_H_

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mpipc::conformance::history {

using Json = nlohmann::json;

struct Item {
  int64_t producer = 0;
  int64_t seq = 0;
  friend auto operator<=>(const Item&, const Item&) = default;
};
std::string ToString(const Item& item);

// The driver-protocol value of an item: {"$tuple": [producer, seq]}.
Json ItemValue(const Item& item);
// The item an observed value encodes, or nullopt if it is not a 2-tuple of ints.
std::optional<Item> ParseItem(const Json& value);

enum class PutStatus { kAcknowledged, kIndeterminate, kFailed };

struct PutEvent {
  Item item;
  PutStatus status = PutStatus::kAcknowledged;
};

struct GetEvent {
  std::string consumer;
  Json value;  // as received
};

// A history under construction (thread-safe appends).
class History {
 public:
  void RecordPut(const Item& item, PutStatus status);
  void RecordGet(const std::string& consumer, const Json& value);
  std::vector<PutEvent> puts() const;
  std::vector<GetEvent> gets() const;
  size_t get_count() const;

 private:
  mutable std::mutex mu_;
  std::vector<PutEvent> puts_;
  std::vector<GetEvent> gets_;
};

struct CheckOptions {
  // The queue was drained at the end: every acknowledged item should have been got.
  bool drained = true;
  // Producers whose acknowledged items may be missing, as a suffix of their sequence only.
  std::set<int64_t> lossy_producers;
  // Whether `lost` is reported for producers not in lossy_producers (false: the run cannot
  // promise delivery at all, e.g. CPython after a kill, Q-KILL; gaps, duplicates, unexpected
  // values and order are still checked).
  bool survivors_must_arrive = true;
};

struct OrderViolation {
  std::string consumer;
  Item earlier;  // got first
  Item later;    // got after `earlier`, with a lower seq of the same producer
};

struct Report {
  std::vector<Item> lost;
  std::vector<Item> gaps;
  std::vector<Item> duplicated;
  std::vector<std::string> unexpected;  // the values, as JSON text
  std::vector<OrderViolation> order;
  int64_t attempted = 0;     // puts recorded
  int64_t acknowledged = 0;  // puts that returned
  int64_t received = 0;      // gets recorded
  int64_t distinct = 0;      // distinct expected items got

  bool ok() const {
    return lost.empty() && gaps.empty() && duplicated.empty() && unexpected.empty() &&
           order.empty();
  }
  // One paragraph: the counts, then at most `max_each` examples of each defect class.
  std::string Summary(size_t max_each = 8) const;
};

Report Check(const std::vector<PutEvent>& puts, const std::vector<GetEvent>& gets,
             const CheckOptions& options = {});
inline Report Check(const History& h, const CheckOptions& options = {}) {
  return Check(h.puts(), h.gets(), options);
}

}  // namespace mpipc::conformance::history

#endif  // MPIPC_CONFORMANCE_HARNESS_HISTORY_H_
