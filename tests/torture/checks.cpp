#include "checks.hpp"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

namespace framebus::torture {

namespace {

constexpr std::uint64_t kRecentDeadLetters = 16;  // GroupInfo::recent_dead_letters keeps the last 16

std::uint32_t stream_of(std::uint64_t key) { return static_cast<std::uint32_t>(key >> 40); }

std::string message_name(std::uint64_t key) {
  return "stream " + std::to_string(stream_of(key)) + " message " + std::to_string(key & ((1ULL << 40) - 1));
}

// How many of a set of messages belong to each stream.
std::map<std::uint32_t, std::uint64_t> per_stream(const std::set<std::uint64_t>& keys) {
  std::map<std::uint32_t, std::uint64_t> n;
  for (const std::uint64_t key : keys) n[stream_of(key)] += 1;
  return n;
}

// The value at `key`, 0 when absent.
std::uint64_t at(const std::map<std::uint32_t, std::uint64_t>& m, std::uint32_t key) {
  const auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

class Checker {
 public:
  Checker(const TrialPlan& plan, DriverOutput& out)
      : plan_(plan), l_(out.ledger), fs_(out.final_state), r_(out.result) {}

  void run() {
    for (const std::string& e : l_.errors) add(ViolationKind::error, e);
    for (const std::string& e : l_.bad_checksums) add(ViolationKind::corruption, e);
    for (const std::string& e : l_.torn) add(ViolationKind::corruption, e);
    r_.delivered = l_.receipts;
    r_.redelivered = l_.flagged_receipts;
    if (!fs_.complete) return;  // an aborted trial has its hang; its counts prove nothing more
    if (fs_.have_info) {
      for (const GroupInfo& g : fs_.info.groups) {
        r_.dropped += g.dropped;
        r_.dropped_by_policy.at(static_cast<std::size_t>(g.policy)) += g.dropped;
      }
    }
    check_receipts();
    check_redeliveries();
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
          add(ViolationKind::corruption,
              "group " + group_name(g) + " received " + message_name(key) +
                  ", sent into a channel whose participants all died before it was reclaimed");
        } else if (l_.unsent.count(key) != 0) {
          add(ViolationKind::corruption, "group " + group_name(g) + " received " + message_name(key) +
                                             ", whose producer was killed before publishing it");
        } else if (l_.discarded.count(key) != 0) {
          add(ViolationKind::corruption,
              "group " + group_name(g) + " received " + message_name(key) + ", whose loan the policies had discarded");
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
          add(ViolationKind::corruption,
              "group " + group_name(g) + " received end-of-stream " + std::to_string(stream) + ", never sent");
        }
        if (rc.plain > 1) {
          add(ViolationKind::duplicate, "group " + group_name(g) + " received end-of-stream " + std::to_string(stream) +
                                            " " + std::to_string(rc.plain) + " times without the redelivered flag");
        }
      }
    }
    seen.insert(l_.eos_confirmed.begin(), l_.eos_confirmed.end());
    for (std::size_t g = 0; g < l_.eos.size(); ++g) {
      for (const std::uint32_t stream : seen) {
        if (l_.eos[g].count(stream) == 0) {
          add(ViolationKind::loss,
              "group " + group_name(g) + " never received end-of-stream " + std::to_string(stream));
        }
      }
    }
    return static_cast<std::uint32_t>(seen.size());
  }

