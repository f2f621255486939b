#include "checks.hpp"

#include <algorithm>

namespace framebus::torture {

namespace {

std::string message_name(std::uint64_t key) {
  return "stream " + std::to_string(key >> 40) + " message " + std::to_string(key & ((1ULL << 40) - 1));
}

class Checker {
 public:
  Checker(const TrialPlan& plan, DriverOutput& out) : plan_(plan), l_(out.ledger), fs_(out.final_state), r_(out.result) {}

  void run() {
    for (const std::string& e : l_.errors) add(ViolationKind::error, e);
    for (const std::string& e : l_.bad_checksums) add(ViolationKind::corruption, e);
    for (const std::string& e : l_.torn) add(ViolationKind::corruption, e);
    r_.delivered = l_.receipts;
    r_.redelivered = l_.flagged_receipts;
    if (!fs_.complete) return;  // an aborted trial has its hang; its counts prove nothing more
    if (fs_.have_info) {
      for (const GroupInfo& g : fs_.info.groups) r_.dropped += g.dropped;
    }
    check_receipts();
    const std::uint32_t eos = check_end_of_stream_markers();
    check_accounting(eos);
    check_leaks();
  }

 private:
  void add(ViolationKind kind, std::string what) { r_.violations.push_back({kind, std::move(what)}); }
  const std::string& group_name(std::size_t g) const { return plan_.groups[g].name; }

  // Nothing arrives that was not sent, and nothing arrives twice unless flagged redelivered.
  void check_receipts() {
    for (std::size_t g = 0; g < l_.data.size(); ++g) {
      for (const auto& [key, rc] : l_.data[g]) {
        if (l_.abandoned.count(key) != 0) {
          add(ViolationKind::corruption, "group " + group_name(g) + " received " + message_name(key) +
                                             ", sent into a channel whose participants all died before it was reclaimed");
        } else if (l_.discarded.count(key) != 0) {
          add(ViolationKind::corruption, "group " + group_name(g) + " received " + message_name(key) +
                                             ", whose loan the policies had discarded");
        } else if (l_.confirmed.count(key) == 0 && l_.uncertain.count(key) == 0) {
          add(ViolationKind::corruption, "group " + group_name(g) + " received " + message_name(key) + ", never sent");
        }
        if (rc.plain > 1) {
          add(ViolationKind::duplicate, "group " + group_name(g) + " received " + message_name(key) + " " +
                                            std::to_string(rc.plain) + " times without the redelivered flag");
        }
      }
    }
  }

  // Markers are never dropped: each one sent reaches every group. Returns how many were sent.
  std::uint32_t check_end_of_stream_markers() {
    std::set<std::uint32_t> seen;
    for (std::size_t g = 0; g < l_.eos.size(); ++g) {
      for (const auto& [stream, rc] : l_.eos[g]) {
        seen.insert(stream);
        if (l_.eos_confirmed.count(stream) == 0 && l_.eos_uncertain.count(stream) == 0) {
          add(ViolationKind::corruption, "group " + group_name(g) + " received end-of-stream " + std::to_string(stream) + ", never sent");
        }
        if (rc.plain > 1) {
          add(ViolationKind::duplicate, "group " + group_name(g) + " received end-of-stream " + std::to_string(stream) + " " +
                                            std::to_string(rc.plain) + " times without the redelivered flag");
        }
      }
    }
    seen.insert(l_.eos_confirmed.begin(), l_.eos_confirmed.end());
    for (std::size_t g = 0; g < l_.eos.size(); ++g) {
      for (const std::uint32_t stream : seen) {
        if (l_.eos[g].count(stream) == 0) {
          add(ViolationKind::loss, "group " + group_name(g) + " never received end-of-stream " + std::to_string(stream));
        }
      }
    }
    return static_cast<std::uint32_t>(seen.size());
  }

