// The extension's error convention, shared by its translation units: an entry point runs its body
// inside `guarded`, returns 0 on success and -1 on failure, and leaves the exception's message in
// a thread-local string (defined in lgd_ext.cpp) that `lgd_ext_last_error` hands to Rust.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <string>

namespace lgd_ext {

void set_last_error(const std::string& message);

template <typename Body>
int guarded(Body&& body) {
  try {
    body();
    return 0;
  } catch (const c10::Error& e) {
    // libtorch's message without its C++ stack trace: the user reads it in a log line.
    set_last_error(e.what_without_backtrace());
  } catch (const std::exception& e) {
    set_last_error(e.what());
  } catch (...) {
    set_last_error("unknown C++ exception");
  }
  return -1;
}

}  // namespace lgd_ext
