// Death detection from the kernel's records: exited, zombie, or a reused pid.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "channel/liveness.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using testing::Child;
using testing::Pipe;

TEST(Liveness, this_process_is_alive) { EXPECT_TRUE(detail::identity_alive(detail::self_identity())); }

TEST(Liveness, the_same_pid_with_another_start_time_is_another_process) {
  // What a reused pid looks like: the pid runs, but it is not the process that registered.
  const std::uint64_t me = detail::self_identity();
  EXPECT_EQ(detail::identity_pid(me), ::getpid());
  const std::uint64_t reused = (me & ~0xFFFFFFFFULL) | ((me + 1) & 0xFFFFFFFFULL);
  EXPECT_FALSE(detail::identity_alive(reused));
}

TEST(Liveness, an_exited_process_is_dead_even_before_it_is_reaped) {
  Pipe identity;
  Child child([&] {
    identity.send(std::to_string(detail::self_identity()));
    return 0;
  });
  auto line = identity.receive();
  ASSERT_TRUE(line);
  const std::uint64_t id = std::stoull(*line);
  EXPECT_EQ(detail::identity_pid(id), child.pid()) << "a forked child has its own identity";
  ASSERT_TRUE(child.wait_until_zombie()) << "the child exited and was not reaped";
  EXPECT_FALSE(detail::identity_alive(id)) << "a zombie is dead";
  EXPECT_EQ(child.wait(), 0);
  EXPECT_FALSE(detail::identity_alive(id)) << "a reaped process is dead";
}

TEST(Liveness, a_running_child_is_alive_until_killed) {
  Pipe identity;
  Child child([&] {
    identity.send(std::to_string(detail::self_identity()));
    pause();
    return 0;
  });
  auto line = identity.receive();
  ASSERT_TRUE(line);
  const std::uint64_t id = std::stoull(*line);
  EXPECT_TRUE(detail::identity_alive(id));
  child.kill9();
  EXPECT_FALSE(detail::identity_alive(id));
}

TEST(Liveness, identity_zero_is_nobody) { EXPECT_FALSE(detail::identity_alive(0)); }

}  // namespace
}  // namespace framebus
