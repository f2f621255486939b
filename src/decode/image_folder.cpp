#include "decode/image_folder.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace framebus::detail {

namespace {

bool has_image_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  constexpr std::array<std::string_view, 4> kExtensions{".jpg", ".jpeg", ".png", ".bmp"};
  return std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Result<std::vector<std::string>> list_image_folder(const std::string& folder) {
  std::error_code ec;
  std::vector<std::string> files;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (has_image_extension(it->path()) && !it->is_directory(ec)) files.push_back(it->path().string());
  }
  if (ec) return make_error(ErrorCode::system, "image folder '" + folder + "': cannot list: " + ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty())
    return make_error(ErrorCode::not_found, "image folder '" + folder + "': no .jpg, .jpeg, .png or .bmp file");
  return files;
}

Result<std::vector<std::string>> list_image_glob(const std::string& pattern) {
  glob_t matches{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);  // sorted by name
  std::vector<std::string> files;
  if (rc == 0) {
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) {
      if (is_regular_file(matches.gl_pathv[i])) files.emplace_back(matches.gl_pathv[i]);
    }
  }
  ::globfree(&matches);
  if (rc != 0 && rc != GLOB_NOMATCH)
    return make_error(ErrorCode::system, "image pattern '" + pattern + "': glob failed");
  if (files.empty()) return make_error(ErrorCode::not_found, "image pattern '" + pattern + "': matches no file");
  return files;
}

ImageFolderSource::ImageFolderSource(const SourceConfig& config, Interrupter& interrupter,
                                     std::vector<std::string> files)
    : config_(config), interrupter_(interrupter), files_(std::move(files)) {}

Result<std::unique_ptr<ImageFolderSource>> ImageFolderSource::open(const SourceConfig& config,
                                                                   Interrupter& interrupter) {
  auto files =
      config.kind == SourceKind::image_glob ? list_image_glob(config.source) : list_image_folder(config.source);
  if (!files) return tl::unexpected(files.error());
  return std::unique_ptr<ImageFolderSource>(new ImageFolderSource(config, interrupter, std::move(*files)));
}

Pulled ImageFolderSource::skip_current(Error problem) {
  current_.reset();
  current_gave_frame_ = false;
  ++index_;
  return Pulled{Pulled::Kind::bad, 0, false, std::move(problem)};
}

Result<Pulled> ImageFolderSource::next(AVFrame* frame) {
  while (index_ < files_.size()) {
    if (!current_) {
      SourceConfig image = config_;
      image.source = files_[index_];
      image.kind = SourceKind::file;
      image.single_image = true;
      auto opened = MediaSource::open(image, interrupter_);
      if (!opened) {
        if (interrupter_.stop_requested()) return tl::unexpected(opened.error());
        return skip_current(opened.error());
      }
      current_ = std::move(*opened);
    }
    auto pulled = current_->next(frame);
    if (!pulled) {
      if (interrupter_.stop_requested()) return tl::unexpected(pulled.error());
      return skip_current(pulled.error());
    }
    switch (pulled->kind) {
      case Pulled::Kind::bad:
        return skip_current(std::move(*pulled->problem));
      case Pulled::Kind::frame:
        // A picture has no time of its own: its place in the list gives it one.
        pulled->pts_us =
            std::llround(static_cast<double>(index_) * 1e6 / (config_.image_fps > 0 ? config_.image_fps : 25.0));
        pulled->key_frame = true;
        current_gave_frame_ = true;
        return pulled;
      case Pulled::Kind::end:
        if (!current_gave_frame_) {
          return skip_current(Error(ErrorCode::corrupt, "image '" + files_[index_] + "': no picture decoded"));
        }
        current_.reset();
        current_gave_frame_ = false;
        ++index_;
        break;
    }
  }
  return Pulled{};
}

}  // namespace framebus::detail
