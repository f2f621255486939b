#pragma once
// Rendering of the tool's output: aligned text tables for people, JSON for programs.
// The JSON schema is documented in tools/README.md; keep the two in step.

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framebus/channel/admin.hpp"
#include "framebus/error.hpp"

namespace framebus::cli {

/// A text table whose columns are padded to their widest cell.
class Table {
 public:
  enum class Align { left, right };

  /// One header per column; `align` defaults to left for every column.
  explicit Table(std::vector<std::string> headers, std::vector<Align> align = {});

  void add_row(std::vector<std::string> cells);
  [[nodiscard]] bool empty() const noexcept { return rows_.empty(); }
  /// Writes the header and the rows, each line prefixed by `indent`.
  void print(std::ostream& out, const std::string& indent = {}) const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;
};

/// "8.0 MiB", "512 B".
std::string format_bytes(std::uint64_t bytes);
/// Permission bits in octal, "0600".
std::string format_mode(std::uint32_t mode);

/// Writes one channel as a block of text (header lines, participant table, group table).
void print_channel(std::ostream& out, const ChannelInfo& channel);

/// An error as {"code": "not_found", "message": "..."}.
nlohmann::ordered_json error_to_json(const Error& error);

}  // namespace framebus::cli
