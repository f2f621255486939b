// framebus read-frames SOURCE --stream N: a reader of the `queue` topology of `framebus run`
// (framebus::run_frame_reader), writing its frames down stdout.

#include <unistd.h>

#include <memory>

#include "commands.hpp"
#include "framebus/pipeline/children.hpp"

namespace framebus::cli {

void add_read_frames_command(CLI::App& app, int& status) {
  auto a = std::make_shared<FrameReaderOptions>();
  CLI::App* cmd = app.add_subcommand(
      "read-frames", "Decode a source with OpenCV and write its frames to stdout (the queue baseline of 'run').");
  cmd->group("");  // internal: started by `framebus run --topology queue`
  cmd->add_option("source", a->source, "Video file, URL or image folder")->required();
  cmd->add_option("--stream", a->stream, "Stream number written with each frame");
  cmd->add_option("--loop", a->loop, "Passes over the source");
  cmd->add_option("--width", a->width, "Output width (with --height)");
  cmd->add_option("--height", a->height, "Output height (with --width)");
  cmd->callback([a, &status] { status = run_frame_reader(*a, STDOUT_FILENO); });
}

}  // namespace framebus::cli
