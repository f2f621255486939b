#include "run/source_args.hpp"

#include "typed_options.hpp"

namespace framebus::cli {

void add_source_options(CLI::App& cmd, SourceOptions& source) {
  cmd.add_option("--loop", source.loop, "Passes over each source (0: until stopped)")->capture_default_str();
  cmd.add_flag_callback(
      "--forever", [&source] { source.loop = SourceOptions::kLoopForever; },
      "Loop every source until stopped (Ctrl-C)");
  cmd.add_option("--max-fps", source.max_fps, "Publish at most this many frames per second per stream")
      ->check(non_negative());
  cmd.add_flag("--realtime", source.realtime, "Pace each source at its own frame rate, like a live camera");
  cmd.add_flag("--reconnect", source.reconnect, "Reopen lost network sources with backoff");
  cmd.add_option("--width", source.width, "Decode to this width (0: the source's)");
  cmd.add_option("--height", source.height, "Decode to this height (0: the source's)");
  cmd.add_option("--decode-threads", source.decode_threads, "Decoder threads per stream")->capture_default_str();
}

}  // namespace framebus::cli
