#pragma once
// A folder (or glob pattern) of pictures played as one stream: the files in sorted name order,
// one frame each. A picture that cannot be opened or decoded is reported and skipped; the stream
// goes on with the next one.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "decode/source.hpp"

namespace framebus::detail {

class ImageFolderSource final : public FrameSource {
 public:
  /// Lists the pictures (a folder: *.jpg, *.jpeg, *.png, *.bmp in any case; a glob: every regular
  /// file it matches). An empty list is an error naming the folder or pattern.
  static Result<std::unique_ptr<ImageFolderSource>> open(const SourceConfig& config, Interrupter& interrupter);

  Result<Pulled> next(AVFrame* frame) override;
  [[nodiscard]] double native_fps() const noexcept override { return config_.image_fps; }
  [[nodiscard]] std::uint64_t frame_count() const noexcept override { return files_.size(); }
  [[nodiscard]] const std::vector<std::string>& files() const noexcept { return files_; }

 private:
  ImageFolderSource(const SourceConfig& config, Interrupter& interrupter, std::vector<std::string> files);
  /// Moves on to the next picture; `problem` is the reason the current one is given up.
  Pulled skip_current(Error problem);

  SourceConfig config_;
  Interrupter& interrupter_;
  std::vector<std::string> files_;
  std::size_t index_ = 0;                 // the picture being decoded
  std::unique_ptr<MediaSource> current_;  // its decoder, once opened
  bool current_gave_frame_ = false;
};

/// The pictures of a folder, sorted by name.
Result<std::vector<std::string>> list_image_folder(const std::string& folder);
/// The regular files a glob pattern matches, sorted by name.
Result<std::vector<std::string>> list_image_glob(const std::string& pattern);

}  // namespace framebus::detail
