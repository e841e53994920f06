// libtorch's own log output (its warnings, `LOG(WARNING)` and the like, all written to std::cerr)
// handed to Rust message by message, so it joins the product's log in its format: with
// `--log-format json` a libtorch warning is one more JSON object, not a stray text line.
//
// A warning handler cannot do this: c10's is per thread, and the threads that warn include
// autograd's and c10d's. std::cerr is one object for the whole process.

#include <cstddef>
#include <iostream>
#include <mutex>
#include <streambuf>
#include <string>

#include "guarded.h"

namespace {

using LineSink = void (*)(const char* line, size_t length);

// Collects what is written and, at each flush, hands everything up to the last newline to the
// sink as one record. std::cerr flushes after every insertion and c10 writes a whole message (with
// its continuation lines) in one, so a message stays one record however many lines it has, while
// `std::cerr << a << b << "\n"` still makes one. An unterminated tail waits for its newline,
// unless it grows past a limit.
class LineRouter : public std::streambuf {
 public:
  explicit LineRouter(LineSink sink) : sink_(sink) {}

 protected:
  int overflow(int ch) override {
    if (ch == traits_type::eof()) return traits_type::not_eof(ch);
    const char byte = static_cast<char>(ch);
    xsputn(&byte, 1);
    return ch;
  }

  std::streamsize xsputn(const char* text, std::streamsize count) override {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.append(text, static_cast<size_t>(count));
    if (pending_.size() > kLongestTail) emit(pending_.size());
    return count;
  }

  int sync() override {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t newline = pending_.rfind('\n');
    if (newline != std::string::npos) emit(newline + 1);
    return 0;
  }

 private:
  static constexpr size_t kLongestTail = 64 * 1024;

  // Hands on the first `length` bytes, less one trailing newline.
  void emit(size_t length) {
    const size_t shown = length > 0 && pending_[length - 1] == '\n' ? length - 1 : length;
    if (shown > 0) sink_(pending_.data(), shown);
    pending_.erase(0, length);
  }

  LineSink sink_;
  std::mutex mutex_;
  std::string pending_;
};

}  // namespace

extern "C" {

// Routes std::cerr and std::clog to `sink` for the rest of the process (the first call's sink).
// The router is never freed: libtorch may still write while static objects are destroyed at exit.
int lgd_ext_route_libtorch_log(LineSink sink) {
  return lgd_ext::guarded([&] {
    static LineRouter* router = new LineRouter(sink);
    std::cerr.rdbuf(router);
    std::clog.rdbuf(router);
  });
}

}  // extern "C"
