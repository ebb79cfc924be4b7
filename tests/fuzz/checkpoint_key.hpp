// The fixed keys of the fuzz_checkpoint target and of its seeds
// (tests/fuzz/seed_generator.cpp): a log's key under the origin kLogOrigin
// and a witness's cosigning key. Fixed, not generated, so regenerating the
// seeds does not change them.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace hfv::fuzz {

inline constexpr std::string_view kLogOrigin = "hfv/audit/fuzz";
inline constexpr std::string_view kWitnessName = "witness.example/fuzz";

constexpr std::array<std::uint8_t, 32> fixed_seed(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(fill + i);
  return seed;
}
inline constexpr std::array<std::uint8_t, 32> kLogSeed = fixed_seed(0x10);
inline constexpr std::array<std::uint8_t, 32> kWitnessSeed = fixed_seed(0x70);

}  // namespace hfv::fuzz
