// The HMAC challenge-response handshake of multiprocessing.connection, byte-compatible with both
// forms CPython speaks (wire-protocol.md §2.4 legacy, §2.5 modern).
//
// deliver_challenge() is the challenger's half (the Listener runs it first), answer_challenge()
// the responder's half (the Client runs it first); each side of a connection runs both, in
// mirror order. Every handshake message is one ordinary frame, received with a 256-byte cap.
//
//   challenger                              responder
//   '#CHALLENGE#' + '{sha256}' + 40 random  ->
//                                         <-  '{sha256}' + HMAC-SHA256(key, '{sha256}' + random)
//                                             (or raw HMAC-MD5 from a CPython <= 3.11 peer)
//   '#WELCOME#' | '#FAILURE#'               ->
//
// As a responder we answer a 20-byte (legacy) challenge with raw HMAC-MD5 and a '{name}' challenge
// with '{name}' + HMAC-name; as a challenger we accept raw MD5 and every allowed '{name}' reply
// (md5, sha256, sha384, sha3_256, sha3_384), as CPython 3.12+ does. Error types and messages are
// CPython 3.12+'s (errors.h). The challenger sends '#FAILURE#' before raising. HMAC, digests and
// randomness come from OpenSSL; MACs are compared in constant time. An empty key is a valid key.
//
// Hardening beyond CPython, off by default so that defaults stay compatible (spec/deviations.md):
//   AuthOptions::timeout      bounds the whole handshake; a silent peer, or one that stalls or
//                             trickles bytes inside a frame, then raises
//                             OSError(ETIMEDOUT, "authentication handshake timed out") instead of
//                             blocking accept() forever (L-HANDSHAKE-BLOCKS).
//   AuthOptions::accept_md5   false refuses HMAC-MD5 replies, and answers a legacy 20-byte
//                             challenge with '{sha256}' + HMAC-SHA256 (CPython's fallback when MD5
//                             is unavailable, which a legacy peer rejects). This closes the
//                             downgrade of AUTH-DOWNGRADE at the cost of <= 3.11 peers.
//
// Thread-safety: the functions use only their arguments; one handshake per connection at a time.

#ifndef MPIPC_HANDSHAKE_H_
#define MPIPC_HANDSHAKE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "mpipc/connection.h"
#include "mpipc/sys.h"

namespace mpipc {

struct AuthOptions {
  // Seconds for the whole handshake; nullopt waits forever, as CPython does.
  std::optional<double> timeout;
  // Accept HMAC-MD5 replies (raw 16 bytes or '{md5}'-prefixed) and answer a 20-byte legacy
  // challenge with raw HMAC-MD5 (false: with '{sha256}' + HMAC-SHA256).
  bool accept_md5 = true;
  // The digest named in the challenges we deliver (must be one of kAllowedDigests).
  std::string challenge_digest = "sha256";
};

namespace auth {

inline constexpr std::string_view kChallenge = "#CHALLENGE#";
inline constexpr std::string_view kWelcome = "#WELCOME#";
inline constexpr std::string_view kFailure = "#FAILURE#";
inline constexpr size_t kMessageLength = 40;        // random bytes in a modern challenge
inline constexpr size_t kLegacyMessageLength = 20;  // random bytes in a legacy challenge
inline constexpr size_t kMd5DigestLength = 16;
inline constexpr size_t kMaxDigestNameLength = 8;
inline constexpr int64_t kMaxHandshakeMessage = 256;
inline constexpr std::string_view kAllowedDigests[] = {"md5", "sha256", "sha384", "sha3_256",
                                                       "sha3_384"};

// A response or challenge payload split into its digest name ("" for the legacy unprefixed form,
// meaning MD5) and what follows the '{name}' prefix.
struct DigestMessage {
  std::string_view digest;
  std::string_view payload;
};

// CPython's _get_digest_name_and_payload. Throws AuthenticationError("unsupported message length,
// missing digest prefix, or unsupported digest: message=b'...'").
DigestMessage ParseDigestMessage(std::string_view message);

// HMAC-`digest`(key, message) as raw bytes. Throws AuthenticationError for a digest OpenSSL lacks.
std::string Hmac(std::string_view digest, std::string_view key, std::string_view message);

// The responder's reply to a challenge `message` (the bytes after '#CHALLENGE#').
std::string CreateResponse(std::string_view key, std::string_view message,
                           const AuthOptions& options = {});

// The challenger's check of `response` to its challenge `message`; throws AuthenticationError.
void VerifyResponse(std::string_view key, std::string_view message, std::string_view response,
                    const AuthOptions& options = {});

// Python's repr() of a bytes object, e.g. b'ab\x00' (used in CPython's error messages).
std::string PyBytesRepr(std::string_view bytes);

// The halves of the handshake, bounded by `deadline` (nullopt: no limit).
void DeliverChallenge(Connection& conn, std::string_view key, const AuthOptions& options,
                      const sys::Deadline& deadline);
void AnswerChallenge(Connection& conn, std::string_view key, const AuthOptions& options,
                     const sys::Deadline& deadline);

}  // namespace auth

// Python's multiprocessing.connection.deliver_challenge / answer_challenge. options.timeout
// bounds each call.
void deliver_challenge(Connection& conn, std::string_view authkey, const AuthOptions& options = {});
void answer_challenge(Connection& conn, std::string_view authkey, const AuthOptions& options = {});

}  // namespace mpipc

#endif  // MPIPC_HANDSHAKE_H_