  // A receipt flagged redelivered needs a death behind it: a consumer of the same group that had
  // taken that very message (reported it received and not released it) and was killed before the
  // flagged receipt. Each such death stands for one redelivery of each message it held. A consumer
  // killed in open ran unpaused until the kill, so it may have taken one message or marker that it
  // had not reported yet: each of those deaths may stand for one more flagged receipt in its group.
  void check_redeliveries() {
    for (std::uint32_t g = 0; g < l_.data.size(); ++g) {
      std::vector<const ConsumerDeath*> deaths;
      std::vector<std::int64_t> spare;  // consumers of the group killed in open, when
      for (const auto& [incarnation, d] : l_.consumer_deaths) {
        if (d.group != g) continue;
        deaths.push_back(&d);
        if (d.in_open) spare.push_back(d.signalled_ns);
      }
      std::vector<std::pair<std::int64_t, std::string>> unexplained;
      for (const auto& [key, rc] : l_.data[g]) {
        if (rc.redeliveries.empty()) continue;
        std::vector<std::int64_t> holders;  // deaths of consumers that held it
        for (const ConsumerDeath* d : deaths) {
          if (d->held.count(key) != 0) holders.push_back(d->signalled_ns);
        }
        std::vector<std::int64_t> again;
        for (const Receipts::Redelivery& r : rc.redeliveries) again.push_back(r.ns);
        std::sort(holders.begin(), holders.end());
        std::sort(again.begin(), again.end());
        // The i-th redelivery in time needs the i-th death of a holder before it.
        std::size_t next = 0;
        for (const std::int64_t ns : again) {
          if (next < holders.size() && holders[next] < ns) {
            ++next;
          } else {
            unexplained.emplace_back(ns, message_name(key));
          }
        }
      }
      for (const auto& [stream, rc] : l_.eos[g]) {
        for (const Receipts::Redelivery& r : rc.redeliveries)
          unexplained.emplace_back(r.ns, "end-of-stream " + std::to_string(stream));
      }
      std::sort(spare.begin(), spare.end());
      std::sort(unexplained.begin(), unexplained.end());
      std::size_t next = 0;
      for (const auto& [ns, what] : unexplained) {
        if (next < spare.size() && spare[next] < ns) {
          ++next;
          continue;
        }
        add(ViolationKind::duplicate,
            "group " + group_name(g) + " received " + what +
                " flagged redelivered, but no consumer of the group that had taken it died before");
      }
    }
  }

