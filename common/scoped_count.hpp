// ScopedCount: raises a counter for as long as it lives, however the scope
// ends (return, exception, a coroutine destroyed while suspended). The
// counts that tell a stop or a load shedder how much work is running use it.
// Thread-safety: none; the counter belongs to one thread (or strand).
#pragma once

#include <cstddef>

namespace hfv {

class ScopedCount {
 public:
  explicit ScopedCount(std::size_t& count) : count_(count) { ++count_; }
  ~ScopedCount() { --count_; }
  ScopedCount(const ScopedCount&) = delete;
  ScopedCount& operator=(const ScopedCount&) = delete;

 private:
  std::size_t& count_;
};

}  // namespace hfv
