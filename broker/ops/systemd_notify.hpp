// systemd's readiness protocol (sd_notify(3)), by hand so the daemon needs
// no libsystemd: one datagram "READY=1", "STOPPING=1", ... to the AF_UNIX
// socket named by $NOTIFY_SOCKET (a path, or an abstract name written with a
// leading '@'). Without $NOTIFY_SOCKET (not started by systemd with
// Type=notify) it does nothing. Thread-safety: touches only its arguments
// and the environment it reads.
#pragma once

#include <string_view>

namespace hfv::broker {

// Sends `state` (one or more "KEY=value" lines) to the service manager.
// Returns true when sent, false when $NOTIFY_SOCKET is unset or the datagram
// could not be sent (the daemon carries on either way: a manager that never
// hears READY=1 times the start out, which is the failure to see).
bool notify_systemd(std::string_view state);

}  // namespace hfv::broker
