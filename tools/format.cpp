#include "format.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ostream>
#include <string_view>
#include <utility>

#include "framebus/channel/options.hpp"

namespace framebus::cli {

Table::Table(std::vector<std::string> headers, std::vector<Align> align)
    : headers_(std::move(headers)), align_(std::move(align)) {
  align_.resize(headers_.size(), Align::left);
}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out, const std::string& indent) const {
  std::vector<std::size_t> width(headers_.size());
  for (std::size_t c = 0; c < headers_.size(); ++c) {
    width[c] = headers_[c].size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  auto print_line = [&](const std::vector<std::string>& cells) {
    std::string line = indent;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::size_t pad = width[c] - cells[c].size();
      const bool last = c + 1 == cells.size();
      if (align_[c] == Align::right) line.append(pad, ' ');
      line += cells[c];
      // No trailing blanks after the last column.
      if (align_[c] == Align::left && !last) line.append(pad, ' ');
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  print_line(headers_);
  for (const auto& row : rows_) print_line(row);
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  auto value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.1f %s", value, kUnits[unit]);
  return text.data();
}

std::string format_mode(std::uint32_t mode) {
  std::array<char, 16> text{};
  std::snprintf(text.data(), text.size(), "%04o", mode & 07777U);
  return text.data();
}

namespace {

std::string yes_no(bool value) { return value ? "yes" : "no"; }

// Group names come from shared memory that any participant may have scribbled on: control bytes
// (terminal escape sequences) and bytes outside ASCII are shown as \xNN, never sent as they are.
std::string shown(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string format_stream_drops(const std::vector<StreamDrops>& drops) {
  std::string text;
  for (const auto& d : drops) {
    if (d.dropped == 0) continue;
    if (!text.empty()) text += ' ';
    text += std::to_string(d.stream) + ":" + std::to_string(d.dropped);
  }
  return text.empty() ? "-" : text;
}

}  // namespace

void print_channel(std::ostream& out, const ChannelInfo& channel) {
  if (!channel.error.empty()) {
    out << channel.name << "  UNREADABLE  " << channel.path << '\n';
    out << "  error: " << channel.error << '\n';
    return;
  }
  out << channel.name << "  " << channel.slot_count << " slots x " << format_bytes(channel.slot_size) << "  ("
      << format_bytes(channel.total_bytes) << " mapped, mode " << format_mode(channel.mode) << ", uid "
      << channel.owner_uid << ")  " << channel.path << '\n';
  out << "  published " << channel.published << "  free slots " << channel.free_slots << "/" << channel.slot_count
      << "  lobby " << channel.lobby << "  end " << channel.end_reason << "  stale "
      << (channel.stale ? "YES (all participants dead; `framebus gc` removes it)" : "no") << '\n';
  if (channel.discarded != 0 || channel.reclaimed != 0 || channel.groups_removed != 0) {
    out << "  discarded " << channel.discarded << "  reclaimed from a dead run " << channel.reclaimed
        << "  groups removed " << channel.groups_removed << " (" << channel.group_released << " messages released)\n";
  }
  if (channel.lock_holder_pid != 0 && channel.lock_held_ms >= 100) {
    // A lock is held for microseconds: one held this long belongs to a stopped or stuck process.
    out << "  LOCK held by pid " << channel.lock_holder_pid << " for " << channel.lock_held_ms
        << " ms (stopped? `kill -CONT " << channel.lock_holder_pid << "`)\n";
  }

  if (channel.participants.empty()) {
    out << "  participants: none\n";
  } else {
    Table table({"PID", "ROLE", "GROUP", "ALIVE", "HELD"},
                {Table::Align::right, Table::Align::left, Table::Align::left, Table::Align::left, Table::Align::right});
    for (const auto& p : channel.participants) {
      table.add_row({std::to_string(p.pid), p.producer ? "producer" : "consumer",
                     p.producer || p.group.empty() ? "-" : shown(p.group), yes_no(p.alive), std::to_string(p.held)});
    }
    table.print(out, "  ");
  }

  if (channel.groups.empty()) {
    out << "  groups: none\n";
  } else {
    using A = Table::Align;
    Table table({"GROUP", "POLICY", "MEMBERS", "QUEUED", "HELD", "DELIVERED", "DROPPED", "REDELIVERED", "DEAD",
                 "DROPS BY STREAM"},
                {A::left, A::left, A::right, A::right, A::right, A::right, A::right, A::right, A::right, A::left});
    for (const auto& g : channel.groups) {
      std::string name = shown(g.name);
      if (g.blocking) name += " (BLOCKING)";
      table.add_row({name, std::string(to_string(g.policy)), std::to_string(g.members), std::to_string(g.queued),
                     std::to_string(g.held), std::to_string(g.delivered), std::to_string(g.dropped),
                     std::to_string(g.redelivered), std::to_string(g.dead_letters),
                     format_stream_drops(g.drops_by_stream)});
    }
    table.print(out, "  ");
    for (const auto& g : channel.groups) {
      if (g.blocking) {
        out << "  group " << shown(g.name) << " blocks the producer: no slot is free and " << g.pending
            << " wait for it"
            << (g.members == 0 ? " with no member to read them (`framebus rm " + channel.name + " --group " + g.name +
                                     "` removes it)"
                               : "")
            << '\n';
      }
      if (g.orphaned_ms > 0) {
        out << "  group " << shown(g.name) << ": its members died " << g.orphaned_ms
            << " ms ago; it is removed unless one joins within the grace\n";
      }
      for (const auto& d : g.recent_dead_letters) {
        out << "  group " << shown(g.name) << " dead letter: stream " << d.stream << " frame " << d.frame << " ("
            << d.deliveries << " deliveries, each consumer died)\n";
      }
    }
  }
}

nlohmann::ordered_json error_to_json(const Error& error) {
  return {{"code", std::string(to_string(error.code()))}, {"message", error.message()}};
}

}  // namespace framebus::cli
