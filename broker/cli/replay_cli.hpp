// `brokerctl report replay ID --from BACKUP`: the replay of
// GET /v1/verifications/{id}/replay (broker/verification/input_archive.hpp),
// offline from a backup (broker/store/backup.hpp), with the master key the
// configuration names. The backup is checked first (its signed manifest and
// every file), then its state database is read from a private copy, so the
// backup is never changed. Kept apart from brokerctl.cpp.
#pragma once

#include <string>

namespace hfv::broker {

// Prints the replay's answer (JSON, as the endpoint's). Exit status: 0
// identical, 1 different, or not replayed (the reason printed: a bad
// backup, no such verification, archive_tampered, ...).
int report_replay(const std::string& id, const std::string& config_file,
                  const std::string& backup_dir);

}  // namespace hfv::broker
