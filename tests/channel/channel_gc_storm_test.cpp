// `framebus gc` and the reclaiming of dead channels never remove a live channel: producers are
// killed with SIGKILL and re-created under the same names while two gc loops run, and every live
// producer keeps checking that its channel's name still refers to the very file it maps.
// Lasts FRAMEBUS_STORM_SECONDS if set, else 60 s (15 s in sanitizer builds).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::Pipe;
using testing::unique_name;

#ifndef FRAMEBUS_STORM_DEFAULT_SECONDS
#define FRAMEBUS_STORM_DEFAULT_SECONDS 60
#endif

std::chrono::seconds storm_duration() {
  const char* text = std::getenv("FRAMEBUS_STORM_SECONDS");
  const long seconds = text != nullptr ? std::strtol(text, nullptr, 10) : 0;
  return std::chrono::seconds(seconds > 0 ? seconds : FRAMEBUS_STORM_DEFAULT_SECONDS);
}

// "" while the channel this process maps is the file that `path` names; else what is wrong.
// /proc/self/maps shows the inode of every mapped file, whatever name it had when it was mapped
// (a creator maps its channel under the temporary name it linked to `path`).
std::string channel_lost(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::vector<unsigned long> mapped;
  while (std::getline(maps, line)) {
    // Fields: address perms offset dev inode path, the path followed by " (deleted)" if unlinked.
    std::istringstream fields(line);
    std::string address, perms, offset, dev, file;
    unsigned long inode = 0;
    fields >> address >> perms >> offset >> dev >> inode;
    std::getline(fields >> std::ws, file);
    if (file == path || file == path + " (deleted)" || file.rfind(path + ".creating-", 0) == 0) mapped.push_back(inode);
  }
  if (mapped.empty()) return "no mapping of " + path;
  for (const unsigned long inode : mapped) {
    if (inode != mapped.front()) return "more than one channel file mapped";
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "the name is gone while its producer lives";
  if (st.st_ino != mapped.front()) return "the name refers to another file than the one the producer maps";
  return "";
}

// A producer that publishes and checks its channel until it is killed; "up" once it is created,
// "lost: ..." if its channel was removed or replaced under it.
std::unique_ptr<Child> start_producer(const std::string& name, Pipe& report) {
  return std::make_unique<Child>([&report, name] {
    report.close_read();
    auto opts = testing::small_channel(4, 1024);
    opts.policy = Policy::drop_oldest;  // nobody consumes: the oldest message makes room
    opts.groups = {{"g", Policy::drop_oldest}};
    auto tx = Producer::create(name, opts);
    if (!tx) {
      report.send("failed: " + tx.error().message());
      return 2;
    }
    report.send("up");
    for (std::uint64_t frame = 0;; ++frame) {
      if (auto sent = testing::send_frame(*tx, 0, frame); !sent) {
        report.send("lost: publish failed: " + sent.error().message());
        return 3;
      }
      if (const std::string lost = channel_lost(channel_path(name)); !lost.empty()) {
        report.send("lost: " + lost);
        return 4;
      }
    }
  });
}

TEST(GcStorm, kill9_and_recreate_under_two_gc_loops_never_loses_a_live_channel) {
  constexpr int kNames = 3;
  const auto duration = storm_duration();
  std::vector<std::string> names;
  for (int i = 0; i < kNames; ++i) names.push_back(unique_name("storm" + std::to_string(i)));

  // Two gc loops, as two `framebus gc` run in a loop would.
  std::vector<std::unique_ptr<Child>> gcs;
  for (int i = 0; i < 2; ++i) {
    gcs.push_back(std::make_unique<Child>([] {
      for (;;) (void)collect_garbage();
      return 0;
    }));
  }

  std::mt19937 random(12345);
  std::uniform_int_distribution<int> lifetime_us(0, 20000);
  const auto end = std::chrono::steady_clock::now() + duration;
  int generations = 0;
  std::vector<std::string> problems;
  while (std::chrono::steady_clock::now() < end && problems.empty()) {
    // One generation: every name gets a fresh producer, which lives a random moment and is
    // killed; the next generation re-creates the names over the dead channels.
    std::vector<std::unique_ptr<Pipe>> reports;
    std::vector<std::unique_ptr<Child>> producers;
    for (const auto& name : names) {
      reports.push_back(std::make_unique<Pipe>());
      producers.push_back(start_producer(name, *reports.back()));
      reports.back()->close_write();
    }
    for (int i = 0; i < kNames; ++i) {
      const auto up = reports[i]->receive(10s);
      if (up != "up") problems.push_back(names[i] + ": " + up.value_or("no report"));
    }
    // The random lifetime is what varies the moment of death, not a synchronisation.
    std::this_thread::sleep_for(std::chrono::microseconds(lifetime_us(random)));
    for (int i = 0; i < kNames; ++i) {
      producers[i]->kill9();
      // Whatever it reported before it died (a loss is reported, then it exits).
      while (auto line = reports[i]->receive(0ms)) problems.push_back(names[i] + ": " + *line);
    }
    ++generations;
  }
  for (auto& gc : gcs) gc->kill9();
  EXPECT_TRUE(problems.empty()) << problems.size() << " problems in " << generations
                                << " generations, first: " << (problems.empty() ? "" : problems.front());
  EXPECT_GT(generations, 10);
  for (const auto& name : names) (void)remove_channel(name);
}

}  // namespace
}  // namespace framebus
