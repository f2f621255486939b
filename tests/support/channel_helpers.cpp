#include "support/channel_helpers.hpp"

#include <cstring>
#include <sstream>

namespace framebus::testing {

ProducerOptions small_channel(std::uint32_t slots, std::uint64_t slot_size) {
  ProducerOptions o;
  o.slots = slots;
  o.slot_size = slot_size;
  o.linger = std::chrono::seconds(5);
  o.block_timeout = std::chrono::seconds(10);
  return o;
}

Result<void> send_frame(Producer& producer, std::uint32_t stream, std::uint64_t frame) {
  std::uint64_t payload[2] = {stream, frame};
  MessageMeta meta;
  meta.stream = stream;
  meta.frame = frame;
  meta.pts = static_cast<std::int64_t>(frame) * 40'000;
  return producer.send(std::as_bytes(std::span(payload)), meta);
}

bool payload_matches(const Message& sample) {
  if (sample.size() != 16) return false;
  std::uint64_t payload[2];
  std::memcpy(payload, sample.data().data(), sizeof payload);
  return payload[0] == sample.stream() && payload[1] == sample.frame();
}

std::vector<Got> drain(Consumer& consumer, std::size_t limit, Duration gap) {
  std::vector<Got> out;
  while (out.size() < limit) {
    auto r = consumer.receive(gap);
    if (!r || r->status != Received::Status::message) break;
    const Message& s = r->message;
    out.push_back(Got{s.stream(), s.frame(), s.redelivered(), s.is_end_of_stream()});
  }
  return out;
}

std::future<Result<CloseReport>> close_in_background(Producer& producer) {
  return std::async(std::launch::async, [&producer] { return producer.close(); });
}

std::string encode(const std::vector<Got>& got) {
  std::string out;
  for (const Got& g : got) {
    out += std::to_string(g.stream) + ":" + std::to_string(g.frame) + ":" + (g.redelivered ? "1" : "0") + ":" +
           (g.end_of_stream ? "1" : "0") + ",";
  }
  return out;
}

std::vector<Got> decode(const std::string& text) {
  std::vector<Got> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    Got g;
    unsigned r = 0, e = 0;
    unsigned long long f = 0;
    if (std::sscanf(item.c_str(), "%u:%llu:%u:%u", &g.stream, &f, &r, &e) == 4) {
      g.frame = f;
      g.redelivered = r != 0;
      g.end_of_stream = e != 0;
      out.push_back(g);
    }
  }
  return out;
}

}  // namespace framebus::testing
