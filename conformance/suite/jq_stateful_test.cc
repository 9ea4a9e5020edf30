// Stateful model-based tests (RapidCheck): random sequences of calls on one Queue, JoinableQueue
// or SimpleQueue in one process, run against the pure model conformance/model/queue_model.h and
// against the target through the driver; every outcome must be one the model accepts. A failing
// sequence is shrunk to a minimal one, which is printed with each step and a reproduce line.
//
// The model's rules for driving it: a call it predicts would block is not issued; CPython's
// Queue/JoinableQueue run under Consistency::kEventual (an item may be invisible until the feeder
// flushed it, so get_nowait()/empty() may lag), and what was observed is fed back through
// ReconcileGet()/ReconcileEmpty(). Timed calls wait briefly when the model predicts Empty/Full
// and long enough for a feeder to flush when it predicts an item.
#include <rapidcheck.h>

#include <functional>
#include <sstream>

#include "fixture.h"
#include "property.h"
#include "queue_model.h"

namespace mpipc::conformance {
namespace {

using model::Outcome;
using model::QueueKind;
using model::QueueModel;

enum class Op {
  kPut,
  kPutNowait,
  kPutTimeout,
  kGet,
  kGetNowait,
  kGetTimeout,
  kQsize,
  kEmpty,
  kFull,
  kTaskDone,
  kJoin,
  kClose
};

const char* OpName(Op op) {
  switch (op) {
    case Op::kPut:
      return "put";
    case Op::kPutNowait:
      return "put_nowait";
    case Op::kPutTimeout:
      return "put(timeout)";
    case Op::kGet:
      return "get";
    case Op::kGetNowait:
      return "get_nowait";
    case Op::kGetTimeout:
      return "get(timeout)";
    case Op::kQsize:
      return "qsize";
    case Op::kEmpty:
      return "empty";
    case Op::kFull:
      return "full";
    case Op::kTaskDone:
      return "task_done";
    case Op::kJoin:
      return "join";
    case Op::kClose:
      return "close";
  }
  return "?";
}

// The generated command: only the operation; items are numbered in put order by the runner.
struct Cmd {
  Op op = Op::kQsize;
};
void showValue(const Cmd& c, std::ostream& os) { os << OpName(c.op); }

rc::Gen<Cmd> GenCmd(QueueKind kind) {
  rc::Gen<Op> op = [&] {
    switch (kind) {
      case QueueKind::kSimpleQueue:
        return rc::gen::weightedElement<Op>(
            {{6, Op::kPut}, {5, Op::kGet}, {3, Op::kEmpty}, {1, Op::kClose}});
      case QueueKind::kJoinableQueue:
        return rc::gen::weightedElement<Op>({{4, Op::kPut},
                                             {2, Op::kPutNowait},
                                             {2, Op::kPutTimeout},
                                             {2, Op::kGet},
                                             {2, Op::kGetNowait},
                                             {3, Op::kGetTimeout},
                                             {1, Op::kQsize},
                                             {2, Op::kEmpty},
                                             {1, Op::kFull},
                                             {4, Op::kTaskDone},
                                             {2, Op::kJoin},
                                             {1, Op::kClose}});
      case QueueKind::kQueue:
        break;
    }
    return rc::gen::weightedElement<Op>({{4, Op::kPut},
                                         {2, Op::kPutNowait},
                                         {2, Op::kPutTimeout},
                                         {2, Op::kGet},
                                         {2, Op::kGetNowait},
                                         {3, Op::kGetTimeout},
                                         {2, Op::kQsize},
                                         {2, Op::kEmpty},
                                         {2, Op::kFull},
                                         {1, Op::kClose}});
  }();
  return rc::gen::map(op, [](Op o) { return Cmd{o}; });
}

class StatefulQueueTest : public ConformanceTest {
 protected:
  void CheckAgainstModel(QueueKind kind);

