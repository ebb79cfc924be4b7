#include "broker/store/report_store.hpp"

namespace hfv::broker {

std::string_view state_name(VerificationState state) {
  switch (state) {
    case VerificationState::kRunning: return "running";
    case VerificationState::kDone: return "done";
    case VerificationState::kInterrupted: return "interrupted";
    case VerificationState::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<VerificationState> parse_verification_state(std::string_view name) {
  for (auto s : {VerificationState::kRunning, VerificationState::kDone, VerificationState::kInterrupted,
                 VerificationState::kCancelled}) {
    if (state_name(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace hfv::broker
