// cli_http: the one blocking HTTPS call brokerctl makes to a running daemon
// (status, reload, review run|status|stats), with the daemon's CA and a client
// certificate. Blocking: command-line use, and the daemon's audit-witness
// sender on its own thread (broker/app/witness_sender.hpp); the daemon's
// agency traffic goes through the curl-multi client on its Asio loop
// (adapters/http_client.hpp).
#pragma once

#include <string>
#include <vector>

namespace hfv::broker {

struct CliRequest {
  std::string method = "GET";
  std::string url;   // full URL
  std::string body;  // sent unless the method is GET
  std::vector<std::string> headers;  // "Name: value"
  std::string ca_file, cert_file, key_file;  // empty: libcurl's default / no client certificate
  long timeout_seconds = 10;
};

struct CliAnswer {
  long status = 0;  // 0: no HTTP answer (see error)
  std::string body;
  std::string error;
  // libcurl's result code when there was no answer: tells a refused
  // connection (the daemon is down) from a client certificate, key or CA
  // file libcurl could not use (brokerctl's own problem).
  int curl_code = 0;
  bool local_files_failed() const;  // the CA, certificate or key could not be used
};

CliAnswer cli_http(const CliRequest& request);

}  // namespace hfv::broker
