// Sends one message through a channel and receives it: proves that an installed framebus can be
// compiled against, linked and run. Exit status 0 on success.

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>

#include <framebus/framebus.hpp>

int main() {
  const std::string name = "install_test." + std::to_string(::getpid());
  framebus::ProducerOptions options;
  options.slots = 2;
  options.slot_size = 64;
  options.groups = {{"check", std::nullopt}};
  options.linger = std::chrono::nanoseconds::zero();

  int status = 1;
  {
    auto producer = framebus::Producer::create(name, options);
    if (!producer) {
      std::fprintf(stderr, "Producer::create: %s\n", producer.error().message().c_str());
      return 1;
    }
    framebus::ConsumerOptions consumer_options;
    consumer_options.group = "check";
    auto consumer = framebus::Consumer::open(name, consumer_options);
    if (!consumer) {
      std::fprintf(stderr, "Consumer::open: %s\n", consumer.error().message().c_str());
    } else {
      const std::array<std::byte, 4> payload{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
      auto sent = producer->send(payload, framebus::MessageMeta{.stream = 7, .frame = 42});
      auto got = consumer->receive(std::chrono::seconds(5));
      if (!sent) {
        std::fprintf(stderr, "send: %s\n", sent.error().message().c_str());
      } else if (!got || !got->has_message()) {
        std::fprintf(stderr, "receive: %s\n", got ? "no message" : got.error().message().c_str());
      } else if (got->message.stream() != 7 || got->message.frame() != 42 || got->message.size() != 4 ||
                 got->message.data()[3] != std::byte{4}) {
        std::fprintf(stderr, "receive: wrong message\n");
      } else {
        std::printf("framebus %d.%d.%d: sent and received one message through %s\n", framebus::kVersionMajor,
                    framebus::kVersionMinor, framebus::kVersionPatch, name.c_str());
        status = 0;
      }
    }
  }
  (void)framebus::remove_channel(name);
  return status;
}
