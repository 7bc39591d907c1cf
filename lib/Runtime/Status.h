//===- Status.h - Error reporting for the runtime ---------------*- C++ -*-===//
//
// The runtime is built without exceptions and must not depend on LLVM, so it
// cannot use llvm::Error. Every fallible function returns a Status instead: it
// is either success or carries a human-readable message meant for the user.
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_RUNTIME_STATUS_H
#define SQZ_RUNTIME_STATUS_H

#include <string>
#include <utility>

namespace sqz {
namespace runtime {

class [[nodiscard]] Status {
public:
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed = true;
    s.msg = std::move(message);
    return s;
  }

  bool ok() const { return !failed; }
  explicit operator bool() const { return !failed; }
  const std::string &message() const { return msg; }

  /// Returns this status with `context` prepended to the message, so callers
  /// can say which file or field a lower-level error came from.
  Status withContext(const std::string &context) const {
    return failed ? error(context + ": " + msg) : success();
  }

private:
  Status() = default;
  bool failed = false;
  std::string msg;
};

} // namespace runtime
} // namespace sqz

#endif // SQZ_RUNTIME_STATUS_H
