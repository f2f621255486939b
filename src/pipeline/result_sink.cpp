// Reordering: per stream, results ahead of the next frame wait in a map; the next frame is
// emitted as soon as it arrives, or as a gap once it has been missing for gap_timeout.

#include "framebus/pipeline/result_sink.hpp"

#include <algorithm>
#include <utility>

namespace framebus {

ResultSink::ResultSink(SinkOptions options, Emit emit) : options_(options), emit_(std::move(emit)) {}

bool ResultSink::was_gap(const StreamState& state, std::uint64_t frame) const noexcept {
  // Ranges are appended in increasing order: binary search on their first frame.
  auto it = std::upper_bound(state.gaps.begin(), state.gaps.end(), frame,
                             [](std::uint64_t f, const auto& range) { return f < range.first; });
  if (it == state.gaps.begin()) return false;
  --it;
  return frame <= it->second;
}

void ResultSink::add(InferenceResult result, std::int64_t now_ns) {
  const std::uint32_t stream = result.stream;
  auto& tally = tallies_[stream];
  auto& state = states_[stream];
  if (result.kind == InferenceResult::Kind::end_of_stream) {
    // A second marker (a redelivered one) says the same; the first count stands.
    if (!tally.frame_count) {
      tally.frame_count = result.frame;
      state.end_arrived_ns = now_ns;
    }
    emit_ready(stream);
    return;
  }
  const std::uint64_t frame = result.frame;
  if (frame < tally.next) {
    ++(was_gap(state, frame) ? tally.late : tally.duplicates);
    return;
  }
  if (tally.frame_count && frame >= *tally.frame_count) {
    ++tally.duplicates;  // beyond the stream's end: not a frame of this stream's numbering
    return;
  }
  auto [it, inserted] = state.pending.try_emplace(frame, Pending{std::move(result), now_ns});
  if (!inserted) {
    ++tally.duplicates;
    return;
  }
  emit_ready(stream);
}

void ResultSink::emit_ready(std::uint32_t stream) {
  auto& tally = tallies_[stream];
  auto& state = states_[stream];
  while (!state.pending.empty() && state.pending.begin()->first == tally.next) {
    auto node = state.pending.extract(state.pending.begin());
    Pending& p = node.mapped();
    SinkEntry entry;
    entry.stream = stream;
    entry.frame = tally.next;
    entry.arrived_ns = p.arrived_ns;
    entry.result = std::move(p.result);
    ++tally.emitted;
    if (entry.result.redelivered) ++tally.redelivered;
    if (tally.first_ns == 0) tally.first_ns = p.arrived_ns;
    tally.last_ns = std::max(tally.last_ns, p.arrived_ns);
    if (entry.result.published_ns > 0) {
      tally.latency.add(static_cast<double>(p.arrived_ns - entry.result.published_ns) / 1e6);
    }
    ++tally.next;
    emit_(entry);
  }
}

void ResultSink::declare_gaps(std::uint32_t stream, std::uint64_t end, std::int64_t now_ns) {
  auto& tally = tallies_[stream];
  auto& state = states_[stream];
  if (end <= tally.next) return;
  if (!state.gaps.empty() && state.gaps.back().second + 1 == tally.next) {
    state.gaps.back().second = end - 1;
  } else {
    state.gaps.emplace_back(tally.next, end - 1);
  }
  for (std::uint64_t frame = tally.next; frame < end; ++frame) {
    SinkEntry entry;
    entry.stream = stream;
    entry.frame = frame;
    entry.gap = true;
    entry.arrived_ns = now_ns;
    entry.result.stream = stream;
    entry.result.frame = frame;
    ++tally.gaps;
    ++tally.next;
    emit_(entry);
  }
}

std::int64_t ResultSink::missing_since(const StreamTally& tally, const StreamState& state) const noexcept {
  // Any result held beyond `next` shows that `next` is missing; the earliest such arrival counts.
  std::int64_t since = -1;
  for (const auto& [frame, p] : state.pending) {
    if (since < 0 || p.arrived_ns < since) since = p.arrived_ns;
  }
  if (since < 0 && tally.frame_count && tally.next < *tally.frame_count) since = state.end_arrived_ns;
  return since;
}

void ResultSink::tick(std::int64_t now_ns) {
  const auto timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.gap_timeout).count();
  for (auto& [stream, state] : states_) {
    auto& tally = tallies_[stream];
    // Each hole is judged on its own: once one is declared, the next may be younger.
    for (;;) {
      const std::int64_t since = missing_since(tally, state);
      if (since < 0 || now_ns - since < timeout_ns) break;
      // Every frame below the first one held is overdue: they all went missing before it came.
      const std::uint64_t end = state.pending.empty() ? *tally.frame_count : state.pending.begin()->first;
      declare_gaps(stream, end, now_ns);
      emit_ready(stream);
    }
  }
}

void ResultSink::finish(std::int64_t now_ns) {
  for (auto& [stream, state] : states_) {
    auto& tally = tallies_[stream];
    for (;;) {
      std::uint64_t end = tally.frame_count.value_or(tally.next);
      if (!state.pending.empty()) end = state.pending.begin()->first;
      if (end <= tally.next && state.pending.empty()) break;
      declare_gaps(stream, end, now_ns);
      emit_ready(stream);
    }
  }
}

bool ResultSink::all_finished() const noexcept {
  return std::all_of(tallies_.begin(), tallies_.end(), [](const auto& kv) { return kv.second.finished(); });
}

}  // namespace framebus
