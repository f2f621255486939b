// framebus decode SOURCE... --channel NAME [--channel-per-stream]: a decode process. Decodes every
// source into the channel, or source i into channel NAME.i (one thread per stream), shows a live
// status line per stream, and exits when every stream that does not loop forever has ended (or on
// Ctrl-C / SIGTERM).

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "framebus/channel/admin.hpp"
#include "framebus/channel/producer.hpp"
#include "framebus/decode/decoder.hpp"
#include "framebus/pipeline/decoder_process.hpp"
#include "typed_options.hpp"

namespace framebus::cli {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct DecodeOptions {
  std::vector<std::string> sources;
  std::string channel;
  bool channel_per_stream = false;
  std::uint32_t slots = 16;
  std::string slot_size = "8MiB";
  std::string policy = "block";
  std::vector<std::string> groups;
  double linger = 10.0;
  std::uint32_t loop = 1;
  bool forever = false;
  std::uint32_t skip = 0;
  double max_fps = 0.0;
  bool realtime = false;
  bool reconnect = false;
  double connect_timeout = 5.0;
  double read_timeout = 5.0;
  std::uint32_t max_reconnects = 0;
  double reconnect_delay = 0.25;
  std::string format = "bgr24";
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  int threads = 0;
  double interval = 1.0;
  bool status_json = false;
  std::vector<std::string> stream_options;  // I:key=value,... (framebus run)
};

std::string status_line(const StreamStatus& s, double fps) {
  char line[512];
  std::snprintf(line, sizeof line, "[%u] %-12s %7.1f fps %9llu frames %7llu dropped %6llu skipped %4llu errors  %s%s%s",
                s.id, std::string(to_string(s.state)).c_str(), fps, static_cast<unsigned long long>(s.published),
                static_cast<unsigned long long>(s.dropped), static_cast<unsigned long long>(s.skipped),
                static_cast<unsigned long long>(s.decode_errors), s.source.c_str(), s.message.empty() ? "" : ": ",
                s.message.c_str());
  return line;
}

std::chrono::milliseconds milliseconds(double seconds) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(seconds));
}

// `--stream-options I:loop=N,max_fps=F,realtime=0|1,reconnect=0|1,width=W,height=H,threads=T`:
// stream I decoded otherwise than the rest (the keys given replace `base`'s).
bool parse_stream_options(const std::string& spec, const StreamOptions& base,
                          std::map<std::size_t, StreamOptions>& out) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos) return false;
  try {
    StreamOptions s = base;
    std::string rest = spec.substr(colon + 1);
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string item = rest.substr(0, comma);
      rest = comma == std::string::npos ? std::string() : rest.substr(comma + 1);
      const auto eq = item.find('=');
      if (eq == std::string::npos) return false;
      const std::string key = item.substr(0, eq);
      const std::string value = item.substr(eq + 1);
      if (key == "loop") {
        s.loop = static_cast<std::uint32_t>(std::stoul(value));
      } else if (key == "max_fps") {
        s.max_fps = std::stod(value);
      } else if (key == "realtime") {
        s.realtime = value == "1";
      } else if (key == "reconnect") {
        s.reconnect = value == "1";
      } else if (key == "width") {
        s.width = static_cast<std::uint32_t>(std::stoul(value));
      } else if (key == "height") {
        s.height = static_cast<std::uint32_t>(std::stoul(value));
      } else if (key == "threads") {
        s.threads = std::stoi(value);
      } else {
        return false;
      }
    }
    out[std::stoul(spec.substr(0, colon))] = s;
  } catch (const std::exception&) {  // std::stoul and friends on a value that is not a number
    return false;
  }
  return true;
}

