// The query string of a request target ("/path?a=1&b=x%3Ay"), split into
// percent-decoded parameters ('+' is a space). One parser for every
// endpoint that takes parameters, so they all decode alike.
// Thread-safety: pure function.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace hfv::broker {

// nullopt when an escape is malformed ("%4", "%zz"). A key given twice keeps
// its last value.
std::optional<std::map<std::string, std::string>> query_params(std::string_view target);
// One parameter's decoded value; "" when absent or the query string is malformed.
std::string query_value(std::string_view target, const std::string& key);

}  // namespace hfv::broker
