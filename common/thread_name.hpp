// Thread names for top, perf and bench/run (which adds up each thread's CPU
// per household by name): the daemon's long-lived threads are named
// "hfv-<role>"; its I/O thread keeps the process's name.
// Thread-safety: name_this_thread names the calling thread only;
// name_pool_threads must be called before anything else is posted to the
// pool, from a thread that is not one of its own.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <cstddef>

namespace hfv {

// At most 15 bytes are kept (the kernel's limit); a failure only loses the
// name.
void name_this_thread(const char* name);

// Names every one of `pool`'s `threads` threads (the count it was made
// with), returning once all of them have.
void name_pool_threads(boost::asio::thread_pool& pool, std::size_t threads, const char* name);

}  // namespace hfv
