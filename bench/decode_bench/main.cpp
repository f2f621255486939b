// decode_bench: framebus::MultiDecoder against ffmpeg's own decode + BGR24 conversion, in one
// run. It generates its media with the ffmpeg CLI, alternates the systems within every
// repetition (framebus, ffmpeg, framebus, ffmpeg, ...) and prints medians and their ratio.

#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "ffmpeg_run.hpp"
#include "framebus_run.hpp"
#include "media.hpp"
#include "process.hpp"
#include "report.hpp"

namespace framebus::bench {
namespace {

// Generous bounds: a healthy run takes seconds; these exist only so a stall fails loudly.
constexpr std::chrono::seconds kGenerateTimeout{300};
constexpr std::chrono::seconds kRunTimeout{120};

void log_run(const char* workload, const char* system, int rep, const RunResult& r) {
  if (r.ok) {
    std::fprintf(stderr, "  rep %d %-6s %-8s %6llu frames in %7.3f s = %8.1f frames/s\n", rep, workload, system,
                 static_cast<unsigned long long>(r.frames), r.seconds, r.fps());
  } else {
    std::fprintf(stderr, "  rep %d %-6s %-8s FAILED: %s\n", rep, workload, system, r.error.c_str());
  }
}

int run(const Settings& settings, const std::string& json_path) {
  TempDir dir;
  std::fprintf(stderr, "decode_bench: generating %u x H.264 1080p (%u frames each) and %u JPEG 640x480 in %s\n",
               kVideoStreams, settings.frames, kImageCount, dir.path().c_str());
  const Media media = generate_media(dir.path(), settings.frames, kGenerateTimeout);

  const std::uint64_t video_total = static_cast<std::uint64_t>(media.video_frames) * media.videos.size();
  Comparison video{"video",
                   std::to_string(kVideoStreams) + " x H.264 1080p, " + std::to_string(settings.frames) + " fr",
                   {"framebus", {}},
                   {"ffmpeg", {}},
                   0.95};
  Comparison images{"images",
                    std::to_string(kImageCount) + " JPEG 640x480 (1 stream)",
                    {"framebus", {}},
                    {"ffmpeg", {}},
                    std::nullopt};

  for (int rep = 1; rep <= settings.reps && !stop_requested(); ++rep) {
    video.framebus.runs.push_back(run_framebus(media.videos, settings.threads, video_total, kRunTimeout));
    log_run("video", "framebus", rep, video.framebus.runs.back());
    video.reference.runs.push_back(run_ffmpeg(media.videos, settings.threads, video_total, kRunTimeout));
    log_run("video", "ffmpeg", rep, video.reference.runs.back());
    images.framebus.runs.push_back(run_framebus({media.image_dir}, settings.threads, media.image_count, kRunTimeout));
    log_run("images", "framebus", rep, images.framebus.runs.back());
    images.reference.runs.push_back(
        run_ffmpeg({media.image_pattern}, settings.threads, media.image_count, kRunTimeout));
    log_run("images", "ffmpeg", rep, images.reference.runs.back());
  }
  if (stop_requested()) {
    std::fprintf(stderr, "decode_bench: interrupted\n");
    return 130;
  }

  const std::vector<Comparison> comparisons{video, images};
  print_report(stdout, settings, comparisons);
  if (!json_path.empty() && !write_json(json_path, settings, comparisons)) {
    std::fprintf(stderr, "decode_bench: cannot write %s\n", json_path.c_str());
    return 1;
  }
  // Exit status 0 means "measured"; a missed goal is a finding, reported in the table, not a crash.
  for (const auto& c : comparisons) {
    if (!median_ratio(c)) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace framebus::bench

int main(int argc, char** argv) {
  using namespace framebus::bench;
  Settings settings;
  settings.frames = 150;
  std::string json_path;
  CLI::App app{"decode_bench: framebus MultiDecoder vs ffmpeg decode + BGR24 conversion"};
  app.add_option("--threads", settings.threads, "decoder threads per stream, for both systems")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--reps", settings.reps, "repetitions (medians are reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--frames", settings.frames, "frames per generated video stream")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--json", json_path, "write every run, the medians and the ratios to this file");
  CLI11_PARSE(app, argc, argv);

  install_stop_handlers();
  try {
    return run(settings, json_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decode_bench: %s\n", e.what());
    return 1;
  }
}
