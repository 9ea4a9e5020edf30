// Tests of the fixture's argument list type, which must not depend on the compiler.

#include "fixture.h"

#include <gtest/gtest.h>

namespace mpipc::conformance {
namespace {

TEST(Args, BracedListsAreListsWithEveryCompiler) {
  const Json tuple = {{"$tuple", Json::array({"127.0.0.1", 0})}};
  // One Json element in braces: a Json parameter would receive a copy of it under Clang.
  EXPECT_EQ(Args({tuple}).Take(), Json::array({tuple}));
  EXPECT_EQ(Args({Json::array({1, 2})}).Take(), Json::array({Json::array({1, 2})}));
  EXPECT_EQ(Args({1, "two"}).Take(), Json::array({1, "two"}));
  EXPECT_EQ(Args({}).Take(), Json::array());
  EXPECT_EQ(Args().Take(), Json::array());
  // A Json list passed as is is the list itself.
  EXPECT_EQ(Args(Json::array({1, 2})).Take(), Json::array({1, 2}));
}

}  // namespace
}  // namespace mpipc::conformance
