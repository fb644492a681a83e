#include "waitless/async/sync.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"

namespace waitless {
namespace {

const std::error_code kCancelled = make_error_code(Error::cancelled);
const std::error_code kClosed = make_error_code(Error::closed);

void expect_loop_empty(Loop& loop) {
  EXPECT_EQ(loop.handle_count(), 0u);
  EXPECT_FALSE(loop.alive());
}

// Lets the loop run everything already queued (woken waiters resume as microtasks before a 0 ms timer).
Task<> yield() { (void)co_await sleep(0ms); }

// Starts `t` by hand, as spawn() does, but keeps ownership so the test can destroy it mid-wait.
template <typename T>
void start_owned(Task<T>& t) {
  auto h = t.handle();
  h.promise().started = true;
  h.promise().continuation = std::noop_coroutine();
  h.resume();
}

// ---- Mutex ----------------------------------------------------------------------------------------------

TEST(Mutex, MutualExclusion) {
  Loop loop;
  Mutex m;
  int inside = 0, max_inside = 0, rounds = 0;
  struct Worker {
    static Task<> run(Mutex* m, int* inside, int* max_inside, int* rounds) {
      for (int i = 0; i < 3; ++i) {
        auto lock = co_await m->lock();
        EXPECT_TRUE(lock.ok());
        ++*inside;
        *max_inside = std::max(*max_inside, *inside);
        (void)co_await sleep(1ms);  // hold the lock across a suspension
        --*inside;
        ++*rounds;
      }
    }
  };
  auto body = [&]() -> Task<> {
    std::vector<Task<>> workers;
    for (int i = 0; i < 5; ++i) workers.push_back(Worker::run(&m, &inside, &max_inside, &rounds));
    co_await when_all(std::move(workers));
  };
  run(body(), loop);
  EXPECT_EQ(max_inside, 1);
  EXPECT_EQ(rounds, 15);
  EXPECT_FALSE(m.locked());
  expect_loop_empty(loop);
}

TEST(Mutex, FifoHandOverWithoutBarging) {
  Loop loop;
  Mutex m;
  std::string order;
  struct Waiter {
    static Task<> run(Mutex* m, std::string* order, char name) {
      auto lock = co_await m->lock();
      *order += name;
    }
  };
  auto body = [&]() -> Task<> {
    auto held = m.try_lock();
    EXPECT_TRUE(held.has_value());
    for (char c : std::string("abcd")) spawn(Waiter::run(&m, &order, c));
    EXPECT_EQ(m.waiting(), 4u);
    held->unlock();
    // Handed to "a", not released: a newcomer cannot take it, and "a" has not run yet (no inline resume).
    EXPECT_TRUE(m.locked());
    EXPECT_FALSE(m.try_lock().has_value());
    EXPECT_EQ(order, "");
    co_await yield();
  };
  run(body(), loop);
  EXPECT_EQ(order, "abcd");
  EXPECT_FALSE(m.locked());
  expect_loop_empty(loop);
}

TEST(Mutex, CancelledWaiterLeavesTheQueue) {
  Loop loop;
  Mutex m;
  CancelSource source;
  std::error_code got;
  struct Waiter {
    static Task<> run(Mutex* m, std::error_code* got) {
      auto lock = co_await m->lock();
      *got = lock.error();
    }
  };
  auto body = [&]() -> Task<> {
    auto held = m.try_lock();
    spawn(Waiter::run(&m, &got), source.token());
    EXPECT_EQ(m.waiting(), 1u);
    source.cancel();
    EXPECT_EQ(m.waiting(), 0u);
    co_await yield();
    EXPECT_EQ(got, kCancelled);
    held->unlock();
    EXPECT_FALSE(m.locked());  // not handed to the cancelled waiter
  };
  run(body(), loop);
  expect_loop_empty(loop);
}

TEST(Mutex, DestroyedWhileHandedOverGivesItBack) {
  Loop loop;
  Mutex m;
  bool second_got_it = false;
  struct Waiter {
    static Task<> run(Mutex* m, bool* got) {
      auto lock = co_await m->lock();
      *got = lock.ok();
    }
  };
  auto body = [&]() -> Task<> {
    auto held = m.try_lock();
    bool first_got_it = false;
    auto first = Waiter::run(&m, &first_got_it);
    start_owned(first);
    spawn(Waiter::run(&m, &second_got_it));
    held->unlock();    // handed to `first`, whose resumption is queued
    first = Task<>();  // destroyed before it resumes: the lock goes to the next waiter
    co_await yield();
    EXPECT_FALSE(first_got_it);
  };
  run(body(), loop);
  EXPECT_TRUE(second_got_it);
  EXPECT_FALSE(m.locked());
  expect_loop_empty(loop);
}

TEST(Mutex, DestroyedWhileHandingOverClosesTheWaiters) {
  Loop loop;
  std::error_code a_ec, b_ec;
  struct Waiter {
    static Task<> run(Mutex* m, std::error_code* ec) {
      auto lock = co_await m->lock();
      *ec = lock.error();
    }
  };
  auto body = [&]() -> Task<> {
    auto m = std::make_unique<Mutex>();
    auto held = m->try_lock();
    spawn(Waiter::run(m.get(), &a_ec));
    spawn(Waiter::run(m.get(), &b_ec));
    held->unlock();  // handed to a, which has not resumed yet
    m.reset();       // a would get a guard to a dead mutex: it gets Error::closed instead
    co_await yield();
  };
  run(body(), loop);
  EXPECT_EQ(a_ec, kClosed);
  EXPECT_EQ(b_ec, kClosed);
  expect_loop_empty(loop);
}

// ---- Semaphore ------------------------------------------------------------------------------------------

TEST(Semaphore, LimitsConcurrency) {
  Loop loop;
  Semaphore slots(2);
  int active = 0, max_active = 0, done = 0;
  struct Job {
    static Task<> run(Semaphore* s, int* active, int* max_active, int* done) {
      EXPECT_FALSE(co_await s->acquire());
      ++*active;
      *max_active = std::max(*max_active, *active);
      (void)co_await sleep(2ms);
      --*active;
      ++*done;
      s->release();
    }
  };
  auto body = [&]() -> Task<> {
    std::vector<Task<>> jobs;
    for (int i = 0; i < 7; ++i) jobs.push_back(Job::run(&slots, &active, &max_active, &done));
    co_await when_all(std::move(jobs));
  };
  run(body(), loop);
  EXPECT_EQ(max_active, 2);
  EXPECT_EQ(done, 7);
  EXPECT_EQ(slots.available(), 2u);
  expect_loop_empty(loop);
}

struct Acquirer {
  static Task<> run(Semaphore* s, std::string* order, char name, std::error_code* ec = nullptr) {
    std::error_code e = co_await s->acquire();
    if (ec) *ec = e;
    if (!e) *order += name;
  }
};

TEST(Semaphore, FifoAndACancelledWaiterInTheMiddle) {
  Loop loop;
  Semaphore s(0);
  CancelSource source;
  std::string order;
  std::error_code b_ec;
  auto body = [&]() -> Task<> {
    spawn(Acquirer::run(&s, &order, 'a'));
    spawn(Acquirer::run(&s, &order, 'b', &b_ec), source.token());
    spawn(Acquirer::run(&s, &order, 'c'));
    EXPECT_EQ(s.waiting(), 3u);
    source.cancel();
    EXPECT_EQ(s.waiting(), 2u);
    s.release(3);
    EXPECT_EQ(s.available(), 1u);  // a and c got one each; none went to the cancelled b
    co_await yield();
  };
  run(body(), loop);
  EXPECT_EQ(order, "ac");
  EXPECT_EQ(b_ec, kCancelled);
  expect_loop_empty(loop);
}

TEST(Semaphore, CancelAfterHandOverKeepsThePermit) {
  Loop loop;
  Semaphore s(0);
  CancelSource source;
  std::string order;
  std::error_code ec = kClosed;
  auto body = [&]() -> Task<> {
    spawn(Acquirer::run(&s, &order, 'a', &ec), source.token());
    s.release();      // handed over, resumption queued
    source.cancel();  // too late: the wait has succeeded
    co_await yield();
  };
  run(body(), loop);
  EXPECT_FALSE(ec);
  EXPECT_EQ(order, "a");
  EXPECT_EQ(s.available(), 0u);
  expect_loop_empty(loop);
}

TEST(Semaphore, AlreadyCancelledTokenFailsEvenWithAFreePermit) {
  Loop loop;
  Semaphore s(1);
  CancelSource source;
  source.cancel();
  auto body = [&]() -> Task<std::error_code> { co_return co_await s.acquire(); };
  EXPECT_EQ(run(body().with_token(source.token()), loop), kCancelled);
  EXPECT_EQ(s.available(), 1u);
  expect_loop_empty(loop);
}

TEST(Semaphore, DestroyedWaitersUnlinkAndGiveBack) {
  Loop loop;
  Semaphore s(0);
  std::string order;
  auto body = [&]() -> Task<> {
    auto waiting = Acquirer::run(&s, &order, 'x');
    start_owned(waiting);
    auto woken = Acquirer::run(&s, &order, 'y');
    start_owned(woken);
    spawn(Acquirer::run(&s, &order, 'z'));
    EXPECT_EQ(s.waiting(), 3u);
    waiting = Task<>();  // destroyed while waiting: just leaves the queue
    EXPECT_EQ(s.waiting(), 2u);
    s.release();       // to y
    woken = Task<>();  // destroyed before resuming: its permit goes to z
    co_await yield();
  };
  run(body(), loop);
  EXPECT_EQ(order, "z");
  EXPECT_EQ(s.available(), 0u);
  expect_loop_empty(loop);
}

TEST(Semaphore, DestroyedWithWaitersClosesThem) {
  Loop loop;
  std::string order;
  std::error_code a_ec, b_ec;
  auto body = [&]() -> Task<> {
    auto s = std::make_unique<Semaphore>(0);
    spawn(Acquirer::run(s.get(), &order, 'a', &a_ec));
    spawn(Acquirer::run(s.get(), &order, 'b', &b_ec));
    s->release();  // a is handed a permit, not resumed yet
    s.reset();
    co_await yield();
  };
  run(body(), loop);
  EXPECT_EQ(a_ec, kClosed);
  EXPECT_EQ(b_ec, kClosed);
  EXPECT_EQ(order, "");
  expect_loop_empty(loop);
}

// ---- Event ----------------------------------------------------------------------------------------------

struct EventWaiter {
  static Task<> run(Event* e, int* woke, std::error_code* ec = nullptr) {
    std::error_code r = co_await e->wait();
    if (ec) *ec = r;
    if (!r) ++*woke;
  }
};

TEST(Event, SetWakesEveryWaiterAsMicrotasks) {
  Loop loop;
  Event e;
  int woke = 0;
  auto body = [&]() -> Task<> {
    for (int i = 0; i < 3; ++i) spawn(EventWaiter::run(&e, &woke));
    EXPECT_EQ(e.waiting(), 3u);
    e.set();
    EXPECT_EQ(woke, 0);  // not inline
    EXPECT_EQ(e.waiting(), 0u);
    co_await yield();
    EXPECT_EQ(woke, 3);
    EXPECT_FALSE(co_await e.wait());  // set: passes at once
    e.reset();
    spawn(EventWaiter::run(&e, &woke));
    EXPECT_EQ(e.waiting(), 1u);
    e.set();
    co_await yield();
  };
  run(body(), loop);
  EXPECT_EQ(woke, 4);
  expect_loop_empty(loop);
}

TEST(Event, ResetBeforeTheWaiterRunsDoesNotLoseTheWakeUp) {
  Loop loop;
  Event e;
  int woke = 0;
  auto body = [&]() -> Task<> {
    spawn(EventWaiter::run(&e, &woke));
    e.set();
    e.reset();
    co_await yield();
  };
  run(body(), loop);
  EXPECT_EQ(woke, 1);
  expect_loop_empty(loop);
}

TEST(Event, WaitIsCancellable) {
  Loop loop;
  Event e;
  int woke = 0;
  std::error_code ec;
  CancelSource source;
  auto body = [&]() -> Task<> {
    spawn(EventWaiter::run(&e, &woke, &ec), source.token());
    (void)co_await sleep(1ms);
    source.cancel();
    EXPECT_EQ(e.waiting(), 0u);
    co_await yield();
    e.set();
  };
  run(body(), loop);
  EXPECT_EQ(ec, kCancelled);
  EXPECT_EQ(woke, 0);
  expect_loop_empty(loop);
}

// ---- Channel --------------------------------------------------------------------------------------------

struct Producer {
  static Task<> run(Channel<int>* ch, int from, int to, int* sent, std::error_code* last = nullptr) {
    for (int i = from; i < to; ++i) {
      std::error_code ec = co_await ch->send(i);
      if (last) *last = ec;
      if (ec) co_return;
      ++*sent;
    }
  }
};

TEST(Channel, BackpressureBlocksTheProducerUntilTheConsumerTakes) {
  Loop loop;
  Channel<int> ch(2);
  int sent = 0;
  std::vector<int> got;
  auto body = [&]() -> Task<> {
    spawn(Producer::run(&ch, 0, 6, &sent));
    co_await yield();
    EXPECT_EQ(sent, 2);  // the third send waits: the channel is full
    EXPECT_EQ(ch.size(), 2u);
    EXPECT_EQ(ch.waiting_senders(), 1u);
    for (int i = 0; i < 6; ++i) {
      Result<int> r = co_await ch.receive();
      EXPECT_TRUE(r.ok());
      got.push_back(*r);
      EXPECT_LE(ch.size(), 2u);
      co_await yield();
      EXPECT_EQ(sent, std::min(i + 3, 6));  // each take lets exactly one more send through
    }
  };
  run(body(), loop);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  expect_loop_empty(loop);
}

TEST(Channel, CloseDrainsBufferedItemsThenFails) {
  Loop loop;
  Channel<std::string> ch(4);
  auto body = [&]() -> Task<> {
    EXPECT_FALSE(co_await ch.send("a"));
    EXPECT_FALSE(ch.try_send("b"));
    ch.close();
    EXPECT_EQ(co_await ch.send("c"), kClosed);
    EXPECT_EQ(ch.try_send("d"), kClosed);
    EXPECT_EQ((co_await ch.receive()).value(), "a");
    EXPECT_EQ((co_await ch.receive()).value(), "b");
    EXPECT_EQ((co_await ch.receive()).error(), kClosed);
  };
  run(body(), loop);
  expect_loop_empty(loop);
}

TEST(Channel, CloseWakesWaitingReceiversAndSenders) {
  Loop loop;
  Channel<int> empty(1), full(1);
  std::vector<std::error_code> receivers(2);
  std::error_code sender;
  int sent = 0;
  struct Receiver {
    static Task<> run(Channel<int>* ch, std::error_code* ec) { *ec = (co_await ch->receive()).error(); }
  };
  auto body = [&]() -> Task<> {
    for (auto& ec : receivers) spawn(Receiver::run(&empty, &ec));
    spawn(Producer::run(&full, 0, 2, &sent, &sender));
    EXPECT_EQ(sent, 1);
    EXPECT_EQ(full.waiting_senders(), 1u);
    empty.close();
    full.close();
    co_await yield();
    EXPECT_EQ((co_await full.receive()).value(), 0);        // buffered before close
    EXPECT_EQ((co_await full.receive()).error(), kClosed);  // the blocked sender's item was dropped
  };
  run(body(), loop);
  EXPECT_EQ(receivers[0], kClosed);
  EXPECT_EQ(receivers[1], kClosed);
  EXPECT_EQ(sender, kClosed);
  expect_loop_empty(loop);
}

TEST(Channel, ReceiversAreServedInOrder) {
  Loop loop;
  Channel<int> ch(0);
  std::vector<int> got(3, -1);
  struct Receiver {
    static Task<> run(Channel<int>* ch, int* out) { *out = (co_await ch->receive()).value(); }
  };
  auto body = [&]() -> Task<> {
    for (int& out : got) spawn(Receiver::run(&ch, &out));
    EXPECT_EQ(ch.waiting_receivers(), 3u);
    for (int v : {10, 11, 12}) EXPECT_FALSE(co_await ch.send(v));  // each handed straight to a receiver
    co_await yield();
  };
  run(body(), loop);
  EXPECT_EQ(got, (std::vector<int>{10, 11, 12}));
  expect_loop_empty(loop);
}

TEST(Channel, RendezvousSendWaitsForAReceiver) {
  Loop loop;
  Channel<int> ch(0);
  int sent = 0;
  auto body = [&]() -> Task<> {
    spawn(Producer::run(&ch, 0, 3, &sent));
    EXPECT_EQ(sent, 0);
    EXPECT_EQ(ch.try_send(99), make_error_code(Error::queue_full));
    EXPECT_EQ(ch.try_receive(), std::optional<int>(0));
    co_await yield();
    EXPECT_EQ(sent, 1);
    EXPECT_EQ((co_await ch.receive()).value(), 1);
    EXPECT_EQ((co_await ch.receive()).value(), 2);
    co_await yield();
    EXPECT_EQ(sent, 3);
  };
  run(body(), loop);
  expect_loop_empty(loop);
}

TEST(Channel, CancelledReceiverDoesNotSwallowAnItem) {
  Loop loop;
  Channel<int> ch(1);
  CancelSource source;
  std::error_code ec;
  struct Receiver {
    static Task<> run(Channel<int>* ch, std::error_code* ec) { *ec = (co_await ch->receive()).error(); }
  };
  auto body = [&]() -> Task<> {
    spawn(Receiver::run(&ch, &ec), source.token());
    source.cancel();
    EXPECT_EQ(ch.waiting_receivers(), 0u);
    EXPECT_FALSE(co_await ch.send(5));
    EXPECT_EQ(ch.size(), 1u);  // buffered, not handed to the cancelled receiver
    EXPECT_EQ((co_await ch.receive()).value(), 5);
    co_await yield();  // lets the cancelled receiver finish
  };
  run(body(), loop);
  EXPECT_EQ(ec, kCancelled);
  expect_loop_empty(loop);
}

TEST(Channel, CancelledSenderLeavesTheQueue) {
  Loop loop;
  Channel<int> ch(1);
  CancelSource source;
  int sent = 0;
  std::error_code last;
  auto body = [&]() -> Task<> {
    EXPECT_FALSE(ch.try_send(1));
    spawn(Producer::run(&ch, 2, 3, &sent, &last), source.token());
    EXPECT_EQ(ch.waiting_senders(), 1u);
    source.cancel();
    EXPECT_EQ(ch.waiting_senders(), 0u);
    EXPECT_EQ((co_await ch.receive()).value(), 1);
    EXPECT_EQ(ch.size(), 0u);  // the cancelled item never entered
    co_await yield();          // lets the cancelled sender finish
  };
  run(body(), loop);
  EXPECT_EQ(last, kCancelled);
  EXPECT_EQ(sent, 0);
  expect_loop_empty(loop);
}

// A waiter cancelled because a when_all sibling failed leaves the channel intact.
TEST(Channel, ReceiverCancelledByAFailingSibling) {
  Loop loop;
  Channel<int> ch(1);
  std::error_code ec;
  struct Parts {
    static Task<int> receive(Channel<int>* ch, std::error_code* ec) {
      Result<int> r = co_await ch->receive();
      *ec = r.error();
      co_return r.value_or(-1);
    }
    static Task<int> fail() {
      (void)co_await sleep(1ms);
      throw std::runtime_error("sibling failed");
    }
  };
  auto body = [&]() -> Task<std::string> {
    try {
      (void)co_await when_all(Parts::receive(&ch, &ec), Parts::fail());
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "";
  };
  EXPECT_EQ(run(body(), loop), "sibling failed");
  EXPECT_EQ(ec, kCancelled);
  EXPECT_EQ(ch.waiting_receivers(), 0u);
  EXPECT_FALSE(ch.try_send(1));
  EXPECT_EQ(ch.try_receive(), std::optional<int>(1));
  expect_loop_empty(loop);
}

TEST(Channel, MoveOnlyItems) {
  Loop loop;
  Channel<std::unique_ptr<int>> ch(1);
  auto body = [&]() -> Task<int> {
    EXPECT_FALSE(co_await ch.send(std::make_unique<int>(7)));
    Result<std::unique_ptr<int>> r = co_await ch.receive();
    co_return **r;
  };
  EXPECT_EQ(run(body(), loop), 7);
  expect_loop_empty(loop);
}

}  // namespace
}  // namespace waitless
