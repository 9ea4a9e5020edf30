// Exception types of mpipc, one per Python exception the multiprocessing IPC API raises.
//
// Each type mirrors a Python exception so that code (and the conformance suite) can map an error
// on either side to the same name. `what()` returns the message Python would put in `args[0]`
// (empty where Python raises the exception without arguments, e.g. `EOFError()`).
//
//   Python                         C++
//   OSError (no errno)             mpipc::OSError, code() == std::error_code()
//   OSError subclass with errno    mpipc::OSError, code() == {errno, std::generic_category()}
//                                  (python_name() gives BrokenPipeError, ConnectionResetError, ...)
//   EOFError                       mpipc::EOFError
//   ValueError                     mpipc::ValueError
//   multiprocessing.ProcessError   mpipc::ProcessError
//   BufferTooShort                 mpipc::BufferTooShort (message() is the whole message)
//   AuthenticationError            mpipc::AuthenticationError
//   pickle errors                  mpipc::SerializationError
//   queue.Empty / queue.Full       mpipc::Empty / mpipc::Full
//   AssertionError                 mpipc::AssertionError (Process misuse, join_thread before close)
//   TypeError                      mpipc::TypeError (a Value of the wrong kind, unhashable key)
//
// mpipc::OSError derives from std::system_error, so every OS failure can be caught as
// std::system_error and its errno read from code(). All types are plain values: copyable, and
// safe to throw from any thread.

#ifndef MPIPC_ERRORS_H_
#define MPIPC_ERRORS_H_

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace mpipc {

// Python's OSError family. `errnum == 0` means a plain OSError('message') with no errno.
class OSError : public std::system_error {
 public:
  explicit OSError(std::string message);
  OSError(int errnum, std::string message);

  // The message alone, as Python's `strerror` or `args[0]`; what() returns the same text for an
  // errno-less error and "[Errno N] message" otherwise, as Python's str(e) does.
  const std::string& message() const noexcept { return message_; }
  int errnum() const noexcept { return code().value(); }
  // "OSError", "BrokenPipeError", "ConnectionResetError", "FileNotFoundError", ...
  std::string_view python_name() const noexcept;
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string message_;
  std::string what_;
};

// Builds an OSError from the current errno (or `errnum`) with strerror's text, as Python does.
OSError OSErrorFromErrno(int errnum);

// Python's builtin name for an errno (e.g. EPIPE -> "BrokenPipeError"), "OSError" when none.
std::string_view PythonOSErrorName(int errnum) noexcept;

class EOFError : public std::runtime_error {
 public:
  EOFError() : std::runtime_error("") {}
  explicit EOFError(const std::string& message) : std::runtime_error(message) {}
};

class ValueError : public std::invalid_argument {
 public:
  explicit ValueError(const std::string& message) : std::invalid_argument(message) {}
};

class ProcessError : public std::runtime_error {
 public:
  explicit ProcessError(const std::string& message) : std::runtime_error(message) {}
};

// Raised by recv_bytes_into() when the message does not fit; carries the whole message, which
// has been consumed from the connection.
class BufferTooShort : public ProcessError {
 public:
  explicit BufferTooShort(std::string message_bytes)
      : ProcessError("buffer too short"), message_bytes_(std::move(message_bytes)) {}
  const std::string& message() const noexcept { return message_bytes_; }

 private:
  std::string message_bytes_;
};

class AuthenticationError : public ProcessError {
 public:
  explicit AuthenticationError(const std::string& message) : ProcessError(message) {}
};

// An object could not be serialized (nothing was sent) or deserialized (the message was
// consumed). Python raises pickle.PicklingError / UnpicklingError or the error of the object.
class SerializationError : public std::runtime_error {
 public:
  explicit SerializationError(const std::string& message) : std::runtime_error(message) {}
};

// queue.Empty and queue.Full: raised without arguments.
class Empty : public std::runtime_error {
 public:
  Empty() : std::runtime_error("") {}
};

class Full : public std::runtime_error {
 public:
  Full() : std::runtime_error("") {}
};

// Python's AssertionError, raised by multiprocessing's `assert`s on misuse: join() before
// start(), start() twice (process.h), join_thread() before close().
class AssertionError : public std::logic_error {
 public:
  explicit AssertionError(const std::string& message) : std::logic_error(message) {}
};

// Python's TypeError where C++ cannot reject the type at compile time: a Value accessor for the
// wrong kind, an unhashable dict key (value.h).
class TypeError : public std::invalid_argument {
 public:
  explicit TypeError(const std::string& message) : std::invalid_argument(message) {}
};

}  // namespace mpipc

#endif  // MPIPC_ERRORS_H_
