#include "framebus/pipeline/pipeline_options.hpp"

#include <array>
#include <utility>

#include "common/enum_names.hpp"
#include "pipeline/runs.hpp"

namespace framebus {
namespace {

constexpr detail::EnumNames<Topology, 4> kTopologyNames{{"shared", "per-stream", "threads", "queue"}};
static_assert(kTopologyNames.names.size() == static_cast<std::size_t>(Topology::queue) + 1, "a name for every value");

}  // namespace

std::string_view to_string(Topology topology) noexcept { return detail::name_in(kTopologyNames, topology); }
Result<Topology> parse_topology(std::string_view text) { return detail::parse_in(kTopologyNames, text, "topology"); }

const SourceOptions& source_options(const PipelineOptions& options, std::uint32_t index) {
  const auto it = options.source_options.find(index);
  return it == options.source_options.end() ? options.decode : it->second;
}

ClassifierOptions to_classifier_options(const ModelOptions& model, int threads, std::uint32_t max_batch) {
  return ClassifierOptions{.model = model.model,
                           .labels = model.labels,
                           .backend = model.backend,
                           .input_width = model.input_size,
                           .input_height = model.input_size,
                           .top_k = model.top_k,
                           .threads = threads,
                           .max_batch = max_batch};
}

namespace pipeline_detail {

std::string stream_options_arg(std::uint32_t index, const SourceOptions& s) {
  return std::to_string(index) + ":loop=" + std::to_string(s.loop) + ",max_fps=" + std::to_string(s.max_fps) +
         ",realtime=" + (s.realtime ? "1" : "0") + ",reconnect=" + (s.reconnect ? "1" : "0") +
         ",width=" + std::to_string(s.width) + ",height=" + std::to_string(s.height) +
         ",threads=" + std::to_string(s.decode_threads);
}

std::vector<std::string> model_args(const ModelOptions& model) {
  std::vector<std::string> out{"--model",   model.model,  "--top-k", std::to_string(model.top_k),
                               "--backend", model.backend};
  if (!model.labels.empty()) out.insert(out.end(), {"--labels", model.labels});
  if (model.input_size != 0) out.insert(out.end(), {"--input-size", std::to_string(model.input_size)});
  return out;
}

}  // namespace pipeline_detail
}  // namespace framebus
