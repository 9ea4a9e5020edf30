// Tests of the conformance models against the clauses they encode (semantics.md §1.A–1.L).

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "connection_model.h"
#include "queue_model.h"

namespace mpipc::model {
namespace {

using Bytes = std::string;

template <typename R>
bool Raised(const Outcome<R>& o, const std::string& type, const std::optional<std::string>& m) {
  return o.is_error() && o.error().Matches(type, m);
}

// --- Queue --------------------------------------------------------------------------------

TEST(QueueModel, FifoFullEmptyAndWouldBlock) {
  QueueModel<std::string> q(QueueKind::kQueue, 2);
  EXPECT_TRUE(q.put("a").is_value());
  EXPECT_TRUE(q.put("b", true, 0.5).is_value());
  EXPECT_EQ(q.qsize().value(), 2);
  EXPECT_TRUE(q.full().value());
  EXPECT_TRUE(Raised(q.put_nowait("c"), "Full", std::nullopt));
  EXPECT_TRUE(Raised(q.put("c", false, 5.0), "Full", std::nullopt));  // timeout ignored
  EXPECT_TRUE(Raised(q.put("c", true, -1.0), "Full", std::nullopt));  // Q-PUT-ZERO-NEG
  EXPECT_TRUE(q.put("c").would_block());
  EXPECT_EQ(q.qsize().value(), 2);  // would-block changed nothing
  EXPECT_EQ(q.get().value(), "a");
  EXPECT_EQ(q.get_nowait().value(), "b");
  EXPECT_TRUE(q.empty().value());
  EXPECT_TRUE(Raised(q.get_nowait(), "Empty", std::nullopt));
  EXPECT_TRUE(Raised(q.get(true, 0.0), "Empty", std::nullopt));
  EXPECT_TRUE(q.get().would_block());
  EXPECT_TRUE(q.get().exact());
}

TEST(QueueModel, UnboundedIsNeverFull) {
  QueueModel<int> q(QueueKind::kQueue, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.put_nowait(i).is_value());
  EXPECT_FALSE(q.full().value());
  EXPECT_EQ(q.maxsize(), QueueModel<int>::kSemValueMax);
  EXPECT_TRUE(Raised(QueueModel<int>::CheckMaxsize(int64_t{1} << 31), "OverflowError",
                     "Python int too large to convert to C int"));
}

TEST(QueueModel, ClosedQueueMessagesNameTheClass) {
  QueueModel<int> q(QueueKind::kQueue, 0);
  EXPECT_TRUE(Raised(q.join_thread(), "AssertionError",
                     "Queue <multiprocessing.queues.Queue object at 0x7f12ab> not closed"));
  ASSERT_TRUE(q.put(1).is_value());
  ASSERT_TRUE(q.close().is_value());
  ASSERT_TRUE(q.close().is_value());  // idempotent
  const Outcome<None> put = q.put(2);
  EXPECT_TRUE(Raised(put, "ValueError", "Queue <mpipc::Queue object at 0x55d0aa> is closed"));
  EXPECT_TRUE(
      Raised(put, "ValueError", "Queue <multiprocessing.queues.Queue object at 0x7f00> is closed"));
  EXPECT_FALSE(Raised(put, "ValueError", "Queue <mpipc::JoinableQueue object at 0x1> is closed"));
  EXPECT_FALSE(Raised(put, "ValueError", "Queue <mpipc::Queue object at 0x1> is closed!"));
  EXPECT_TRUE(Raised(q.get_nowait(), "ValueError", "Queue <q.Queue object at 0xab> is closed"));
  EXPECT_EQ(q.qsize().value(), 1);  // Q-CLOSE-EMPTY.qsize-full
  EXPECT_TRUE(q.join_thread().is_value());
  // A used queue may answer empty() or raise once its reader is closed.
  const Outcome<bool> empty = q.empty();
  EXPECT_FALSE(empty.exact());
  EXPECT_TRUE(empty.Accepts(Outcome<bool>::Value(false)));
  EXPECT_TRUE(empty.Accepts(Outcome<bool>::Raise(MakeError("OSError", "handle is closed"))));
  EXPECT_FALSE(empty.Accepts(Outcome<bool>::Raise(MakeError("OSError", "other"))));
  QueueModel<int> unused(QueueKind::kQueue, 0);
  ASSERT_TRUE(unused.close().is_value());
  EXPECT_TRUE(unused.empty().exact());
  EXPECT_TRUE(unused.empty().value());
}

TEST(QueueModel, JoinableCountsTasks) {
  QueueModel<int> q(QueueKind::kJoinableQueue, 0);
  EXPECT_TRUE(Raised(q.task_done(), "ValueError", "task_done() called too many times"));
  EXPECT_TRUE(q.join().is_value());
  ASSERT_TRUE(q.put(1).is_value());
  ASSERT_TRUE(q.put(2).is_value());
  EXPECT_TRUE(q.join().would_block());
  EXPECT_TRUE(q.task_done().is_value());  // JQ-DECOUPLED: nothing was got
  ASSERT_TRUE(q.close().is_value());
  EXPECT_TRUE(q.task_done().is_value());  // JQ-CLOSED
  EXPECT_TRUE(q.join().is_value());
  EXPECT_TRUE(Raised(q.task_done(), "ValueError", "task_done() called too many times"));
  EXPECT_TRUE(Raised(q.put(3), "ValueError", "Queue <x.JoinableQueue object at 0x1f> is closed"));
  EXPECT_FALSE(Raised(q.put(3), "ValueError", "Queue <x.Queue object at 0x1f> is closed"));
  QueueModel<int> plain(QueueKind::kQueue, 0);
  EXPECT_TRUE(
      Raised(plain.task_done(), "AttributeError", "'Queue' object has no attribute 'task_done'"));
}

TEST(QueueModel, SimpleQueue) {
  QueueModel<int> q(QueueKind::kSimpleQueue, 3);
  EXPECT_TRUE(q.empty().value());
  EXPECT_TRUE(q.get().would_block());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.put(i).is_value());  // maxsize ignored
  EXPECT_FALSE(q.empty().value());
  EXPECT_EQ(q.get().value(), 0);
  EXPECT_TRUE(Raised(q.put_nowait(1), "AttributeError",
                     "'SimpleQueue' object has no attribute 'put_nowait'"));
  EXPECT_TRUE(Raised(q.qsize(), "AttributeError", "'SimpleQueue' object has no attribute 'qsize'"));
  EXPECT_TRUE(Raised(q.get(false), "TypeError",
                     "SimpleQueue.get() takes 1 positional argument but 2 were given"));
  ASSERT_TRUE(q.close().is_value());
  EXPECT_TRUE(Raised(q.empty(), "OSError", "handle is closed"));
  EXPECT_TRUE(Raised(q.get(), "OSError", "handle is closed"));
  EXPECT_TRUE(Raised(q.put(9), "OSError", "handle is closed"));
}

TEST(QueueModel, EventualConsistencyAllowsAnUnflushedItemToBeInvisible) {
  QueueModel<int> q(QueueKind::kQueue, 0, Consistency::kEventual);
  ASSERT_TRUE(q.put(1).is_value());
  ASSERT_TRUE(q.put(2).is_value());
  EXPECT_EQ(q.qsize().value(), 2);  // counted at put time even in CPython
  const Outcome<bool> e = q.empty();
  EXPECT_FALSE(e.exact());
  EXPECT_TRUE(q.ReconcileEmpty(Outcome<bool>::Value(true)));
  const Outcome<int> g = q.get_nowait();
  EXPECT_EQ(g.value(), 1);
  EXPECT_TRUE(g.Accepts(Outcome<int>::Raise(MakeError("Empty"))));
  EXPECT_FALSE(g.Accepts(Outcome<int>::Value(2)));
  ASSERT_TRUE(q.ReconcileGet(Outcome<int>::Raise(MakeError("Empty"))));
  EXPECT_EQ(q.qsize().value(), 2);  // the item went back
  ASSERT_TRUE(q.empty().is_value());
  ASSERT_TRUE(q.ReconcileEmpty(Outcome<bool>::Value(false)));
  const Outcome<int> g2 = q.get_nowait();  // empty() was False: the front item is there
  EXPECT_TRUE(g2.exact());
  EXPECT_EQ(g2.value(), 1);
  EXPECT_TRUE(q.ReconcileGet(g2));
  EXPECT_TRUE(q.get().exact());  // a blocking get waits for the feeder
  QueueModel<int> sync(QueueKind::kQueue, 0);
  ASSERT_TRUE(sync.put(1).is_value());
  EXPECT_TRUE(sync.empty().exact());
  const Outcome<int> sg = sync.get_nowait();
  EXPECT_TRUE(sg.exact());
  EXPECT_FALSE(sync.ReconcileGet(Outcome<int>::Raise(MakeError("Empty"))));
}

// --- Connection ---------------------------------------------------------------------------

TEST(ConnectionModel, SendBytesValidationOrder) {
  ConnectionModel p(true);
  const Bytes msg = "abcdefghijklmnopqrstuvwxyz";  // 26 bytes, as test_sendbytes
  EXPECT_TRUE(Raised(p.send_bytes(0, msg, 27), "ValueError", "buffer length < offset"));
  EXPECT_TRUE(Raised(p.send_bytes(0, msg, 22, 5), "ValueError", "buffer length < offset + size"));
  EXPECT_TRUE(Raised(p.send_bytes(0, msg, 26, 1), "ValueError", "buffer length < offset + size"));
  EXPECT_TRUE(Raised(p.send_bytes(0, msg, -1), "ValueError", "offset is negative"));
  EXPECT_TRUE(Raised(p.send_bytes(0, msg, 4, -1), "ValueError", "size is negative"));
  EXPECT_TRUE(Raised(p.send_bytes(0, msg, -1, -1), "ValueError", "offset is negative"));
  EXPECT_TRUE(Raised(p.send_bytes(0, msg, 27, -1), "ValueError", "buffer length < offset"));
  EXPECT_FALSE(p.poll(1).value());  // nothing written
  ASSERT_TRUE(p.send_bytes(0, msg, 26).is_value());
  ASSERT_TRUE(p.send_bytes(0, msg, 4, 3).is_value());
  ASSERT_TRUE(p.send_bytes(0, msg, 24).is_value());
  EXPECT_TRUE(p.poll(1).value());
  EXPECT_EQ(p.recv_bytes(1).value(), "");
  EXPECT_EQ(p.recv_bytes(1).value(), "efg");
  EXPECT_EQ(p.recv_bytes(1).value(), "yz");
  EXPECT_TRUE(p.recv_bytes(1).would_block());
  EXPECT_FALSE(p.poll(1).value());
}

TEST(ConnectionModel, OverlongMessageOnDuplexEndStopsReading) {
  ConnectionModel p(true);
  ASSERT_TRUE(p.send_bytes(1, "12345").is_value());
  EXPECT_TRUE(Raised(p.recv_bytes(0, -1), "ValueError", "negative maxlength"));
  EXPECT_TRUE(Raised(p.recv_bytes(0, 4), "OSError", "bad message length"));
  EXPECT_FALSE(p.readable(0));
  EXPECT_FALSE(p.closed(0));
  EXPECT_TRUE(Raised(p.recv_bytes(0), "OSError", "connection is write-only"));
  EXPECT_TRUE(Raised(p.poll(0), "OSError", "connection is write-only"));
  EXPECT_TRUE(p.send_bytes(0, "still writable").is_value());
  EXPECT_EQ(p.recv_bytes(1, 14).value(), "still writable");  // length == maxlength is fine
}

TEST(ConnectionModel, OverlongMessageOnSimplexReaderClosesIt) {
  ConnectionModel p(false);
  EXPECT_TRUE(Raised(p.send_bytes(0, "x"), "OSError", "connection is read-only"));
  EXPECT_TRUE(Raised(p.recv_bytes(1), "OSError", "connection is write-only"));
  EXPECT_TRUE(Raised(p.poll(1), "OSError", "connection is write-only"));
  ASSERT_TRUE(p.send_bytes(1, "").is_value());
  ASSERT_TRUE(p.send_bytes(1, "ab").is_value());
  EXPECT_EQ(p.recv_bytes(0, 0).value(), "");
  EXPECT_TRUE(Raised(p.recv_bytes(0, 1), "OSError", "bad message length"));
  EXPECT_TRUE(p.closed(0));
  EXPECT_TRUE(Raised(p.recv_bytes(0), "OSError", "handle is closed"));
  const Outcome<None> broken = p.send_bytes(1, "x");
  EXPECT_TRUE(Raised(broken, "BrokenPipeError", "Broken pipe"));
  EXPECT_EQ(broken.error().errnum, 32);
}

TEST(ConnectionModel, RecvBytesInto) {
  ConnectionModel p(true);
  ASSERT_TRUE(p.send_bytes(0, "abc").is_value());
  EXPECT_TRUE(Raised(p.recv_bytes_into(1, 8, -1), "ValueError", "negative offset"));
  EXPECT_TRUE(Raised(p.recv_bytes_into(1, 8, 9), "ValueError", "offset too large"));
  EXPECT_TRUE(p.poll(1).value());  // not consumed
  const Outcome<RecvIntoResult> ok = p.recv_bytes_into(1, Bytes("........"), 5);
  EXPECT_EQ(ok.value(), (RecvIntoResult{3, ".....abc"}));
  ASSERT_TRUE(p.send_bytes(0, "abcd").is_value());
  ASSERT_TRUE(p.send_bytes(0, "").is_value());
  EXPECT_TRUE(Raised(p.recv_bytes_into(1, 8, 5), "BufferTooShort", "abcd"));
  EXPECT_EQ(p.recv_bytes_into(1, 8, 8).value().nbytes, 0);  // offset == size fits b""
  EXPECT_TRUE(p.recv_bytes_into(1, 8, 0).would_block());
}

TEST(ConnectionModel, CloseEofAndCheckOrder) {
  ConnectionModel p(true);
  ASSERT_TRUE(p.send_bytes(0, "last").is_value());
  ASSERT_TRUE(p.close(0).is_value());
  ASSERT_TRUE(p.close(0).is_value());
  EXPECT_TRUE(p.readable(0));  // flags survive close
  EXPECT_TRUE(Raised(p.send_bytes(0, "x", -1), "OSError", "handle is closed"));
  EXPECT_TRUE(Raised(p.recv_bytes(0, -1), "OSError", "handle is closed"));
  EXPECT_TRUE(Raised(p.recv_bytes_into(0, 1, 99), "OSError", "handle is closed"));
  EXPECT_TRUE(Raised(p.poll(0), "OSError", "handle is closed"));
  EXPECT_TRUE(p.poll(1).value());
  EXPECT_EQ(p.recv_bytes(1).value(), "last");  // CONN-EOF-DRAIN
  EXPECT_TRUE(p.poll(1).value());              // CONN-POLL-EOF
  EXPECT_TRUE(Raised(p.recv_bytes(1), "EOFError", std::nullopt));
  EXPECT_TRUE(Raised(p.recv_bytes_into(1, 4, 0), "EOFError", std::nullopt));
  EXPECT_TRUE(Raised(p.send_bytes(1, "x"), "BrokenPipeError", "Broken pipe"));
  ConnectionModel s(false);
  ASSERT_TRUE(s.close(0).is_value());
  EXPECT_TRUE(Raised(s.send_bytes(0, "x"), "OSError", "handle is closed"));  // not read-only
}

TEST(ConnectionModel, ClosingWithUnreadDataResetsTheDuplexPeerOnce) {
  ConnectionModel p(true);
  ASSERT_TRUE(p.send_bytes(1, "unread").is_value());
  ASSERT_TRUE(p.send_bytes(0, "for 1").is_value());
  ASSERT_TRUE(p.close(0).is_value());
  EXPECT_EQ(p.recv_bytes(1).value(), "for 1");
  const Outcome<Bytes> reset = p.recv_bytes(1);
  EXPECT_TRUE(Raised(reset, "ConnectionResetError", "Connection reset by peer"));
  EXPECT_EQ(reset.error().errnum, 104);
  EXPECT_TRUE(reset.Accepts(Outcome<Bytes>::Raise(MakeError("EOFError"))));
  EXPECT_TRUE(p.recv_bytes(1).exact());
  EXPECT_TRUE(Raised(p.recv_bytes(1), "EOFError", std::nullopt));
  ConnectionModel s(false);  // a pipe has no reset
  ASSERT_TRUE(s.send_bytes(1, "unread").is_value());
  ASSERT_TRUE(s.close(0).is_value());
  EXPECT_TRUE(Raised(s.send_bytes(1, "x"), "BrokenPipeError", "Broken pipe"));
}

TEST(ConnectionModel, SendBeyondCapacityWouldBlock) {
  ConnectionModel p(true, 100);
  ASSERT_TRUE(p.send_bytes(0, Bytes(90, 'x')).is_value());
  EXPECT_TRUE(p.send_bytes(0, Bytes(10, 'y')).would_block());
  EXPECT_EQ(p.pending(1).size(), 1U);
  ASSERT_TRUE(p.send_bytes(1, Bytes(90, 'z')).is_value());  // the other direction is separate
  ASSERT_TRUE(p.recv_bytes(1).is_value());
  EXPECT_TRUE(p.send_bytes(0, Bytes(10, 'y')).is_value());
}

}  // namespace
}  // namespace mpipc::model
