#include <gtest/gtest.h>

#include "framebus/framebus.hpp"

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

TEST(Names, channels_live_under_dev_shm_with_prefix) {
  EXPECT_EQ(channel_path("cams"), "/dev/shm/framebus.cams");
}

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

}  // namespace
}  // namespace framebus
