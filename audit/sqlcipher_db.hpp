// Forwarding header, to be deleted: SqlcipherDb and Statement moved to
// storage/sqlcipher_db.hpp (namespace hfv::storage). Only
// broker/verification/consent.{hpp,cpp} still include this file and name
// audit::SqlcipherDb; remove these aliases when they name storage:: instead.
#pragma once

#include "storage/sqlcipher_db.hpp"

namespace hfv::audit {

using storage::SqlcipherDb;
using storage::Statement;

}  // namespace hfv::audit
