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
  // Each task holds its thread until all have started, so the `threads`
  // tasks run on as many different threads: every thread is named once.
  // The tasks share the latches' ownership: the last may still be inside
  // count_down when this returns.
  struct Latches {
    explicit Latches(std::ptrdiff_t n) : started(n), named(n) {}
    std::latch started;
    std::latch named;
  };
  const auto latches = std::make_shared<Latches>(static_cast<std::ptrdiff_t>(threads));
  const std::string kept(name);
  for (std::size_t i = 0; i < threads; ++i) {
    boost::asio::post(pool, [latches, kept] {
      name_this_thread(kept.c_str());
      latches->started.arrive_and_wait();
      latches->named.count_down();
    });
  }
  latches->named.wait();
}

}  // namespace hfv
