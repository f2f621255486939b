#pragma once
/// @file decoder_status.hpp
/// What a decoder child (`framebus decode --status-json`) reports to the pipeline supervisor:
/// one JSON line per report. Both sides use this one codec.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framebus/decode/decoder.hpp"
#include "framebus/pipeline/run_stats.hpp"

namespace framebus {

/// One stream's status as a JSON object (state as its name, `last_error` null when there is
/// none): the form of each entry of a status line and of Python's `MultiDecoder.status()`.
std::string to_json(const StreamStatus& status);

/// One status line (without the newline): every stream's state and counters; `final` on the
/// last one, with `error` when closing the decoder failed.
std::string encode_decoder_status(const std::vector<StreamStatus>& statuses, bool final,
                                  const std::optional<std::string>& error = std::nullopt);

/// Applies one status line to a run's decoder table. False when the line is not a status line.
bool apply_decoder_status(std::string_view line, std::map<std::uint32_t, DecoderStream>& decoder);

}  // namespace framebus
