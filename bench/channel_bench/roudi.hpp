#pragma once
// Lifecycle of the iceoryx daemon for the iceoryx rows: a generated config whose mempool holds
// the largest payload, start-up detected from RouDi's own "ready" line (bounded poll, no fixed
// sleep), and a shutdown that happens only after every client has exited.

#include <cstdint>
#include <string>

#include "process.hpp"

namespace framebus::bench {

/// A private temporary directory (config, log), removed with its files on destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// iceoryx chunk header bytes in front of every payload (2.0.3 measured: 56; round up).
inline constexpr std::uint64_t kIceoryxChunkOverhead = 56;

/// Text of a RouDi config: small pools plus `big_chunks` chunks that hold `max_payload`.
std::string roudi_config(std::uint64_t max_payload, std::uint32_t big_chunks);

class Roudi {
 public:
  /// Starts `program` with a config for payloads up to `max_payload`; returns when RouDi says it
  /// is ready. Throws std::runtime_error (with RouDi's log tail) when it does not get there.
  Roudi(const std::string& program, std::uint64_t max_payload, std::uint32_t depth, const SignalGate& gate);
  Roudi(const Roudi&) = delete;
  Roudi& operator=(const Roudi&) = delete;
  ~Roudi() { stop(); }

  [[nodiscard]] bool alive() noexcept { return !process_.try_reap(); }
  /// SIGINT and a bounded wait for RouDi's own clean-up; SIGKILL plus manual clean-up after it.
  /// Call only once the clients have exited (RouDi would SIGTERM them otherwise).
  void stop() noexcept;
  /// Last lines of RouDi's output, for error messages.
  [[nodiscard]] std::string log_tail() const;

 private:
  TempDir dir_;
  ChildProcess process_;
};

}  // namespace framebus::bench
