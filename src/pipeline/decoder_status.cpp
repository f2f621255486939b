#include "framebus/pipeline/decoder_status.hpp"

#include <nlohmann/json.hpp>

namespace framebus {

namespace {

nlohmann::ordered_json status_json(const StreamStatus& s) {
  return {{"id", s.id},
          {"source", s.source},
          {"channel", s.channel},
          {"state", std::string(to_string(s.state))},
          {"message", s.message},
          {"native_fps", s.native_fps},
          {"width", s.source_width},
          {"height", s.source_height},
          {"decoded", s.decoded},
          {"published", s.published},
          {"dropped", s.dropped},
          {"skipped", s.skipped},
          {"decode_errors", s.decode_errors},
          {"reconnects", s.reconnects},
          {"passes", s.passes},
          {"last_error", s.last_error ? nlohmann::ordered_json(s.last_error->message()) : nlohmann::ordered_json()},
          {"finished", s.finished()}};
}

}  // namespace

std::string to_json(const StreamStatus& status) { return status_json(status).dump(); }

std::string encode_decoder_status(const std::vector<StreamStatus>& statuses, bool final,
                                  const std::optional<std::string>& error) {
  nlohmann::ordered_json out;
  out["final"] = final;
  auto& streams = out["streams"] = nlohmann::ordered_json::array();
  for (const auto& s : statuses) streams.push_back(status_json(s));
  if (error) out["error"] = *error;
  return out.dump();
}

bool apply_decoder_status(std::string_view line, std::map<std::uint32_t, DecoderStream>& decoder) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("streams") || !j["streams"].is_array()) return false;
  for (const auto& s : j["streams"]) {
    if (!s.is_object()) continue;
    auto& d = decoder[s.value("id", 0U)];
    if (auto source = s.value("source", std::string()); !source.empty()) d.source = source;
    d.state = s.value("state", "");
    d.message = s.value("message", "");
    d.native_fps = s.value("native_fps", 0.0);
    d.published = s.value("published", 0ULL);
    d.dropped = s.value("dropped", 0ULL);
    d.decode_errors = s.value("decode_errors", 0ULL);
  }
  return true;
}

}  // namespace framebus
