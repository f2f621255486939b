// Stand-in when iceoryx was not found at configure time: the rows report why they are missing.

#include "peers.hpp"

namespace framebus::bench {
namespace {
PeerResult not_built() {
  PeerResult result;
  result.set_error("channel_bench was built without iceoryx (iceoryx_posh not found by CMake)");
  return result;
}
}  // namespace

bool iceoryx_compiled_in() noexcept { return false; }
PeerResult run_iceoryx_producer(const PeerArgs&) { return not_built(); }
PeerResult run_iceoryx_consumer(const PeerArgs&) { return not_built(); }

}  // namespace framebus::bench
