#include "waitless/http/server.hpp"

#include <csignal>
#include <future>
#include <optional>

#include "waitless/base/log.hpp"
#include "waitless/http/server_loop.hpp"
#include "waitless/loop/signal.hpp"
#include "waitless/loop/watchdog.hpp"

namespace waitless::http {

// One loop of listen(): its thread, and (while it runs) how to reach its ServerLoop.
struct Server::Worker {
  std::thread thread;
  LoopRemote remote;                   // valid while the loop runs
  detail::ServerLoop* loop = nullptr;  // only touched on that loop, through remote.post
};

// The calling thread's side of listen()/wait(): a loop that watches signals and learns when workers end.
struct Server::Control {
  Loop loop;
  std::unique_ptr<Signal> sigint, sigterm, sighup;
  std::size_t running = 0;
  int signals = 0;
};

Server::Server(ServerOptions options) : options_(std::move(options)) {}

Server::~Server() {
  // The attached loops' servers are destroyed here (closing everything), on their loop's thread: nothing is
  // posted to them, since a task posted now would run after they are gone (on the next server attached to
  // that loop, at the same address).
  std::vector<std::shared_ptr<detail::ServerLoop>> attached;
  {
    std::lock_guard lock(mutex_);
    attached.swap(attached_);
  }
  shutdown(std::chrono::milliseconds(0));
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  attached.clear();
}

std::error_code Server::on_request(Handler handler) {
  std::lock_guard lock(mutex_);
  if (config_ || !handler) return Error::invalid_argument;
  handler_ = std::move(handler);
  return {};
}

std::error_code Server::on_request_sync(SyncHandler handler) {
  std::lock_guard lock(mutex_);
  if (config_ || !handler) return Error::invalid_argument;
  sync_handler_ = std::move(handler);
  return {};
}

std::error_code Server::choose_handler(HandlerChooser chooser) {
  std::lock_guard lock(mutex_);
  if (config_ || !chooser) return Error::invalid_argument;
  chooser_ = std::move(chooser);
  return {};
}

Result<std::shared_ptr<const detail::ServerConfig>> Server::freeze() {
  std::lock_guard lock(mutex_);
  if (config_) return config_;
  if (!handler_ && !sync_handler_) return Error::invalid_argument;
  if (chooser_ && !(handler_ && sync_handler_)) return Error::invalid_argument;
  const Limits& l = options_.limits;
  if (!is_field_value(options_.server_name) || l.max_head_size == 0 || l.max_headers == 0 ||
      l.write_low_water > l.write_high_water || l.max_in_flight == 0) {
    return Error::invalid_argument;
  }
  auto cfg = std::make_shared<detail::ServerConfig>();
  cfg->handler = handler_;
  cfg->sync_handler = sync_handler_;
  cfg->chooser = chooser_;
  cfg->options = options_;
  if (!options_.server_name.empty()) cfg->server_line = "Server: " + options_.server_name + "\r\n";
  config_ = std::move(cfg);
  return config_;
}

Result<uint16_t> Server::attach(Loop& loop, const net::ListenOptions& options,
                                std::shared_ptr<net::TlsContext> tls) {
  auto cfg = freeze();
  if (!cfg) return cfg.error();
  auto sl = std::make_shared<detail::ServerLoop>(loop, cfg.value());
  auto port = sl->listen(options, std::move(tls));
  if (!port) return port.error();
  std::lock_guard lock(mutex_);
  if (shutdown_requested_) sl->shutdown(shutdown_deadline_);
  attached_.push_back(std::move(sl));
  return port;
}

void Server::run_worker(Worker* w, ListenConfig config, uint16_t port, void* ready_ptr) {
  auto* ready = static_cast<std::promise<Result<uint16_t>>*>(ready_ptr);
  Loop loop;
  std::optional<Watchdog> watchdog;
  if (config.watchdog_threshold.count() > 0) watchdog.emplace(loop, config.watchdog_threshold);
  {
    detail::ServerLoop sl(loop, config_);
    net::ListenOptions lo;
    lo.host = config.host;
    lo.port = port;
    lo.backlog = config.backlog;
    lo.reuse_port = config.threads > 1;
    auto bound = sl.listen(lo, config.tls);
    bool ok = bound.ok();
    {
      std::lock_guard lock(mutex_);
      if (ok) {
        w->remote = loop.remote();
        w->loop = &sl;
        if (shutdown_requested_) sl.shutdown(shutdown_deadline_);
      }
    }
    ready->set_value(std::move(bound));  // `ready` may be gone after this line
    if (ok) loop.run();
    std::lock_guard lock(mutex_);
    w->loop = nullptr;
    w->remote = LoopRemote();
  }
  if (control_) {
    (void)control_->loop.post([this] {
      if (--control_->running == 0) {
        control_->sigint.reset();
        control_->sigterm.reset();
        control_->sighup.reset();
        control_->loop.remove_pending_request();
      }
    });
  }
}

Result<uint16_t> Server::listen(uint16_t port, ListenConfig config) {
  auto cfg = freeze();
  if (!cfg) return cfg.error();
  {
    std::lock_guard lock(mutex_);
    if (listening_ || shutdown_requested_) return Error::already_closing;
    listening_ = true;
  }
  if (config.threads == 0) config.threads = std::max(1u, std::thread::hardware_concurrency());
  control_ = std::make_unique<Control>();
  if (config.handle_signals) {
    // Watching blocks SIGINT/SIGTERM on this thread; the loops' threads, created below inside a
    // SignalBlockScope, never take them: a signal always reaches this thread's signalfd.
    auto on_sig = [this, deadline = config.shutdown_deadline](int signo) {
      bool again = ++control_->signals > 1;
      log::info("http: {} received, {}", signo == SIGINT ? "SIGINT" : "SIGTERM",
                again ? "closing now" : "shutting down gracefully");
      shutdown(again ? std::chrono::milliseconds(0) : deadline);
    };
    auto a = on_signal(control_->loop, SIGINT, on_sig);
    auto b = on_signal(control_->loop, SIGTERM, on_sig);
    if (a && b) {
      control_->sigint = std::move(a.value());
      control_->sigterm = std::move(b.value());
    }
    if (config.tls) {
      // SIGHUP: the certificates are read again for the handshakes that follow; connections stay.
      auto hup = on_signal(control_->loop, SIGHUP, [tls = config.tls](int) {
        if (std::error_code ec = tls->reload()) {
          log::error("http: SIGHUP: TLS certificates not reloaded ({}); the previous ones stay",
                     ec.message());
        } else {
          log::info("http: SIGHUP: TLS certificates reloaded (generation {})", tls->generation());
        }
      });
      if (hup) control_->sighup = std::move(hup.value());
    }
  }
  SignalBlockScope block;  // threads created here start with every signal blocked
  uint16_t bound_port = port;
  for (unsigned i = 0; i < config.threads; ++i) {
    auto w = std::make_unique<Worker>();
    std::promise<Result<uint16_t>> ready;
    auto result = ready.get_future();
    Worker* wp = w.get();
    {
      std::lock_guard lock(mutex_);
      ++control_->running;
      if (control_->running == 1) control_->loop.add_pending_request();  // wait() runs until they end
      workers_.push_back(std::move(w));
    }
    wp->thread =
        std::thread([this, wp, config, bound_port, &ready] { run_worker(wp, config, bound_port, &ready); });
    Result<uint16_t> r = result.get();
    if (!r) {
      log::error("http: listen on {}:{} failed: {}", config.host, bound_port, r.error().message());
      shutdown(std::chrono::milliseconds(0));
      for (auto& worker : workers_) {
        if (worker->thread.joinable()) worker->thread.join();
      }
      return r.error();
    }
    bound_port = r.value();  // port 0: the others join the port the first one got
  }
  return bound_port;
}

void Server::shutdown(std::chrono::milliseconds deadline) {
  std::lock_guard lock(mutex_);
  if (!shutdown_requested_ || deadline < shutdown_deadline_) shutdown_deadline_ = deadline;
  shutdown_requested_ = true;
  draining_.store(true, std::memory_order_release);
  for (auto& w : workers_) {
    if (!w->loop) continue;
    detail::ServerLoop* sl = w->loop;
    (void)w->remote.post([sl, deadline] { sl->shutdown(deadline); });
  }
  for (auto& sl : attached_) {
    std::weak_ptr<detail::ServerLoop> weak = sl;
    (void)sl->loop().post([weak, deadline] {
      if (auto p = weak.lock()) p->shutdown(deadline);  // the Server may be gone by now (~Server)
    });
  }
}

int Server::wait() {
  if (!control_) return 0;
  control_->loop.run();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  control_->sigint.reset();
  control_->sigterm.reset();
  control_->sighup.reset();
  return 0;
}

std::size_t Server::connection_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& sl : attached_) n += sl->connection_count();
  return n;
}

}  // namespace waitless::http