 private:
  // One call through the driver, in main; nullopt when the driver failed (then `broken_` holds
  // the request, and every later property run passes at once).
  std::optional<Response> Call(const std::string& method, Args args = {},
                               Json kwargs = Json::object(), double deadline = -1);
  std::optional<Driver::Pending> broken_;
  std::string broken_why_;
  // The trace of the first failing run. RapidCheck re-runs a case to describe it, so with a
  // failure that depends on timing its final report may come from a run that passed.
  std::string first_failure_;
};

std::optional<Response> StatefulQueueTest::Call(const std::string& method, Args args, Json kwargs,
                                                double deadline) {
  Driver::Pending p;
  try {
    p = driver().Send({{"op", "call"},
                       {"actor", "main"},
                       {"target", "mq"},
                       {"method", method},
                       {"args", std::move(args).Take()},
                       {"kwargs", std::move(kwargs)}});
    if (deadline >= 0 && !p.ArrivesWithin(deadline)) {
      Response blocked;
      blocked.error.type = "(still blocked after " + std::to_string(deadline) + " s)";
      return blocked;
    }
    return p.Wait(session().limit());
  } catch (const std::exception& e) {
    if (!broken_ && p.valid()) broken_ = p;
    broken_why_ = e.what();
    return std::nullopt;
  }
}

// The observed outcome of a response, converted with `value` (which throws on a wrong shape).
template <typename R>
Outcome<R> Observed(const Response& r, const std::function<R(const Json&)>& value) {
  if (!r.ok) return Outcome<R>::Raise(model::MakeError(r.error.type, r.error.message));
  return Outcome<R>::Value(value(r.result));
}

std::string Show(const Json& v) { return v.dump(); }
std::string Show(bool v) { return v ? "True" : "False"; }
std::string Show(int64_t v) { return std::to_string(v); }
std::string Show(model::None) { return "None"; }

template <typename R>
std::string ShowOutcome(const Outcome<R>& o) {
  if (o.is_value()) return Show(o.value());
  return model::Describe(o);
}

template <typename R>
std::string ShowExpected(const Outcome<R>& o) {
  std::string s = ShowOutcome(o);
  for (const auto& alt : o.alternatives()) s += " | " + ShowOutcome(alt);
  return s;
}

void StatefulQueueTest::CheckAgainstModel(QueueKind kind) {
  const bool eventual = IsPython() && kind != QueueKind::kSimpleQueue;
  const std::string kind_name = model::QueueClassName(kind);
  const double long_wait = 2.0 + tolerance();

  auto property = [&] {
    if (broken_) return;  // the driver failed in an earlier run: reported after rc::check
    const int maxsize = kind == QueueKind::kSimpleQueue ? 0 : *rc::gen::inRange(0, 4);
    const std::vector<Cmd> cmds = *rc::gen::container<std::vector<Cmd>>(GenCmd(kind));

    QueueModel<Json> m(kind, maxsize,
                       eventual ? model::Consistency::kEventual : model::Consistency::kSynchronous);
    const Json create_kwargs =
        kind == QueueKind::kSimpleQueue ? Json::object() : Json{{"maxsize", maxsize}};
    const Response created = TryCreate(kind_name, "mq", Json::array(), create_kwargs);
    RC_ASSERT(created.ok);

    std::ostringstream trace;
    trace << kind_name << "(maxsize=" << maxsize << ")" << (eventual ? ", eventual" : "") << "\n";
    int64_t next_item = 0;
    bool failed = false;

    // Runs one call whose model outcome is `expected`; `reconcile` feeds the observation back.
    auto step = [&]<typename R>(
                    const std::string& label, const Outcome<R>& expected, const std::string& method,
                    Args args, Json kwargs, const std::function<R(const Json&)>& value,
                    const std::function<bool(const Outcome<R>&)>& reconcile, double deadline) {
      trace << "  " << label << " -> ";
      std::optional<Response> r = Call(method, std::move(args), std::move(kwargs), deadline);
      if (!r) {
        trace << "driver failed: " << broken_why_ << "\n";
        failed = true;
        return;
      }
      Outcome<R> actual = Outcome<R>::WouldBlock();
      try {
        actual = Observed<R>(*r, value);
      } catch (const std::exception&) {
        trace << "unexpected result " << r->result.dump() << "  [model: " << ShowExpected(expected)
              << "]\n";
        failed = true;
        return;
      }
      trace << ShowOutcome(actual);
      const bool ok = reconcile ? reconcile(actual) : expected.Accepts(actual);
      if (!ok) {
        trace << "   <-- model: " << ShowExpected(expected);
        failed = true;
      }
      trace << "\n";
    };
    const std::function<model::None(const Json&)> as_none = [](const Json& v) {
      if (!v.is_null()) throw std::invalid_argument("not None");
      return model::None{};
    };
    const std::function<Json(const Json&)> as_item = [](const Json& v) { return v; };
    const std::function<bool(const Json&)> as_bool = [](const Json& v) { return v.get<bool>(); };
    const std::function<int64_t(const Json&)> as_int = [](const Json& v) {
      return v.get<int64_t>();
    };
    const std::function<bool(const Outcome<model::None>&)> no_reconcile_none;
    const std::function<bool(const Outcome<Json>&)> reconcile_get = [&m](const Outcome<Json>& a) {
      return m.ReconcileGet(a);
    };
    // Debian's multiprocess 0.70.12.2 closes the reader in close() itself (Q-CLOSE-EMPTY.unused
    // and MP-SAME-LOGIC notes; the model describes CPython 3.9+). So empty() raises
    // OSError('handle is closed') on any closed queue, used or not; and the feeder's flush after
    // close() fails with EPIPE when this process held the only reader, which drops the items it
    // still buffered and gives their slots back: qsize() may fall and full() turn False.
    const bool reader_closed_by_close = session().implementation() == "multiprocess";
    const std::function<bool(const Outcome<bool>&)> reconcile_empty =
        [&m, reader_closed_by_close](const Outcome<bool>& a) {
          if (m.ReconcileEmpty(a)) return true;
          return reader_closed_by_close && m.closed() && a.is_error() &&
                 a.error().type == "OSError" && a.error().message == "handle is closed";
        };
    const std::function<bool(const Outcome<int64_t>&)> reconcile_qsize =
        [&m, reader_closed_by_close](const Outcome<int64_t>& a) {
          if (m.qsize().Accepts(a)) return true;
          return reader_closed_by_close && m.closed() && a.is_value() && a.value() >= 0 &&
                 a.value() <= m.qsize().value();
        };
    const std::function<bool(const Outcome<bool>&)> reconcile_full =
        [&m, reader_closed_by_close](const Outcome<bool>& a) {
          if (m.full().Accepts(a)) return true;
          return reader_closed_by_close && m.closed() && a.is_value() && !a.value();
        };

    for (const Cmd& c : cmds) {
      if (failed || broken_) break;
      const bool has_room = static_cast<int64_t>(m.items().size()) < m.maxsize();
      switch (c.op) {
        case Op::kPut:
        case Op::kPutNowait:
        case Op::kPutTimeout: {
          const Json item = next_item;
          Outcome<model::None> e = c.op == Op::kPutNowait ? m.put_nowait(item)
                                   : c.op == Op::kPutTimeout
                                       ? m.put(item, true, has_room ? 1.0 : 0.02)
                                       : m.put(item);
          if (e.would_block()) break;  // put() on a full queue: not issued
          ++next_item;
          Json kwargs = Json::object();
          if (c.op == Op::kPutTimeout) kwargs["timeout"] = has_room ? 1.0 : 0.02;
          const std::string method = c.op == Op::kPutNowait ? "put_nowait" : "put";
          step(std::string(OpName(c.op)) + "(" + item.dump() + ")", e, method, Json::array({item}),
               kwargs, as_none, no_reconcile_none, long_wait);
          break;
        }
        case Op::kGet:
        case Op::kGetNowait:
        case Op::kGetTimeout: {
          const double t = m.items().empty() ? 0.02 : long_wait;
          Outcome<Json> e = c.op == Op::kGetNowait    ? m.get_nowait()
                            : c.op == Op::kGetTimeout ? m.get(true, t)
                                                      : m.get();
          if (e.would_block()) {
            m.ReconcileGet(e);  // restores nothing: the model did not pop
            break;
          }
          Json kwargs = Json::object();
          if (c.op == Op::kGetTimeout) kwargs["timeout"] = t;
          step(OpName(c.op), e, c.op == Op::kGetNowait ? "get_nowait" : "get", Json::array(),
               kwargs, as_item, reconcile_get, long_wait + t);
          break;
        }
        case Op::kQsize:
          step("qsize", m.qsize(), "qsize", Json::array(), Json::object(), as_int, reconcile_qsize,
               long_wait);
          break;
        case Op::kFull:
          step("full", m.full(), "full", Json::array(), Json::object(), as_bool, reconcile_full,
               long_wait);
          break;
        case Op::kEmpty:
          step("empty", m.empty(), "empty", Json::array(), Json::object(), as_bool, reconcile_empty,
               long_wait);
          break;
        case Op::kTaskDone:
          step("task_done", m.task_done(), "task_done", Json::array(), Json::object(), as_none,
               no_reconcile_none, long_wait);
          break;
        case Op::kJoin: {
          Outcome<model::None> e = m.join();
          if (e.would_block()) break;  // unfinished tasks: not issued
          step("join", e, "join", Json::array(), Json::object(), as_none, no_reconcile_none,
               long_wait);
          break;
        }
        case Op::kClose:
          step("close", m.close(), "close", Json::array(), Json::object(), as_none,
               no_reconcile_none, long_wait);
          break;
      }
    }
    // Let the queue go (a CPython feeder flushes and exits); the next run rebinds the name.
    if (!broken_) Call("close", Json::array(), Json::object(), long_wait);
    if (broken_) return;  // reported after rc::check, as TIMEOUT/CRASH
    if (failed && first_failure_.empty()) first_failure_ = trace.str();
    if (failed) RC_FAIL(trace.str());
  };

  const PropertyOptions options{
      .max_success = IsPython() ? 30 : 40,
      .max_size = 40,
      .seed = seed() ^ (static_cast<uint64_t>(kind) * 0x9E3779B97F4A7C15ULL)};
  const ::testing::AssertionResult holds =
      CheckProperty(::testing::UnitTest::GetInstance()->current_test_info()->name(), options,
                    std::function<void()>(property));
  if (broken_) Wait(*broken_, 0);  // re-raises the driver's timeout or crash
  EXPECT_TRUE(holds) << "\nfirst failing run:\n" << first_failure_;
}

CONFORMANCE_TEST(StatefulQueueTest, QueueFollowsTheModel,
                 "Q-PUT Q-GET Q-PUT-FULL-NB Q-GET-EMPTY-NB Q-QSIZE Q-FULL Q-PUT-CLOSED "
                 "Q-GET-CLOSED") {
  CheckAgainstModel(QueueKind::kQueue);
}

CONFORMANCE_TEST(StatefulQueueTest, JoinableQueueFollowsTheModel,
                 "JQ-COUNT JQ-TOO-MANY JQ-JOIN-ZERO JQ-DECOUPLED JQ-CLOSED JQ-SUBCLASS") {
  CheckAgainstModel(QueueKind::kJoinableQueue);
}

CONFORMANCE_TEST(StatefulQueueTest, SimpleQueueFollowsTheModel, "SQ-ORDER SQ-EMPTY-SYNC SQ-CLOSE") {
  CheckAgainstModel(QueueKind::kSimpleQueue);
}

}  // namespace
}  // namespace mpipc::conformance
