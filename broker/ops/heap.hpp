// The heap brokerd runs on: glibc's malloc by default, tcmalloc when the
// build links it (CMakeLists.txt HFV_ALLOCATOR=tcmalloc; never in the
// sanitizer build or the test programs). Told apart at run time by weak
// references to tcmalloc's functions, so this compiles and links either way.
// Thread-safety: both functions may be called from any thread.
#pragma once

#include <string_view>

namespace hfv::broker {

// "tcmalloc" or "glibc".
std::string_view heap_allocator();

// Hands the pages the heap holds free back to the system (after a burst of
// connections): glibc's malloc_trim(0), and when tcmalloc is the heap (then
// malloc_trim finds nothing of its own) the calling thread's cache and
// tcmalloc's free pages.
void release_free_heap();

}  // namespace hfv::broker
