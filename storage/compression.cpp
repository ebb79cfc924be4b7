#include "storage/compression.hpp"

#include <zstd.h>

#include <memory>
#include <new>

#include "crypto/aead.hpp"

namespace hfv::storage {

namespace {

constexpr int kLevel = 3;
constexpr unsigned char kMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One of each per thread, kept: the audit writer compresses two values per
// record, and a context costs far more to make than a small value to
// compress.
ZSTD_CCtx& compressor() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> c(ZSTD_createCCtx());
  if (!c) throw std::bad_alloc();
  return *c;
}
ZSTD_DCtx& decompressor() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> d(ZSTD_createDCtx());
  if (!d) throw std::bad_alloc();
  return *d;
}

}  // namespace

std::string zstd_compress(std::string_view plain) {
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const std::size_t n = ZSTD_compressCCtx(&compressor(), out.data(), out.size(), plain.data(), plain.size(), kLevel);
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
  // zstd_compress always records the size; a frame without it was not
  // written here.
  if (declared == ZSTD_CONTENTSIZE_ERROR || declared == ZSTD_CONTENTSIZE_UNKNOWN || declared > max_bytes) {
    return std::nullopt;
  }
  // Into a buffer of the declared size: a frame whose content is longer
  // than its header says fails (dstSize_tooSmall) instead of growing it.
  std::string out(static_cast<std::size_t>(declared), '\0');
  const std::size_t n = ZSTD_decompressDCtx(&decompressor(), out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != out.size()) return std::nullopt;
  return out;
}

std::string seal_hex_compressed(const crypto::SecretKey& key, std::string_view plain,
                                std::string_view associated_data, std::size_t compress_from) {
  if (plain.size() >= compress_from) {
    if (std::string frame = zstd_compress(plain); frame.size() < plain.size()) {
      return crypto::aes256gcm_seal_hex(key, frame, associated_data);
    }
  }
  return crypto::aes256gcm_seal_hex(key, plain, associated_data);
}

std::optional<std::string> open_hex_compressed(const crypto::SecretKey& key, std::string_view box_hex,
                                               std::string_view associated_data, std::size_t max_bytes) {
  auto plain = crypto::aes256gcm_open_hex(key, box_hex, associated_data);
  if (!plain || !is_zstd_frame(*plain)) return plain;
  return zstd_decompress(*plain, max_bytes);
}

}  // namespace hfv::storage
