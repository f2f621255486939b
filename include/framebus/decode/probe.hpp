#pragma once
/// @file probe.hpp
/// probe_source: opens a source the way a MultiDecoder stream would, decodes its first frame and
/// reports what it is (size, rate, length), then lets it go. It answers "can this be read, and
/// how big are its frames?" before anything is created for it: a channel sized to the frames, a
/// progress estimate, or a clear error naming a path that does not exist, in well under a second
/// for a local file.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "framebus/error.hpp"

namespace framebus {

/// How long probing a network source may take (local files and folders are not bounded by
/// these: reading them cannot hang).
struct ProbeOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{5000};
};

/// What a source is, as its first decoded frame shows it.
struct SourceInfo {
  std::string source;
  /// "file", "network", "image_folder" or "image_glob": how a MultiDecoder reads it.
  std::string kind;
  /// The first frame's size in pixels (pictures of a folder may differ from one another).
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  /// The source's own frame rate; 0 when unknown. Image folders report 25 (the rate a stream
  /// gives their pictures unless StreamOptions::max_fps says otherwise).
  double native_fps = 0.0;
  /// Frames in one pass: the container's count or its duration times the rate for a file, the
  /// picture count for a folder or glob; 0 when unknown (live streams, some containers).
  std::uint64_t frames = 0;
};

/// How a MultiDecoder reads `source`, judged from the text alone (nothing is opened): "network" for
/// a URL with a scheme other than file:, "image_folder" for an existing directory, "image_glob"
/// for a pattern with * ? or [ that is not an existing file, otherwise "file".
std::string_view source_kind(const std::string& source);

/// Opens `source` (video file, URL, image folder or glob, as MultiDecoder::add_stream takes) and
/// decodes its first frame. Errors name the source: not_found (no such file or folder), an empty
/// folder, a file with no video stream or no decodable frame (invalid_argument or corrupt),
/// timeout (a network source that does not answer within the options' timeouts).
Result<SourceInfo> probe_source(const std::string& source, const ProbeOptions& options = {});

}  // namespace framebus