  // Per group: received + dropped = published. The channel's own counters say how many data
  // messages really entered it (a producer killed between loan and publish may or may not have
  // published); the group's drop counter must account for every one the group did not receive.
  void check_accounting(std::uint32_t eos) {
    if (!fs_.have_info) return;
    const std::uint64_t known = l_.confirmed.size() + l_.discarded.size();
    const std::uint64_t entered = fs_.published - std::min<std::uint64_t>(eos, fs_.published) + fs_.discarded;
    if (entered < known || entered > known + l_.uncertain.size()) {
      add(ViolationKind::loss, "the channel counts " + std::to_string(entered) + " data messages published or discarded (" +
                                   std::to_string(fs_.published) + " published, " + std::to_string(eos) +
                                   " of them end-of-stream markers, " + std::to_string(fs_.discarded) + " discarded), but " +
                                   std::to_string(known) + " were confirmed and " + std::to_string(l_.uncertain.size()) +
                                   " uncertain");
    }
    for (std::size_t g = 0; g < l_.data.size(); ++g) {
      const GroupInfo* info = nullptr;
      for (const GroupInfo& gi : fs_.info.groups) {
        if (gi.name == group_name(g)) info = &gi;
      }
      if (info == nullptr) {
        add(ViolationKind::loss, "group " + group_name(g) + " is missing from the channel");
        continue;
      }
      const std::uint64_t received = l_.data[g].size();
      // A message whose last receiver was killed went back to the queue; drop_oldest may have
      // dropped it there, counting a drop for a message the group did see.
      std::uint64_t requeued = 0;
      for (const auto& [key, rc] : l_.data[g]) requeued += l_.killed.count(rc.last_receiver) != 0 ? 1 : 0;
      const std::uint64_t missing = entered > received ? entered - received : 0;
      if (received > entered) {
        add(ViolationKind::corruption, "group " + group_name(g) + " received " + std::to_string(received) +
                                           " distinct messages, more than the " + std::to_string(entered) + " published");
      }
      if (info->dropped < missing) {
        add(ViolationKind::loss, "group " + group_name(g) + " (" + std::string(to_string(info->policy)) + ") lost " +
                                     std::to_string(missing - info->dropped) + " messages: " + std::to_string(missing) +
                                     " not received, " + std::to_string(info->dropped) + " counted as dropped");
      } else if (info->dropped > missing + requeued) {
        add(ViolationKind::loss, "group " + group_name(g) + " counts " + std::to_string(info->dropped) + " drops but only " +
                                     std::to_string(missing) + " messages are missing");
      }
      std::uint64_t logged = 0;
      for (const auto& [key, rc] : l_.data[g]) logged += rc.plain + rc.flagged;
      for (const auto& [stream, rc] : l_.eos[g]) logged += rc.plain + rc.flagged;
      if (info->delivered < logged) {
        add(ViolationKind::corruption, "group " + group_name(g) + " counts " + std::to_string(info->delivered) +
                                           " deliveries, fewer than the " + std::to_string(logged) + " its consumers logged");
      }
    }
  }

  void check_leaks() {
    if (fs_.have_info) {
      if (fs_.info.free_slots != fs_.info.slot_count) {
        add(ViolationKind::leak, std::to_string(fs_.info.slot_count - fs_.info.free_slots) + " of " +
                                     std::to_string(fs_.info.slot_count) + " slots not free with every participant idle");
      }
      for (const GroupInfo& g : fs_.info.groups) {
        if (g.queued != 0 || g.held != 0) {
          add(ViolationKind::leak, "group " + g.name + " still has " + std::to_string(g.queued) + " queued and " +
                                       std::to_string(g.held) + " held with every participant idle");
        }
      }
    }
    for (const std::string& file : fs_.shm_left) {
      add(ViolationKind::leak, "/dev/shm/" + file + " left behind after the last participant exited");
    }
  }

  const TrialPlan& plan_;
  Ledger& l_;
  FinalState& fs_;
  TrialResult& r_;
};

}  // namespace

void check_trial(const TrialPlan& plan, DriverOutput& out) { Checker(plan, out).run(); }

std::string_view to_string(ViolationKind kind) noexcept {
  switch (kind) {
    case ViolationKind::hang: return "hang";
    case ViolationKind::loss: return "loss";
    case ViolationKind::duplicate: return "duplicate";
    case ViolationKind::corruption: return "corruption";
    case ViolationKind::leak: return "leak";
    case ViolationKind::error: return "error";
  }
  return "unknown";
}

}  // namespace framebus::torture
