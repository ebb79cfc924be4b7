#include "storage/compression.hpp"

#include <zstd.h>

#include <memory>
#include <new>

namespace hfv::storage {

namespace {

constexpr int kLevel = 3;
constexpr unsigned char kMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};

struct DStreamFree {
  void operator()(ZSTD_DStream* s) const { ZSTD_freeDStream(s); }
};

}  // namespace

std::string zstd_compress(std::string_view plain) {
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), plain.data(), plain.size(), kLevel);
  // Only an allocation failure inside libzstd makes this fail: the bound
  // is always enough.
  if (ZSTD_isError(n)) throw std::bad_alloc();
  out.resize(n);
  return out;
}

bool is_zstd_frame(std::string_view bytes) {
  return bytes.size() >= sizeof(kMagic) && static_cast<unsigned char>(bytes[0]) == kMagic[0] &&
         static_cast<unsigned char>(bytes[1]) == kMagic[1] && static_cast<unsigned char>(bytes[2]) == kMagic[2] &&
         static_cast<unsigned char>(bytes[3]) == kMagic[3];
}

std::optional<std::string> zstd_decompress(std::string_view frame, std::size_t max_bytes) {
  if (!is_zstd_frame(frame)) return std::nullopt;
  // One whole frame, nothing after it.
  if (ZSTD_findFrameCompressedSize(frame.data(), frame.size()) != frame.size()) return std::nullopt;
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return std::nullopt;
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max_bytes) return std::nullopt;
  // Streamed into a buffer that never grows past max_bytes: a frame whose
  // header lies about (or omits) its size cannot make it allocate more.
  std::unique_ptr<ZSTD_DStream, DStreamFree> stream(ZSTD_createDStream());
  if (!stream) return std::nullopt;
  std::string out;
  out.reserve(declared != ZSTD_CONTENTSIZE_UNKNOWN ? static_cast<std::size_t>(declared) : 0);
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  std::size_t last = 1;
  while (in.pos < in.size || last != 0) {
    ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(stream.get(), &o, &in);
    if (ZSTD_isError(last)) return std::nullopt;
    if (out.size() + o.pos > max_bytes) return std::nullopt;
    out.append(chunk.data(), o.pos);
    if (o.pos == 0 && in.pos == in.size && last != 0) return std::nullopt;  // truncated frame
  }
  return out;
}

}  // namespace hfv::storage
