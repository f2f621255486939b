// Who may open a channel: file modes enforced by the kernel, checked with a real second uid.
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framebus/framebus.hpp"
#include "support/channel_helpers.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::unique_name;

constexpr uid_t kOtherUid = 65534;  // nobody
constexpr gid_t kOtherGid = 65534;  // nogroup
constexpr int kFaulted = 77;

unsigned mode_of(const std::string& name) {
  struct stat st{};
  EXPECT_EQ(::stat(channel_path(name).c_str(), &st), 0);
  return st.st_mode & 0777;
}

// Runs `body` in a child that has dropped to another uid (and optionally kept a group).
int as_other_user(const std::function<int()>& body, gid_t gid = kOtherGid) {
  Child child([&] {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(kOtherUid, kOtherUid, kOtherUid) != 0) {
      return 90;
    }
    return body();
  });
  return child.wait();
}

TEST(Access, channels_are_created_owner_only_by_default) {
  const auto name = unique_name("mode");
  const mode_t old = ::umask(0);
  auto tx = Producer::create(name, testing::small_channel());
  ::umask(old);
  ASSERT_TRUE(tx);
  EXPECT_EQ(mode_of(name), 0600U);
}

TEST(Access, the_mode_option_is_applied_whatever_the_umask) {
  const auto name = unique_name("mode660");
  const mode_t old = ::umask(077);
  auto opts = testing::small_channel();
  opts.mode = 0660;
  auto tx = Producer::create(name, opts);
  ::umask(old);
  ASSERT_TRUE(tx);
  EXPECT_EQ(mode_of(name), 0660U);
}

TEST(Access, a_mode_without_owner_read_write_is_rejected) {
  auto opts = testing::small_channel();
  opts.mode = 0400;
  auto tx = Producer::create(unique_name("badmode"), opts);
  ASSERT_FALSE(tx);
  EXPECT_EQ(tx.error().code(), ErrorCode::invalid_argument);
}

TEST(Access, another_user_cannot_open_a_default_channel) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to a second uid";
  const auto name = unique_name("otheruid");
  auto tx = Producer::create(name, testing::small_channel());
  ASSERT_TRUE(tx);
  const int code = as_other_user([&] {
    auto rx = Consumer::open(name);
    if (rx) return 1;
    if (rx.error().code() != ErrorCode::permission_denied) return 2;
    if (rx.error().message().find("permission denied") == std::string::npos) return 3;
    auto p = Producer::create(name, testing::small_channel());
    if (p || p.error().code() != ErrorCode::permission_denied) return 4;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(Access, a_group_mode_admits_members_of_the_group) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to a second uid";
  const auto name = unique_name("groupmode");
  auto opts = testing::small_channel();
  opts.mode = 0660;
  auto tx = Producer::create(name, opts);
  ASSERT_TRUE(tx);
  ASSERT_EQ(::chown(channel_path(name).c_str(), 0, kOtherGid), 0);
  const int member = as_other_user([&] { return Consumer::open(name) ? 0 : 1; }, kOtherGid);
  EXPECT_EQ(member, 0);
  const int outsider = as_other_user([&] { return Consumer::open(name) ? 1 : 0; }, 12345);
  EXPECT_EQ(outsider, 0);
}

TEST(Access, a_consumer_cannot_write_into_a_payload) {
  const auto name = unique_name("readonly");
  auto tx = Producer::create(name, testing::small_channel());
  auto rx = Consumer::open(name);
  ASSERT_TRUE(tx && rx);
  ASSERT_TRUE(testing::send_frame(*tx, 0, 0));
  auto r = rx->receive(1s);
  ASSERT_TRUE(r && r->has_message());
  Child writer([&] {
    // Our own handler (sanitizers install theirs): a fault on the write exits with kFaulted.
    struct sigaction sa{};
    sa.sa_handler = [](int) { ::_exit(kFaulted); };
    ::sigaction(SIGSEGV, &sa, nullptr);
    ::sigaction(SIGBUS, &sa, nullptr);
    auto* p = const_cast<std::byte*>(r->sample.data().data());
    *reinterpret_cast<volatile std::byte*>(p) = std::byte{1};  // must fault
    return 0;
  });
  EXPECT_EQ(writer.wait(), kFaulted) << "the write faulted";
  EXPECT_TRUE(testing::payload_matches(r->sample));
}

}  // namespace
}  // namespace framebus