  // What each group's counters must say, given what its consumers reported and what the channel
  // counts as entered (published or discarded data messages):
  //   received + dropped - lost = entered, for the group and for each stream;
  // where `received` counts distinct messages the group received and `lost` those it received and
  // then lost again: the last consumer to take the message was killed holding it, and nobody took
  // it after it went back to the queue, so only drop_oldest can have dropped it. A block group
  // drops nothing of its own: only messages the whole channel discarded (see below).
  void check_accounting(std::uint32_t eos) {
    if (!fs_.have_info) return;
    const std::uint64_t known = l_.confirmed.size() + l_.discarded.size();
    const std::uint64_t entered = fs_.published - std::min<std::uint64_t>(eos, fs_.published) + fs_.discarded;
    if (entered < known || entered > known + l_.uncertain.size()) {
      add(ViolationKind::loss, "the channel counts " + std::to_string(entered) +
                                   " data messages published or discarded (" + std::to_string(fs_.published) +
                                   " published, " + std::to_string(eos) + " of them end-of-stream markers, " +
                                   std::to_string(fs_.discarded) + " discarded), but " + std::to_string(known) +
                                   " were confirmed and " + std::to_string(l_.uncertain.size()) + " uncertain");
    }
    // What entered per stream: confirmed for sure, uncertain maybe (a producer killed inside publish()).
    std::map<std::uint32_t, std::uint64_t> known_by_stream = per_stream(l_.confirmed);
    for (const auto& [stream, n] : per_stream(l_.discarded)) known_by_stream[stream] += n;
    const std::map<std::uint32_t, std::uint64_t> uncertain_by_stream = per_stream(l_.uncertain);
    std::set<std::uint32_t> streams;
    for (const ParticipantPlan& p : plan_.participants) {
      if (p.producer) streams.insert(p.stream);
    }

    for (std::uint32_t g = 0; g < l_.data.size(); ++g) {
      const GroupInfo* info = nullptr;
      for (const GroupInfo& gi : fs_.info.groups) {
        if (gi.name == group_name(g)) info = &gi;
      }
      if (info == nullptr) {
        add(ViolationKind::loss, "group " + group_name(g) + " is missing from the channel");
        continue;
      }
      const std::string who = "group " + group_name(g) + " (" + std::string(to_string(info->policy)) + ")";
      const std::uint64_t received = l_.data[g].size();
      std::map<std::uint32_t, std::uint64_t> received_by_stream;
      // Lost again after a death; "open": the holder was killed in open, and may have released it
      // unreported (then it is not lost). Those are the only tolerance below.
      std::map<std::uint32_t, std::uint64_t> lost, lost_open;
      for (const auto& [key, rc] : l_.data[g]) {
        received_by_stream[stream_of(key)] += 1;
        const auto death = l_.consumer_deaths.find(rc.last_receiver);
        if (death == l_.consumer_deaths.end() || death->second.held.count(key) == 0) continue;
        // Given up after max_deliveries (checked below): received, and not dropped either.
        if (dead_letter(*info, key)) continue;
        (death->second.in_open ? lost_open : lost)[stream_of(key)] += 1;
        if (!may_evict(plan_, g) && !death->second.in_open) {
          add(ViolationKind::loss, who + ": " + message_name(key) +
                                       " went back to the group when its consumer died, and nobody received it again");
        }
      }
      std::uint64_t lost_total = 0, lost_open_total = 0;
      for (const auto& [stream, n] : lost) lost_total += n;
      for (const auto& [stream, n] : lost_open) lost_open_total += n;

      if (received > entered) {
        add(ViolationKind::corruption, who + " received " + std::to_string(received) +
                                           " distinct messages, more than the " + std::to_string(entered) +
                                           " published");
      }
      const std::uint64_t dropped = info->dropped;
      if (info->policy == Policy::block && dropped != 0) {
        // Design (docs/design.md, back-pressure): a producer that finds no free slot for a block
        // group evicts a message only drop groups wait for, or waits; a block group never loses
        // a message, not even one the whole channel discards.
        add(ViolationKind::loss, who + " counts " + std::to_string(dropped) + " drops (" +
                                     std::to_string(info->expired) +
                                     " of them expired at a close); a block group must drop nothing");
      }
      check_dead_letters(g, *info);
      // received + dropped - lost = entered, lost in [lost_total, lost_total + lost_open_total].
      if (received + dropped < entered + lost_total || received + dropped > entered + lost_total + lost_open_total) {
        add(ViolationKind::loss,
            who + " counts " + std::to_string(dropped) + " drops: " + std::to_string(entered) +
                " messages entered the channel, the group received " + std::to_string(received) + " (" +
                std::to_string(lost_total) + " of them lost again after their consumer died" +
                (lost_open_total != 0 ? ", " + std::to_string(lost_open_total) + " maybe" : std::string()) + ")");
      }
      // The same per stream: what entered is exact unless a producer of the stream was killed
      // inside publish() (uncertain), then a range.
      std::uint64_t by_stream_sum = 0;
      std::map<std::uint32_t, std::uint64_t> dropped_by_stream;
      for (const StreamDrops& d : info->drops_by_stream) {
        dropped_by_stream[d.stream] += d.dropped;
        by_stream_sum += d.dropped;
        if (streams.count(d.stream) == 0) {
          add(ViolationKind::corruption, who + " counts " + std::to_string(d.dropped) + " drops of stream " +
                                             std::to_string(d.stream) + ", which carries no data");
        }
      }
      if (by_stream_sum != dropped) {
        add(ViolationKind::loss,
            who + " counts " + std::to_string(dropped) + " drops, but " + std::to_string(by_stream_sum) + " by stream");
      }
      for (const std::uint32_t stream : streams) {
        // entered_s = received_s + dropped_s - lost_s, lost_s in [lost, lost + lost_open].
        const std::uint64_t got = at(received_by_stream, stream) + at(dropped_by_stream, stream);
        const std::uint64_t hi = got - std::min(got, at(lost, stream));
        const std::uint64_t lo = hi - std::min(hi, at(lost_open, stream));
        const std::uint64_t known_s = at(known_by_stream, stream);
        const std::uint64_t max_s = known_s + at(uncertain_by_stream, stream);
        if (hi < known_s || lo > max_s) {
          add(ViolationKind::loss, who + ", stream " + std::to_string(stream) + ": received " +
                                       std::to_string(at(received_by_stream, stream)) + ", dropped " +
                                       std::to_string(at(dropped_by_stream, stream)) + ", lost again " +
                                       std::to_string(at(lost, stream)) + ", but " + std::to_string(known_s) +
                                       " entered" +
                                       (max_s != known_s ? " (up to " + std::to_string(max_s) + ")" : std::string()));
        }
      }

      // Every take is reported, but a consumer killed in open may have taken one message or
      // marker unreported.
      std::uint64_t logged = 0;
      for (const auto& [key, rc] : l_.data[g]) logged += rc.plain + rc.flagged;
      for (const auto& [stream, rc] : l_.eos[g]) logged += rc.plain + rc.flagged;
      std::uint64_t held_at_death = 0, open_deaths = 0;
      for (const auto& [incarnation, d] : l_.consumer_deaths) {
        if (d.group != g) continue;
        held_at_death += d.held.size();
        open_deaths += d.in_open ? 1 : 0;
      }
      if (info->delivered < logged || info->delivered > logged + open_deaths) {
        add(ViolationKind::corruption,
            who + " counts " + std::to_string(info->delivered) + " deliveries, but its consumers reported " +
                std::to_string(logged) +
                (open_deaths != 0 ? " (and " + std::to_string(open_deaths) + " were killed in open)" : std::string()));
      }
      // Each sample a killed consumer held went back once, or was given up as a dead letter (give
      // or take one per consumer killed in open).
      const std::uint64_t back = info->redelivered + info->dead_letters;
      if (back + open_deaths < held_at_death || back > held_at_death + open_deaths) {
        add(ViolationKind::corruption,
            who + " counts " + std::to_string(info->redelivered) + " redelivered samples and " +
                std::to_string(info->dead_letters) + " dead letters, but its killed consumers held " +
                std::to_string(held_at_death) +
                (open_deaths != 0 ? " (and " + std::to_string(open_deaths) + " were killed in open)" : std::string()));
      }
    }
  }

