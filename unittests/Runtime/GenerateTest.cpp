//===- GenerateTest.cpp - Tests for the decode loop with dynamic shapes ---===//
//
// Runs Generate.h's decode loop on the toy LM of TestLM.c in its KV-cache and
// dynamic full-recompute forms. The toy's next token depends on the whole
// sequence, read from the past keys in the KV form, and its checks of the
// attention mask, position ids and past values shift every token when they
// fail, so a wrong cache wiring or input fill gives other tokens than the
// formula below.
//
//===----------------------------------------------------------------------===//

#include "Runtime/Generate.h"
#include "TestUtil.h"

#include "gtest/gtest.h"

#include <memory>
#include <string>
#include <vector>

using namespace sqz::runtime;
using namespace sqz::test;

namespace {

struct ModelDeleter {
  void operator()(sqz_model *m) const { sqz_model_unload(m); }
};
using ModelPtr = std::unique_ptr<sqz_model, ModelDeleter>;

/// What the toy LM generates after `prompt` (see TestLM.c).
std::vector<int64_t> expectedTokens(std::vector<int64_t> sequence, int64_t count) {
  std::vector<int64_t> result;
  for (int64_t i = 0; i < count; ++i) {
    int64_t sum = 0;
    for (size_t j = 0; j < sequence.size(); ++j)
      sum += static_cast<int64_t>(j + 1) * sequence[j];
    int64_t next = (5 * sum + static_cast<int64_t>(sequence.size()) + 2) % 16;
    result.push_back(next);
    sequence.push_back(next);
  }
  return result;
}

const char kFullManifest[] = R"({"format": "sqz-artifact", "abi_version": 3,
  "library": "model.so", "entry": "sqz_model_invoke",
  "inputs": [{"name": "input_ids", "dtype": "int64", "shape": [1, -1],
              "dim_names": ["", "seq"], "max_shape": [1, 24]}],
  "outputs": [{"name": "logits", "dtype": "float32", "shape": [1, -1, 16],
               "dim_names": ["", "seq", ""]}]}
)";

class GenerateTest : public ::testing::Test {
protected:
  /// Loads `library` with `manifest` into `model`.
  void load(const char *library, const std::string &manifest) {
    makeArtifact(dir.path(), library, manifest);
    model.reset(sqz_model_load(dir.path().c_str()));
    ASSERT_NE(model, nullptr) << sqz_last_error();
  }

  Status run(const std::vector<int64_t> &prompt, int64_t count,
             const SamplingOptions &options = SamplingOptions()) {
    generated.clear();
    return generate(model.get(), prompt, count, options, generated, stats, {});
  }

  /// Expects `message` (a substring) from generating `count` tokens.
  void expectError(const std::vector<int64_t> &prompt, int64_t count,
                   const std::string &message) {
    Status s = run(prompt, count);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find(message), std::string::npos) << s.message();
  }

  TempDir dir;
  ModelPtr model;
  std::vector<int64_t> generated;
  GenerateStats stats;
};

TEST_F(GenerateTest, KVCache) {
  load(SQZ_TEST_LM, testLMManifest());
  std::vector<int64_t> prompt = {1, 5, 9, 2};
  Status s = run(prompt, 20);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(generated, expectedTokens(prompt, 20));
  EXPECT_EQ(stats.mode, "KV cache, 1 layer");
  EXPECT_EQ(stats.prefillTokens, 4);
  EXPECT_EQ(stats.decodeTokens, 19);
  // A one-token prompt, and a single token (prefill only).
  ASSERT_TRUE(run({3}, 12).ok());
  EXPECT_EQ(generated, expectedTokens({3}, 12));
  ASSERT_TRUE(run(prompt, 1).ok());
  EXPECT_EQ(generated, expectedTokens(prompt, 1));
  EXPECT_EQ(stats.decodeTokens, 0);
  // The bounds: 32 prompt tokens (seq <= 32); 10 new tokens make the last run's past 40.
  std::vector<int64_t> longPrompt(32, 1);
  ASSERT_TRUE(run(longPrompt, 10).ok());
  EXPECT_EQ(generated, expectedTokens(longPrompt, 10));
  std::vector<int64_t> longerPrompt(33, 1);
  expectError(longerPrompt, 1,
              "--generate: the prompt (33 tokens) plus 1 new tokens do not fit the model: "
              "sqz_model_infer_output_shapes: input 'input_ids' dim 1 ('seq') is 33, above its "
              "bound 32");
  expectError(longPrompt, 11, "input 'past_key_values.0.key' dim 2 ('past') is 41, above its "
                              "bound 40");
}

TEST_F(GenerateTest, KVCacheLayersPairByName) {
  load(SQZ_TEST_LM2, testLMManifest(R"("shape": [-1, -1], "dim_names": ["batch", "seq"])",
                                    kTestLMPast, "present.0.key", "", 2));
  std::vector<int64_t> prompt = {7, 0, 3};
  Status s = run(prompt, 16);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(generated, expectedTokens(prompt, 16));
  EXPECT_EQ(stats.mode, "KV cache, 2 layers");
  // Present tensors pair with past inputs by name, not by position: with the two layers'
  // present outputs named the other way round, each past gets the other layer's cache, which
  // the toy notices (so the tokens differ).
  std::string swapped = testLMManifest(R"("shape": [-1, -1], "dim_names": ["batch", "seq"])",
                                       kTestLMPast, "present.0.key", "", 2);
  for (auto [from, to] : {std::pair<std::string, std::string>{"present.0.", "present.x."},
                          {"present.1.", "present.0."},
                          {"present.x.", "present.1."}})
    for (size_t at; (at = swapped.find(from)) != std::string::npos;)
      swapped.replace(at, from.size(), to);
  load(SQZ_TEST_LM2, swapped);
  ASSERT_TRUE(run(prompt, 16).ok());
  EXPECT_NE(generated, expectedTokens(prompt, 16));
}

