#include "mpipc/errors.h"

#include <errno.h>

#include <cstring>

namespace mpipc {

namespace {
std::string ErrnoText(int errnum, const std::string& message) {
  return "[Errno " + std::to_string(errnum) + "] " + message;
}
}  // namespace

OSError::OSError(std::string message)
    : std::system_error(std::error_code(), message),
      message_(std::move(message)),
      what_(message_) {}

OSError::OSError(int errnum, std::string message)
    : std::system_error(std::error_code(errnum, std::generic_category()), message),
      message_(std::move(message)),
      what_(errnum == 0 ? message_ : ErrnoText(errnum, message_)) {}

std::string_view OSError::python_name() const noexcept { return PythonOSErrorName(errnum()); }

OSError OSErrorFromErrno(int errnum) { return OSError(errnum, std::strerror(errnum)); }

std::string_view PythonOSErrorName(int errnum) noexcept {
  // The errno -> subclass table of PEP 3151, as CPython builds it on Linux.
  switch (errnum) {
    case EAGAIN:
    case EALREADY:
    case EINPROGRESS:
      return "BlockingIOError";
    case ECHILD:
      return "ChildProcessError";
    case EPIPE:
    case ESHUTDOWN:
      return "BrokenPipeError";
    case ECONNABORTED:
      return "ConnectionAbortedError";
    case ECONNREFUSED:
      return "ConnectionRefusedError";
    case ECONNRESET:
      return "ConnectionResetError";
    case EEXIST:
      return "FileExistsError";
    case ENOENT:
      return "FileNotFoundError";
    case EINTR:
      return "InterruptedError";
    case EISDIR:
      return "IsADirectoryError";
    case ENOTDIR:
      return "NotADirectoryError";
    case EACCES:
    case EPERM:
      return "PermissionError";
    case ESRCH:
      return "ProcessLookupError";
    case ETIMEDOUT:
      return "TimeoutError";
    default:
      return "OSError";
  }
}

}  // namespace mpipc
