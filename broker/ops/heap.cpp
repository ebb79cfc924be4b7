#include "broker/ops/heap.hpp"

#include <malloc.h>

// gperftools/malloc_extension_c.h, declared here: its header is in
// libgoogle-perftools-dev, which the project does not install. Weak: null
// in a program that does not link tcmalloc.
extern "C" void MallocExtension_ReleaseFreeMemory() __attribute__((weak));
extern "C" void MallocExtension_MarkThreadIdle() __attribute__((weak));

namespace hfv::broker {

namespace {

bool on_tcmalloc() {
  return MallocExtension_ReleaseFreeMemory != nullptr && MallocExtension_MarkThreadIdle != nullptr;
}

}  // namespace

std::string_view heap_allocator() { return on_tcmalloc() ? "tcmalloc" : "glibc"; }

void release_free_heap() {
  ::malloc_trim(0);
  if (!on_tcmalloc()) return;
  // This thread's cache (the I/O thread's, which freed the burst's
  // connections) goes back to the central lists first, so the spans it
  // emptied are free to release.
  MallocExtension_MarkThreadIdle();
  MallocExtension_ReleaseFreeMemory();
}

}  // namespace hfv::broker
