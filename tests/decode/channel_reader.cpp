#include "decode/channel_reader.hpp"

#include <sstream>

namespace framebus::testing {

std::vector<ChannelRead> read_round_robin(std::vector<Consumer>& consumers, bool until_end_of_channel,
                                          std::chrono::milliseconds limit, std::chrono::milliseconds slice) {
  std::vector<ChannelRead> reads(consumers.size());
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto done = [&](const ChannelRead& r) {
    return r.failed || r.end_of_channel || (!until_end_of_channel && r.end_markers > 0);
  };
  auto all_done = [&] {
    for (const auto& r : reads) {
      if (!done(r)) return false;
    }
    return true;
  };
  while (!all_done() && std::chrono::steady_clock::now() < deadline) {
    for (std::size_t i = 0; i < consumers.size(); ++i) {
      ChannelRead& read = reads[i];
      if (done(read)) continue;
      auto received = consumers[i].receive(slice);
      if (!received) {
        read.failed = true;
        continue;
      }
      if (received->status == Received::Status::end_of_channel) {
        read.end_of_channel = true;
        continue;
      }
      if (!received->has_message()) continue;
      const Message& sample = received->message;
      if (sample.is_end_of_stream()) {
        ++read.end_markers;
        continue;
      }
      read.frames.push_back(Frame{sample.stream(), sample.frame(), sample.pts(), sample.flags(), sample.image(), {}});
    }
  }
  return reads;
}

std::string encode_read(const ChannelRead& read) {
  std::ostringstream out;
  out << read.end_markers << ' ' << (read.end_of_channel ? 1 : 0) << ' ' << (read.failed ? 1 : 0);
  for (const auto& f : read.frames) out << ' ' << f.stream << ':' << f.frame << ':' << f.pts << ':' << f.image.width;
  return out.str();
}

ChannelRead decode_read(const std::string& line) {
  ChannelRead read;
  std::istringstream in(line);
  int eoc = 0;
  int failed = 0;
  in >> read.end_markers >> eoc >> failed;
  read.end_of_channel = eoc != 0;
  read.failed = failed != 0;
  std::string item;
  while (in >> item) {
    Frame f;
    char colon = 0;
    std::istringstream fields(item);
    fields >> f.stream >> colon >> f.frame >> colon >> f.pts >> colon >> f.image.width;
    read.frames.push_back(f);
  }
  return read;
}

}  // namespace framebus::testing
