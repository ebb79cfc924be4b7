#include "common/thread_name.hpp"

#include <pthread.h>

#include <boost/asio/post.hpp>
#include <latch>
#include <memory>
#include <string>

namespace hfv {

void name_this_thread(const char* name) {
  const std::string kept = std::string(name).substr(0, 15);
  (void)pthread_setname_np(pthread_self(), kept.c_str());
}

void name_pool_threads(boost::asio::thread_pool& pool, std::size_t threads, const char* name) {
  // Each task names its thread, then holds it until all have arrived, so the
  // `threads` tasks run on as many different threads: every thread is named
  // once. `name` outlives the tasks' use of it (each names itself before
  // arriving); the latch is shared-owned because the last task may still be
  // inside arrive_and_wait when this returns.
  const auto arrived = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(threads));
  for (std::size_t i = 0; i < threads; ++i) {
    boost::asio::post(pool, [arrived, name] {
      name_this_thread(name);
      arrived->arrive_and_wait();
    });
  }
  arrived->wait();
}

}  // namespace hfv
