#include "classify/registry.hpp"

#include <map>
#include <mutex>

#include "classify/opencv_backend.hpp"

namespace framebus {

InferenceBackend::~InferenceBackend() = default;

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, BackendFactory, std::less<>> factories;
};

// Built on first use, with the engines framebus itself provides.
Registry& registry() {
  static Registry* instance = [] {
    auto* r = new Registry;  // never destroyed: a Classifier may be created from a static destructor
    r->factories.emplace(std::string(detail::kOpenCvBackendName), &detail::make_opencv_backend);
    return r;
  }();
  return *instance;
}

}  // namespace

Result<void> register_backend(std::string name, BackendFactory factory) {
  if (name.empty()) return make_error(ErrorCode::invalid_argument, "register_backend: the name is empty");
  if (!factory)
    return make_error(ErrorCode::invalid_argument, "register_backend('" + name + "'): the factory is empty");
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  if (r.factories.count(name) != 0) {
    return make_error(ErrorCode::already_exists, "register_backend: an inference backend named '" + name + "' exists");
  }
  r.factories.emplace(std::move(name), std::move(factory));
  return {};
}

std::vector<std::string> backend_names() {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& entry : r.factories) names.push_back(entry.first);
  return names;
}

namespace detail {

Result<BackendFactory> find_backend(std::string_view name) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  auto it = r.factories.find(name);
  if (it != r.factories.end()) return it->second;
  std::string known;
  for (const auto& entry : r.factories) known += (known.empty() ? "" : ", ") + entry.first;
  return make_error(ErrorCode::invalid_argument,
                    "unknown inference backend '" + std::string(name) + "' (registered: " + known + ")");
}

}  // namespace detail
}  // namespace framebus
