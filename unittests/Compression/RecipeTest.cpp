//===- RecipeTest.cpp - YAML recipes to pass pipelines --------------------===//

#include "sqz/Compression/Recipe.h"
#include "sqz/Dialect/Sqz/Transforms/Passes.h"

#include <gtest/gtest.h>

using namespace sqz::compression;

namespace {

struct Registered {
  Registered() { mlir::sqz::registerSqzTransformsPasses(); }
};

std::string errorOf(llvm::Expected<Recipe> r) {
  if (r)
    return "";
  return llvm::toString(r.takeError());
}

TEST(Recipe, BuildsThePipeline) {
  static Registered registered;
  llvm::Expected<Recipe> r = parseRecipe("# calibration taps\n"
                                         "- instrument: {targets: ['mlp', 'a{2,3}'], "
                                         "stats: [sumsq, xtx]}\n"
                                         "- instrument:\n",
                                         "r.yaml");
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  ASSERT_EQ(r->stages.size(), 2u);
  EXPECT_EQ(r->stages[0].line, 2u);
  EXPECT_TRUE(r->stages[0].has("targets"));
  EXPECT_EQ(r->textualPipeline(),
            "sqz-instrument{targets=mlp,\"a{2,3}\" stats=sumsq,xtx},sqz-instrument");
}

TEST(Recipe, NamesTheValidStagesAndOptions) {
  static Registered registered;
  std::string e = errorOf(parseRecipe("- prunee: {sparsity: 0.5}\n", "r.yaml"));
  EXPECT_NE(e.find("r.yaml:1: unknown stage 'prunee' (valid: "), std::string::npos) << e;
  EXPECT_NE(e.find("instrument"), std::string::npos) << e;
  e = errorOf(parseRecipe("- instrument: {target: x}\n", "r.yaml"));
  EXPECT_NE(e.find("unknown option 'target' of stage 'instrument' (valid: "),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("targets"), std::string::npos) << e;
  EXPECT_NE(errorOf(parseRecipe("prune: {}\n", "r.yaml")).find("a recipe is a list"),
            std::string::npos);
  EXPECT_NE(errorOf(parseRecipe("- {instrument: {}, prune: {}}\n", "r.yaml")).find("exactly one key"),
            std::string::npos);
  EXPECT_NE(errorOf(parseRecipe("", "r.yaml")).find("empty recipe"), std::string::npos);
  EXPECT_NE(errorOf(parseRecipe("- instrument: {targets: x, targets: y}\n", "r.yaml"))
                .find("given twice"),
            std::string::npos);
  EXPECT_FALSE(errorOf(parseRecipe("- [unclosed\n", "r.yaml")).empty());
}

} // namespace
