#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/names.hpp"
#include "framebus/framebus.hpp"
#include "support/child_process.hpp"

namespace framebus {
namespace {

void expect_invalid(std::string_view name, std::string_view mentions) {
  auto r = validate_name(name);
  ASSERT_FALSE(r) << "accepted '" << name << "'";
  EXPECT_EQ(r.error().code(), ErrorCode::invalid_name);
  EXPECT_NE(r.error().message().find(mentions), std::string::npos) << r.error().message();
}

TEST(Names, letters_digits_dot_underscore_dash_are_accepted) {
  EXPECT_TRUE(validate_name("cams"));
  EXPECT_TRUE(validate_name("Cam_01.raw-bgr"));
  EXPECT_TRUE(validate_name(std::string(200, 'a')));
}

TEST(Names, path_traversal_is_rejected_naming_the_character) { expect_invalid("../x", "'/'"); }
TEST(Names, slash_is_rejected) { expect_invalid("a/b", "'/'"); }
TEST(Names, space_is_rejected) { expect_invalid("a b", "' '"); }
TEST(Names, control_byte_is_rejected_and_escaped) { expect_invalid(std::string("a\x01z", 3), "\\x01"); }
TEST(Names, empty_name_is_rejected) { expect_invalid("", "empty"); }
TEST(Names, dot_and_dotdot_are_reserved) {
  expect_invalid(".", "reserved");
  expect_invalid("..", "reserved");
}
TEST(Names, names_over_200_characters_are_rejected) { expect_invalid(std::string(201, 'a'), "201"); }

TEST(Names, channels_live_under_dev_shm_with_prefix) { EXPECT_EQ(channel_path("cams"), "/dev/shm/framebus.cams"); }

TEST(Names, producer_and_consumer_refuse_bad_names_before_touching_the_file_system) {
  auto p = Producer::create("../../etc/passwd");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), ErrorCode::invalid_name);
  auto c = Consumer::open("bad name");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::invalid_name);
}

TEST(Names, bad_group_names_are_rejected) {
  ConsumerOptions o;
  o.group = "no/slash";
  auto c = Consumer::open("whatever", o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::invalid_name);
  EXPECT_NE(c.error().message().find("group"), std::string::npos);
}

// Names that would reach another place than /dev/shm/framebus.NAME if they were used as paths.
std::vector<std::string> escaping_names() {
  return {"../x",
          "/x",
          "a/b",
          "..",
          ".",
          "",
          std::string(201, 'a'),
          std::string("a\0b", 3),
          "a/../../../etc/passwd",
          "x\n",
          "./x",
          "a\\b",
          "~root",
          "%2e%2e%2fx",
          std::string("\xc0\xae\xc0\xae/x")};
}

TEST(Names, names_that_could_leave_dev_shm_are_refused_by_every_entry_point) {
  for (const std::string& name : escaping_names()) {
    SCOPED_TRACE("name '" + detail::printable(name) + "'");
    auto valid = validate_name(name);
    ASSERT_FALSE(valid);
    EXPECT_EQ(valid.error().code(), ErrorCode::invalid_name);
    auto p = Producer::create(name);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code(), ErrorCode::invalid_name);
    auto c = Consumer::open(name);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), ErrorCode::invalid_name);
    auto removed = remove_channel(name);
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error().code(), ErrorCode::invalid_name);
    auto info = inspect_channel(name);
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().code(), ErrorCode::invalid_name);
  }
}

// /dev/shm is writable by everyone, so anyone can plant a directory named framebus.X there; a
// name "X/../../../tmp/F" would then resolve to /tmp/F. Every entry point must refuse it.
TEST(Names, a_directory_planted_in_dev_shm_does_not_let_a_name_reach_another_file) {
  const std::string planted = testing::unique_name("planted");
  ASSERT_EQ(::mkdir(channel_path(planted).c_str(), 0777), 0);
  const std::string victim = "framebus-victim-" + std::to_string(::getpid());
  const std::string victim_path = "/tmp/" + victim;
  { std::ofstream(victim_path) << "keep"; }
  const std::string escape = planted + "/../../../tmp/" + victim;
  const std::string inside = planted + "/x";

  for (const std::string& name : {escape, inside}) {
    SCOPED_TRACE(name);
    auto removed = remove_channel(name);
    ASSERT_FALSE(removed);
    EXPECT_EQ(removed.error().code(), ErrorCode::invalid_name);
    auto p = Producer::create(name, {.slots = 1, .slot_size = 4096});
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code(), ErrorCode::invalid_name);
    auto c = Consumer::open(name);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), ErrorCode::invalid_name);
  }
  std::string content;
  std::ifstream(victim_path) >> content;
  EXPECT_EQ(content, "keep") << "the file outside /dev/shm is untouched";
  struct stat st {};
  EXPECT_NE(::stat((channel_path(planted) + "/x").c_str(), &st), 0) << "nothing was created in the planted directory";
  ::unlink(victim_path.c_str());
  EXPECT_EQ(::rmdir(channel_path(planted).c_str()), 0);
}

}  // namespace
}  // namespace framebus
