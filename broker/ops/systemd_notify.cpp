#include "broker/ops/systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace hfv::broker {

bool notify_systemd(std::string_view state) {
  const char* name = std::getenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe): read once, never set
  if (name == nullptr || name[0] == '\0') return false;
  const std::string_view socket_name(name);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_name.size() >= sizeof address.sun_path) return false;
  if (socket_name[0] != '/' && socket_name[0] != '@') return false;
  std::memcpy(address.sun_path, socket_name.data(), socket_name.size());
  if (socket_name[0] == '@') address.sun_path[0] = '\0';  // abstract namespace
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_name.size() +
                                             (socket_name[0] == '@' ? 0 : 1));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&address), length);  // NOLINT
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

}  // namespace hfv::broker