int run_decode(const DecodeOptions& o) {
  auto fail = [](const Error& e) {
    std::cerr << "framebus decode: " << e.message() << '\n';
    return kExitFailure;
  };
  DecoderProcessOptions options;
  options.sources = o.sources;
  options.channel = o.channel;
  options.channel_per_stream = o.channel_per_stream;
  ProducerOptions& producer = options.producer;
  producer.slots = o.slots;
  producer.linger = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.linger));
  auto slot_size = parse_size(o.slot_size);
  auto policy = parse_policy(o.policy);
  auto format = parse_pixel_format(o.format);
  if (!slot_size) return fail(slot_size.error());
  if (!policy) return fail(policy.error());
  if (!format) return fail(format.error());
  producer.slot_size = *slot_size;
  producer.policy = *policy;
  for (const auto& g : o.groups) producer.groups.push_back(GroupSpec{g, std::nullopt});
  StreamOptions& stream = options.stream;
  stream.loop = o.forever ? StreamOptions::kLoopForever : o.loop;
  stream.frame_skip = o.skip;
  stream.max_fps = o.max_fps;
  stream.realtime = o.realtime;
  stream.reconnect = o.reconnect;
  stream.connect_timeout = milliseconds(o.connect_timeout);
  stream.read_timeout = milliseconds(o.read_timeout);
  stream.max_reconnects = o.max_reconnects;
  stream.reconnect_delay = milliseconds(o.reconnect_delay);
  stream.threads = o.threads;
  stream.width = o.width;
  stream.height = o.height;
  stream.format = *format;
  for (const auto& spec : o.stream_options) {
    if (!parse_stream_options(spec, stream, options.per_stream)) {
      return fail(Error(ErrorCode::invalid_argument, "--stream-options '" + spec + "': I:key=value,... is expected"));
    }
  }
  const auto interval = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.interval));

  struct sigaction sa {};
  sa.sa_handler = &on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  // For a supervising process (framebus run): one status line per interval on stdout.
  if (o.status_json) return run_decoder_child(options, interval, g_stop, std::cout);

  auto decoder = DecoderProcess::start(options);
  if (!decoder) return fail(decoder.error());
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  std::map<std::uint32_t, std::uint64_t> last_published;
  std::size_t drawn = 0;
  for (;;) {
    const bool done = decoder->wait(interval);
    const auto statuses = decoder->statuses();
    if (tty && drawn > 0) std::cerr << "\033[" << drawn << "A";
    for (const auto& s : statuses) {
      const double fps = static_cast<double>(s.published - last_published[s.id]) / o.interval;
      last_published[s.id] = s.published;
      std::cerr << (tty ? "\033[K" : "") << status_line(s, fps) << '\n';
    }
    drawn = statuses.size();
    if (done || g_stop.load()) break;
  }
  decoder->stop();
  int status = kExitOk;
  std::cout << "stream  state         frames  dropped  skipped  errors  reconnects  source\n";
  for (const auto& s : decoder->statuses()) {
    std::printf("%6u  %-12s %7llu  %7llu  %7llu  %6llu  %10llu  %s\n", s.id, std::string(to_string(s.state)).c_str(),
                static_cast<unsigned long long>(s.published), static_cast<unsigned long long>(s.dropped),
                static_cast<unsigned long long>(s.skipped), static_cast<unsigned long long>(s.decode_errors),
                static_cast<unsigned long long>(s.reconnects), s.source.c_str());
    if (s.state == StreamState::error) {
      std::printf("        error: %s\n", s.message.c_str());
      status = kExitFailure;
    }
  }
  std::fflush(stdout);
  if (auto closed = decoder->close(); !closed) {
    std::cerr << "framebus decode: " << closed.error().message() << '\n';
    status = kExitFailure;
  }
  return status;
}

}  // namespace

void add_decode_command(CLI::App& app, int& status) {
  auto o = std::make_shared<DecodeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "decode",
      "Decode video files, URLs (rtsp://, http://, udp://) and image folders into a channel, one stream each.");
  cmd->add_option("sources", o->sources,
                  "Video files, URLs, image folders or globs (stream ids 0, 1, ... in this order)")
      ->required();
  cmd->add_option("--channel", o->channel, "Channel to publish into (created if missing)")->required();
  cmd->add_flag(
      "--channel-per-stream", o->channel_per_stream,
      "Publish stream i into its own channel NAME.i (NAME.0, NAME.1, ...), so an unread stream stalls only itself");
  cmd->add_option("--slots", o->slots, "Slots of a new channel")->capture_default_str();
  cmd->add_option("--slot-size", o->slot_size, "Slot size of a new channel, e.g. 8MiB")->capture_default_str();
  cmd->add_option("--policy", o->policy, "block, drop_oldest or drop_newest")->capture_default_str();
  cmd->add_option("--group", o->groups, "Consumer groups that receive from the first frame");
  cmd->add_option("--linger", o->linger, "Seconds to wait at the end for consumers to take the last frames")
      ->capture_default_str()
      ->check(non_negative());
  cmd->add_option("--loop", o->loop, "Passes over each source")->capture_default_str();
  cmd->add_flag("--forever", o->forever, "Loop every source until stopped (Ctrl-C)");
  cmd->add_option("--skip", o->skip, "Keep one frame in N+1")->capture_default_str();
  cmd->add_option("--max-fps", o->max_fps, "Publish at most this many frames per second per stream (0: no cap)")
      ->check(non_negative());
  cmd->add_flag("--realtime", o->realtime, "Pace each source at its own frame rate, like a live camera");
  cmd->add_flag("--reconnect", o->reconnect, "Reopen lost network sources with backoff");
  cmd->add_option("--connect-timeout", o->connect_timeout,
                  "Seconds a network source may take to open (connect, handshake, probe)")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--read-timeout", o->read_timeout, "Seconds a network source may stay silent")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--max-reconnects", o->max_reconnects, "With --reconnect: attempts before giving up (0: never)")
      ->capture_default_str();
  cmd->add_option("--reconnect-delay", o->reconnect_delay,
                  "With --reconnect: seconds before the first reopen; doubles on each failure, up to 5 s")
      ->capture_default_str()
      ->check(positive());
  cmd->add_option("--format", o->format, "bgr24, rgb24, gray8, nv12 or yuv420p")->capture_default_str();
  cmd->add_option("--width", o->width, "Output width (0: the source's)");
  cmd->add_option("--height", o->height, "Output height (0: the source's)");
  cmd->add_option("--threads", o->threads, "Decoder threads per stream (0: FFmpeg decides)");
  cmd->add_option(
         "--stream-options", o->stream_options,
         "Stream I decoded otherwise: I:loop=N,max_fps=F,realtime=0|1,reconnect=0|1,width=W,height=H,threads=T")
      ->group("");  // written by framebus run for its per-source options
  cmd->add_flag("--status-json", o->status_json, "Report statuses as JSON lines on stdout (for a supervising program)");
  cmd->add_option("--status-interval", o->interval, "Seconds between status lines")
      ->capture_default_str()
      ->check(positive());
  cmd->callback([o, &status] { status = run_decode(*o); });
}

}  // namespace framebus::cli
