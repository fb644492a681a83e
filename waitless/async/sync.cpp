#include "waitless/async/sync.hpp"

namespace waitless {
namespace detail {

SyncWaiter::~SyncWaiter() {
  // waiting: the hook unlinks itself and cancel_ detaches itself, after this body.
  if (state_ == State::woken) wq_->abandoned(*this);
}

void WakeQueue::wake(SyncWaiter& w, std::error_code result) {
  Loop* loop = w.loop_;
  // Queue first: if that throws, the waiter is still waiting and nothing was lost.
  loop->queue_microtask([this, loop] {
    resume_one(loop);
    release();
  });
  ++refs_;
  w.unlink_from_list();
  w.cancel_.detach();
  w.result_ = result;
  w.state_ = SyncWaiter::State::woken;
  woken_.push_back(w);
}

void WakeQueue::resume_one(Loop* loop) noexcept {
  SyncWaiter* next = woken_.front();
  if (next && next->loop_ != loop) {
    // Waiters of another loop on this thread: rare, so the scan is not worth an index.
    next = nullptr;
    woken_.for_each([&](SyncWaiter& w) {
      if (!next && w.loop_ == loop) next = &w;
    });
  }
  if (!next) return;  // its waiter was destroyed before resuming
  next->unlink_from_list();
  next->state_ = SyncWaiter::State::resumed;
  next->handle_.resume();
}

void WakeQueue::abandoned(SyncWaiter& w) noexcept {
  w.unlink_from_list();
  w.state_ = SyncWaiter::State::idle;
  if (!w.result_ && owner_ && give_back_) give_back_(owner_);
}

void WakeQueue::disown(bool revoke) noexcept {
  if (revoke) {
    woken_.for_each([](SyncWaiter& w) {
      if (!w.result_) w.result_ = Error::closed;
    });
  }
  owner_ = nullptr;
}

WaitList::~WaitList() {
  if (!wq_) return;
  wake_all(Error::closed);
  wq_->disown(give_back_ != nullptr);  // grants that must be given back refer to the owner
  wq_->release();
}

void WaitList::push(SyncWaiter& w, std::coroutine_handle<> h, Loop& loop, const CancelToken& token) {
  if (!wq_) wq_ = new WakeQueue(owner_, give_back_);
  w.handle_ = h;
  w.loop_ = &loop;
  w.wq_ = wq_;
  w.result_ = {};
  w.state_ = SyncWaiter::State::waiting;
  list_.push_back(w);
  // A pointer-sized capture: std::function keeps it inline, so attaching does not allocate.
  w.cancel_.attach(token, [&w] { w.wq_->wake(w, Error::cancelled); });
}

void WaitList::wake_all(std::error_code result) {
  while (SyncWaiter* w = list_.front()) wq_->wake(*w, result);
}

}  // namespace detail

bool Semaphore::try_acquire() noexcept {
  if (count_ == 0) return false;
  --count_;
  return true;
}

void Semaphore::release(std::size_t n) {
  for (; n > 0; --n) {
    detail::SyncWaiter* w = waiters_.front();
    if (!w) break;
    waiters_.wake(*w, {});
  }
  count_ += n;
}

void Semaphore::give_back(void* self) noexcept { static_cast<Semaphore*>(self)->release(); }

bool Mutex::try_take() noexcept {
  if (locked_) return false;
  locked_ = true;
  return true;
}

void Mutex::unlock() noexcept {
  if (detail::SyncWaiter* w = waiters_.front()) {
    waiters_.wake(*w, {});  // ownership passes on; locked_ stays true
  } else {
    locked_ = false;
  }
}

void Mutex::give_back(void* self) noexcept { static_cast<Mutex*>(self)->unlock(); }

void Event::set() {
  set_ = true;
  waiters_.wake_all({});
}

}  // namespace waitless