  static bool dead_letter(const GroupInfo& info, std::uint64_t key) {
    return std::any_of(info.recent_dead_letters.begin(), info.recent_dead_letters.end(),
                       [&](const DeadLetter& d) { return message_key(d.stream, d.frame) == key; });
  }

  // A message that max_deliveries consumers of the group took and died holding is a dead letter of
  // the group, never received again; nothing else is. The deaths are those the ledger knows (a
  // consumer killed in open may have taken it unreported: one more each).
  void check_dead_letters(std::uint32_t g, const GroupInfo& info) {
    std::map<std::uint64_t, std::uint32_t> holders;  // message -> killed consumers that held it
    std::uint32_t open_deaths = 0;
    for (const auto& [incarnation, d] : l_.consumer_deaths) {
      if (d.group != g) continue;
      open_deaths += d.in_open ? 1 : 0;
      for (const std::uint64_t key : d.held) holders[key] += 1;
    }
    const std::string who = "group " + group_name(g);
    const std::uint32_t limit = info.max_deliveries;
    std::uint64_t certain = 0;
    for (const auto& [key, n] : holders) {
      if (limit == 0 || n < limit) continue;
      certain += 1;
      if (info.dead_letters <= kRecentDeadLetters && !dead_letter(info, key)) {
        add(ViolationKind::loss, who + ": " + message_name(key) + " killed " + std::to_string(n) +
                                     " of its consumers but is not among its dead letters");
      }
    }
    if (info.dead_letters < certain || info.dead_letters > certain + open_deaths) {
      add(ViolationKind::loss,
          who + " counts " + std::to_string(info.dead_letters) + " dead letters, but " + std::to_string(certain) +
              " messages killed " + std::to_string(limit) + " of its consumers" +
              (open_deaths != 0 ? " (" + std::to_string(open_deaths) + " more killed in open)" : std::string()));
    }
    for (const DeadLetter& d : info.recent_dead_letters) {
      const std::uint64_t key = message_key(d.stream, d.frame);
      const auto it = holders.find(key);
      const std::uint32_t n = it == holders.end() ? 0 : it->second;
      if (n + open_deaths < limit || d.deliveries != limit) {
        add(ViolationKind::duplicate, who + " gave " + message_name(key) + " up after " + std::to_string(d.deliveries) +
                                          " deliveries, but only " + std::to_string(n) +
                                          " of its consumers died holding it");
      }
      const auto rc = l_.data[g].find(key);
      if (rc != l_.data[g].end() && l_.consumer_deaths.count(rc->second.last_receiver) == 0) {
        add(ViolationKind::duplicate, who + " received " + message_name(key) + " after giving it up as a dead letter");
      }
    }
  }

  void check_leaks() {
    if (fs_.have_info) {
      if (fs_.info.free_slots != fs_.info.slot_count) {
        add(ViolationKind::leak, std::to_string(fs_.info.slot_count - fs_.info.free_slots) + " of " +
                                     std::to_string(fs_.info.slot_count) +
                                     " slots not free with every participant idle");
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
    case ViolationKind::hang:
      return "hang";
    case ViolationKind::loss:
      return "loss";
    case ViolationKind::duplicate:
      return "duplicate";
    case ViolationKind::corruption:
      return "corruption";
    case ViolationKind::leak:
      return "leak";
    case ViolationKind::error:
      return "error";
  }
  return "unknown";
}

}  // namespace framebus::torture
