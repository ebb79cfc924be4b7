// Cancellation: a one-shot "stop what you are doing" signal for the work of
// one request, e.g. a verification whose caller has disconnected. Whoever
// waits on something that can be cut short (a libcurl transfer, a timer)
// registers a handler for as long as it waits; cancel() runs every handler
// registered at that moment, once. Boost 1.74 has no per-operation
// cancellation slots for awaitables; this is the project's one replacement.
//
// Handlers must not block and must not resume coroutines inline (cancel a
// timer, set an AsyncEvent, remove a curl handle: each completes later on
// the executor), so cancel() never re-enters the code that called it.
//
// Thread-safety: none. The signal, its handlers and cancel() belong to one
// executor (the daemon's single I/O thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

namespace hfv {

class Cancellation {
 public:
  class Registration;

  bool cancelled() const { return cancelled_; }
  // Why it was cancelled ("the caller disconnected"), for details and audit.
  const std::string& reason() const { return reason_; }

  // Runs each registered handler once; later calls do nothing.
  void cancel(std::string reason) {
    if (cancelled_) return;
    cancelled_ = true;
    reason_ = std::move(reason);
    auto handlers = std::move(handlers_);
    handlers_.clear();
    for (auto& [id, handler] : handlers) handler();
  }

  // Registers `handler` until the returned Registration is destroyed. If
  // already cancelled, the handler is not kept: check cancelled() first.
  [[nodiscard]] Registration on_cancel(std::function<void()> handler);

 private:
  bool cancelled_ = false;
  std::string reason_;
  std::uint64_t next_ = 0;
  std::map<std::uint64_t, std::function<void()>> handlers_;
};

// Keeps a handler registered while alive. Null-safe: a Registration for no
// signal does nothing.
class Cancellation::Registration {
 public:
  Registration() = default;
  Registration(Cancellation* signal, std::uint64_t id) : signal_(signal), id_(id) {}
  Registration(Registration&& other) noexcept
      : signal_(std::exchange(other.signal_, nullptr)), id_(other.id_) {}
  Registration& operator=(Registration&& other) noexcept {
    if (this != &other) {
      reset();
      signal_ = std::exchange(other.signal_, nullptr);
      id_ = other.id_;
    }
    return *this;
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { reset(); }

  void reset() {
    if (signal_ != nullptr) signal_->handlers_.erase(id_);
    signal_ = nullptr;
  }

 private:
  Cancellation* signal_ = nullptr;
  std::uint64_t id_ = 0;
};

inline Cancellation::Registration Cancellation::on_cancel(std::function<void()> handler) {
  if (cancelled_) return {};
  const std::uint64_t id = next_++;
  handlers_.emplace(id, std::move(handler));
  return {this, id};
}

// Registers on `signal` when there is one (null: nothing to cancel on).
inline Cancellation::Registration on_cancel(Cancellation* signal, std::function<void()> handler) {
  return signal == nullptr ? Cancellation::Registration() : signal->on_cancel(std::move(handler));
}

}  // namespace hfv