TEST_F(GenerateTest, KVCacheStopsAndSamples) {
  load(SQZ_TEST_LM, testLMManifest());
  std::vector<int64_t> want = expectedTokens({1}, 30);
  SamplingOptions options;
  options.stopToken = want[5];
  size_t stop = 0;
  while (want[stop] != options.stopToken)
    ++stop;
  ASSERT_TRUE(run({1}, 30, options).ok());
  EXPECT_EQ(generated, std::vector<int64_t>(want.begin(), want.begin() + stop + 1));
  // One-hot logits: sampling at a low temperature still picks the hot token.
  options = SamplingOptions();
  options.temperature = 0.01f;
  options.seed = 3;
  ASSERT_TRUE(run({1}, 10, options).ok());
  EXPECT_EQ(generated, expectedTokens({1}, 10));
}

TEST_F(GenerateTest, KVCacheTokenByTokenPrefill) {
  // Token ids with a static seq of 1: the prompt goes through one token per run.
  load(SQZ_TEST_LM, testLMManifest(R"("shape": [1, 1])"));
  std::vector<int64_t> prompt = {4, 4, 7};
  ASSERT_TRUE(run(prompt, 8).ok());
  EXPECT_EQ(generated, expectedTokens(prompt, 8));
  EXPECT_EQ(stats.prefillTokens, 3);
  EXPECT_EQ(stats.decodeTokens, 7);
}

TEST_F(GenerateTest, FullRecomputeDynamic) {
  load(SQZ_TEST_LM_FULL, kFullManifest);
  std::vector<int64_t> prompt = {2, 3};
  ASSERT_TRUE(run(prompt, 15).ok());
  EXPECT_EQ(generated, expectedTokens(prompt, 15));
  EXPECT_EQ(stats.mode, "full recompute, dynamic length");
  EXPECT_EQ(stats.prefillTokens, 2);
  EXPECT_EQ(stats.decodeTokens, 14);
  expectError(prompt, 24, "input 'input_ids' dim 1 ('seq') is 25, above its bound 24");
  expectError({2, 16}, 3, "prompt token 16 is outside the vocabulary [0, 16)");

  // The evaluation helpers run it at the real length too.
  LMSignature sig;
  Status s = matchLMSignature(model.get(), "--eval-tokens", sig);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(sig.dynamic);
  EXPECT_EQ(sig.length, 24);
  EXPECT_EQ(sig.vocab, 16);
  std::vector<float> logits;
  std::vector<int64_t> ids = {5, 1, 1, 8, 0};
  s = runLM(model.get(), sig, ids, logits);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(logits.size(), 5u * 16);
  for (size_t t = 0; t < ids.size(); ++t) {
    std::vector<int64_t> prefix(ids.begin(), ids.begin() + t + 1);
    EXPECT_EQ(logits[t * 16 + expectedTokens(prefix, 1)[0]], 1.0f) << t;
  }
}

TEST_F(GenerateTest, SignatureErrors) {
  load(SQZ_TEST_LM, testLMManifest(R"("shape": [-1, -1], "dim_names": ["batch", "seq"])", kTestLMPast,
                               "present.0.key",
                               R"(, {"name": "token_type_ids", "dtype": "int64",
                                    "shape": [1, -1]})"));
  expectError({1}, 2, "--generate: the model has an input 'token_type_ids' the decode loop "
                      "cannot fill");
  load(SQZ_TEST_LM, testLMManifest(R"("shape": [-1, -1], "dim_names": ["batch", "seq"])", kTestLMPast,
                               "present.0.k"));
  expectError({1}, 2, "--generate: KV-cache input 'past_key_values.0.key' has no matching "
                      "output 'present.0.key'");
  load(SQZ_TEST_LM, testLMManifest(R"("shape": [-1, -1], "dim_names": ["batch", "seq"])",
                               R"("shape": [1, 2, -1, -1])"));
  expectError({1}, 2, "--generate: KV-cache input 'past_key_values.0.key' is [1, 2, ?, ?]; "
                      "the decode loop needs [batch, kv_heads, past, head_dim] with a dynamic "
                      "past dim (2) and static kv_heads and head_dim");
  load(SQZ_TEST_LM, testLMManifest(R"("shape": [-1, 4], "dim_names": ["batch", ""])"));
  expectError({1}, 2, "--generate: input 'input_ids' must be int64 or int32 token ids of shape "
                      "[batch, seq] with a dynamic seq dim (or a static one of 1), not int64 "
                      "[batch, 4]");
}

TEST_F(GenerateTest, StaticKVCacheIsRejected) {
  // A static artifact with a past input cannot grow its cache.
  std::string manifest = testModelManifest();
  manifest.replace(manifest.find("\"k\""), 3, "\"past_key_values.0.key\"");
  load(SQZ_TEST_MODEL, manifest);
  expectError({1}, 2, "--generate: input 'past_key_values.0.key' looks like a KV cache: "
                      "decoding with a KV cache needs a dynamic past length");
}

} // namespace
