//===- SqzRunTest.cpp - End-to-end tests of the sqz-run tool --------------===//
//
// Runs the sqz-run binary on an artifact around the test model and checks its
// exact output lines, files and exit codes (the contract in docs/Runtime.md).
//
//===----------------------------------------------------------------------===//

#include "Runtime/Npy.h"
#include "TestUtil.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <sys/stat.h>

using namespace sqz::runtime;
using namespace sqz::test;

namespace {

class SqzRunTest : public ::testing::Test {
protected:
  void SetUp() override {
    artifact = work.file("artifact");
    ASSERT_EQ(::mkdir(artifact.c_str(), 0777), 0);
    makeArtifact(artifact, SQZ_TEST_MODEL, testModelManifest());
    x = work.file("x.npy");
    k = work.file("k.npy");
    saveFloats(x, {2, 3}, {1, -2, 3, 0, 5, -6});
    int32_t three = 3;
    ASSERT_TRUE(writeNpyFile(k, DType::Int32, {}, &three).ok());
  }

  void saveFloats(const std::string &path, const std::vector<int64_t> &shape,
                  const std::vector<float> &values) {
    ASSERT_TRUE(writeNpyFile(path, DType::Float32, shape, values.data()).ok());
  }

  /// Runs sqz-run with `args` in the work directory.
  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), SQZ_RUN_PATH);
    return runProcess(args, work.path());
  }

  /// Runs sqz-run with both inputs and `extra` arguments into "out".
  ProcessResult runWithInputs(const std::vector<std::string> &extra) {
    std::vector<std::string> args = {artifact,     "--input",   "x=" + x,
                                     "--input",    "k=" + k,    "--output-dir",
                                     work.file("out")};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  }

  /// Expects exit code 2 and exactly `message` on stderr.
  void expectError(const ProcessResult &r, const std::string &message) {
    EXPECT_EQ(r.exitCode, 2) << r.err;
    EXPECT_EQ(r.err, "sqz-run: error: " + message + "\n");
    EXPECT_EQ(r.out, "");
  }

  std::string wroteLines(const std::string &dir) {
    return "wrote y float32[2,3] -> " + dir + "/y.npy\n" +
           "wrote is/pos bool[2,3] -> " + dir + "/is_pos.npy\n";
  }

  TempDir work;
  std::string artifact, x, k;
};

TEST_F(SqzRunTest, WritesOutputs) {
  std::string out = work.file("new/nested/out");
  ProcessResult r = run({artifact, "--input", "x=" + x, "--input=k=" + k,
                         "--output-dir=" + out});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, wroteLines(out));
  EXPECT_EQ(r.err, "");
  // Nothing but the outputs: no temporaries left behind.
  EXPECT_EQ(listDir(out), (std::vector<std::string>{"is_pos.npy", "y.npy"}));

  NpyArray y;
  ASSERT_TRUE(readNpyFile(out + "/y.npy", y).ok());
  EXPECT_EQ(y.dtype, DType::Float32);
  EXPECT_EQ(y.shape, (std::vector<int64_t>{2, 3}));
  const float *values = reinterpret_cast<const float *>(y.data.data());
  EXPECT_EQ(values[0], 3.0f);
  EXPECT_EQ(values[5], -18.0f);
  NpyArray pos;
  ASSERT_TRUE(readNpyFile(out + "/is_pos.npy", pos).ok());
  EXPECT_EQ(pos.dtype, DType::Bool);
  EXPECT_EQ(std::string(reinterpret_cast<char *>(pos.data.data()), 6),
            std::string("\1\0\1\0\1\0", 6));
}

TEST_F(SqzRunTest, DefaultOutputDirIsCurrentDirectory) {
  ProcessResult r = run({artifact, "--input", "x=" + x, "--input", "k=" + k});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, wroteLines("."));
  EXPECT_TRUE(fileExists(work.file("y.npy")));
  EXPECT_TRUE(fileExists(work.file("is_pos.npy")));
}

TEST_F(SqzRunTest, ExpectOk) {
  std::string want = work.file("want.npy");
  saveFloats(want, {2, 3}, {3, -6, 9, 0, 15, -18});
  std::string wantPos = work.file("pos.npy");
  uint8_t pos[6] = {1, 0, 1, 0, 1, 0};
  ASSERT_TRUE(writeNpyFile(wantPos, DType::Bool, {2, 3}, pos).ok());
  ProcessResult r = runWithInputs(
      {"--expect", "y=" + want, "--expect=is/pos=" + wantPos});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, wroteLines(work.file("out")) +
                       "expect y: max_abs_err=0 max_rel_err=0 "
                       "mismatches=0/6 (rtol=1e-05 atol=1e-06) OK\n"
                       "expect is/pos: max_abs_err=0 max_rel_err=0 "
                       "mismatches=0/6 (rtol=0 atol=0) OK\n");
}

TEST_F(SqzRunTest, ExpectWithinTolerance) {
  std::string want = work.file("want.npy");
  // 9 vs 9.09: relative error 0.0099, inside rtol 0.01.
  saveFloats(want, {2, 3}, {3, -6, 9.09f, 0, 15, -18});
  ProcessResult r =
      runWithInputs({"--expect", "y=" + want, "--rtol", "0.01", "--atol=0"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("expect y: max_abs_err=0.09 max_rel_err=0.0099 "
                       "mismatches=0/6 (rtol=0.01 atol=0) OK\n"),
            std::string::npos)
      << r.out;
}

TEST_F(SqzRunTest, ExpectMismatch) {
  std::string want = work.file("want.npy");
  saveFloats(want, {2, 3}, {3, -6, 8.5f, 0, 15, -20});
  ProcessResult r = runWithInputs({"--expect", "y=" + want});
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_EQ(r.out, wroteLines(work.file("out")) +
                       "expect y: max_abs_err=2 max_rel_err=0.1 "
                       "mismatches=2/6 (rtol=1e-05 atol=1e-06) MISMATCH\n");
  // Outputs are written even when they mismatch.
  EXPECT_TRUE(fileExists(work.file("out/y.npy")));
}

TEST_F(SqzRunTest, ExpectZeroAndNaN) {
  // x = [nan, 1, 0, ...] gives y = [nan, 3, 0, ...].
  saveFloats(x, {2, 3}, {NAN, 1, 0, 0, 0, 0});
  std::string want = work.file("want.npy");
  saveFloats(want, {2, 3}, {NAN, 3, 0, 0, 0, 0});
  ProcessResult r = runWithInputs({"--expect", "y=" + want});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("expect y: max_abs_err=0 max_rel_err=0 "
                       "mismatches=0/6 (rtol=1e-05 atol=1e-06) OK\n"),
            std::string::npos)
      << r.out;

  // A NaN against a number mismatches, and against a nonzero expected zero
  // the relative error is infinite.
  saveFloats(want, {2, 3}, {1, 3, 1e-9f, 0, 0, 0});
  r = runWithInputs({"--expect", "y=" + want});
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_NE(r.out.find("expect y: max_abs_err=nan max_rel_err=nan "
                       "mismatches=1/6 (rtol=1e-05 atol=1e-06) MISMATCH\n"),
            std::string::npos)
      << r.out;
  saveFloats(x, {2, 3}, {1, 1, 1, 0, 0, 0});
  saveFloats(want, {2, 3}, {3, 3, 3, 1e-9f, 0, 0});
  r = runWithInputs({"--expect", "y=" + want});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("expect y: max_abs_err=1e-09 max_rel_err=1 "
                       "mismatches=0/6 (rtol=1e-05 atol=1e-06) OK\n"),
            std::string::npos)
      << r.out;
  saveFloats(want, {2, 3}, {3, 3, 3, 0, 0, 0});
  saveFloats(x, {2, 3}, {1, 1, 1, 1e-7f, 0, 0});
  r = runWithInputs({"--expect", "y=" + want});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("max_rel_err=inf mismatches=0/6"), std::string::npos)
      << r.out;
}

TEST_F(SqzRunTest, IntegersExactUnlessToleranceGiven) {
  std::string wantPos = work.file("pos.npy");
  uint8_t pos[6] = {1, 0, 1, 0, 1, 1};
  ASSERT_TRUE(writeNpyFile(wantPos, DType::Bool, {2, 3}, pos).ok());
  ProcessResult r = runWithInputs({"--expect", "is/pos=" + wantPos});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.out.find("expect is/pos: max_abs_err=1 max_rel_err=1 "
                       "mismatches=1/6 (rtol=0 atol=0) MISMATCH\n"),
            std::string::npos)
      << r.out;
  r = runWithInputs({"--expect", "is/pos=" + wantPos, "--atol", "1"});
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_NE(r.out.find("expect is/pos: max_abs_err=1 max_rel_err=1 "
                       "mismatches=0/6 (rtol=1e-05 atol=1) OK\n"),
            std::string::npos)
      << r.out;
}

TEST_F(SqzRunTest, Help) {
  ProcessResult r = run({"--help"});
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_EQ(r.out.rfind("usage: sqz-run <artifact-dir>", 0), 0u) << r.out;
}

TEST_F(SqzRunTest, UsageErrors) {
  expectError(run({}), "no artifact directory given (see --help)");
  expectError(run({artifact, "--bogus"}),
              "unknown option '--bogus' (see --help)");
  expectError(run({artifact, "-x"}), "unknown option '-x' (see --help)");
  expectError(run({artifact, "--inputs=x=a.npy"}),
              "unknown option '--inputs' (see --help)");
  expectError(run({artifact, "--rtol"}), "--rtol needs a value (see --help)");
  expectError(run({artifact, "--rtol", "abc"}),
              "--rtol expects a finite number >= 0, got 'abc'");
  expectError(run({artifact, "--atol=-1"}),
              "--atol expects a finite number >= 0, got '-1'");
  expectError(run({artifact, "--input", "x"}),
              "--input expects NAME=FILE.npy, got 'x'");
  expectError(run({artifact, "--expect", "=y.npy"}),
              "--expect expects NAME=FILE.npy, got '=y.npy'");
  expectError(run({artifact, "other"}),
              "unexpected argument 'other' (give exactly one artifact "
              "directory; see --help)");
  expectError(run({artifact, "--output-dir="}),
              "--output-dir needs a non-empty value");
}

TEST_F(SqzRunTest, InputErrors) {
  expectError(run({artifact, "--input", "x=" + x}),
              "missing --input for model input(s): k (int32[])");
  expectError(run({artifact}), "missing --input for model input(s): x "
                               "(float32[2,3]), k (int32[])");
  expectError(runWithInputs({"--input", "z=" + x}),
              "--input: the model has no input named 'z' (model inputs: x, "
              "k)");
  expectError(runWithInputs({"--input", "x=" + x}),
              "--input: input 'x' given more than once");
  expectError(run({artifact, "--input", "x=" + k, "--input", "k=" + k}),
              "input 'x': the model declares float32[2,3], but '" + k +
                  "' holds int32[]");
  std::string wrongShape = work.file("wrong.npy");
  saveFloats(wrongShape, {3, 2}, {1, 2, 3, 4, 5, 6});
  expectError(
      run({artifact, "--input", "x=" + wrongShape, "--input", "k=" + k}),
      "input 'x': the model declares float32[2,3], but '" + wrongShape +
          "' holds float32[3,2]");
  expectError(run({artifact, "--input", "x=nope.npy", "--input", "k=" + k}),
              "input 'x': nope.npy: No such file or directory");
  expectError(runWithInputs({"--expect", "w=" + x}),
              "--expect: the model has no output named 'w' (model outputs: y, "
              "is/pos)");
  expectError(runWithInputs({"--expect", "is/pos=" + x}),
              "--expect for output 'is/pos': the model declares bool[2,3], "
              "but '" + x + "' holds float32[2,3]");
  expectError(runWithInputs({"--expect", "y=" + x, "--expect", "y=" + x}),
              "--expect: output 'y' given more than once");
  // Nothing ran, so nothing was written.
  EXPECT_FALSE(fileExists(work.file("out")));
}

TEST_F(SqzRunTest, LoadAndOutputErrors) {
  expectError(run({work.file("none"), "--input", "x=a"}),
              "cannot open artifact directory '" + work.file("none") +
                  "': No such file or directory");
  writeFile(work.file("file"), "");
  expectError(runWithInputs({"--output-dir", work.file("file")}),
              "output directory '" + work.file("file") +
                  "' exists and is not a directory");
}

/// sqz-run on the ABI 3 test model (TestModelDynamic.c): shapes come from the input files.
class SqzRunDynamicTest : public SqzRunTest {
protected:
  void SetUp() override {
    SqzRunTest::SetUp();
    dynamicArtifact = work.file("dynamic");
    ASSERT_EQ(::mkdir(dynamicArtifact.c_str(), 0777), 0);
    makeArtifact(dynamicArtifact, SQZ_TEST_MODEL_DYNAMIC, testDynamicModelManifest());
    past = work.file("past.npy");
    saveFloats(past, {2, 1}, {-1, -2});
  }

  ProcessResult runDynamic(const std::vector<std::string> &extra) {
    std::vector<std::string> args = {dynamicArtifact, "--input", "x=" + x, "--input",
                                     "past=" + past,  "--input", "k=" + k, "--output-dir",
                                     work.file("out")};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  }

  std::string dynamicArtifact, past;
};

TEST_F(SqzRunDynamicTest, RunsAtTheInputShapes) {
  std::string wantCat = work.file("cat.npy");
  saveFloats(wantCat, {2, 4}, {-1, 1, -2, 3, -2, 0, 5, -6});
  ProcessResult r = runDynamic({"--expect", "cat=" + wantCat, "--bench", "2"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::string out = work.file("out");
  EXPECT_EQ(r.out.substr(0, r.out.find("bench:")),
            "input x float32 [batch=2, seq=3] (dynamic)\n"
            "input past float32 [batch=2, past=1] (dynamic)\n"
            "input k int32 []\n"
            "output y float32 [batch=2, seq=3] (dynamic)\n"
            "output cat float32 [batch=2, ?=4] (dynamic)\n"
            "wrote y float32[2,3] -> " +
                out + "/y.npy\nwrote cat float32[2,4] -> " + out + "/cat.npy\n");
  EXPECT_NE(r.out.find("bench: 2 runs after 1 warm-up run\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("expect cat: max_abs_err=0 max_rel_err=0 mismatches=0/8 "
                       "(rtol=1e-05 atol=1e-06) OK\n"),
            std::string::npos)
      << r.out;
  NpyArray y;
  ASSERT_TRUE(readNpyFile(out + "/y.npy", y).ok());
  EXPECT_EQ(y.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(reinterpret_cast<const float *>(y.data.data())[5], -3.0f);

  // Another size, an empty past.
  saveFloats(x, {1, 8}, {1, 2, 3, 4, 5, 6, 7, 8});
  saveFloats(past, {1, 0}, {});
  r = runDynamic({});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("output cat float32 [batch=1, ?=8] (dynamic)\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("wrote cat float32[1,8] -> "), std::string::npos) << r.out;
}

TEST_F(SqzRunDynamicTest, Errors) {
  std::string wantCat = work.file("cat.npy");
  saveFloats(wantCat, {2, 3}, {0, 0, 0, 0, 0, 0});
  expectError(runDynamic({"--expect", "cat=" + wantCat}),
              "--expect for output 'cat': the model gives float32[2,4] for these inputs, but '" +
                  wantCat + "' holds float32[2,3]");
  expectError(run({dynamicArtifact, "--input", "x=" + x}),
              "missing --input for model input(s): past (float32[batch,past]), k (int32[])");
  std::string flat = work.file("flat.npy");
  saveFloats(flat, {6}, {1, 2, 3, 4, 5, 6});
  expectError(run({dynamicArtifact, "--input", "x=" + flat, "--input", "past=" + past,
                   "--input", "k=" + k}),
              "input 'x': the model declares float32[batch<=4,seq<=8], but '" + flat +
                  "' holds float32[6]");
  // The runtime checks bounds and named dims before running.
  saveFloats(x, {2, 9}, std::vector<float>(18, 1.0f));
  expectError(runDynamic({}), "sqz_model_infer_output_shapes: input 'x' dim 1 ('seq') is 9, "
                              "above its bound 8");
  saveFloats(x, {3, 1}, {1, 2, 3});
  expectError(runDynamic({}), "sqz_model_infer_output_shapes: input 'past' dim 0 ('batch') is "
                              "2, but input 'x' dim 0 of the same name is 3 (dims named "
                              "'batch' must be equal)");
  EXPECT_FALSE(fileExists(work.file("out")));
}

TEST_F(SqzRunDynamicTest, GeneratesWithKVCache) {
  std::string lm = work.file("lm");
  ASSERT_EQ(::mkdir(lm.c_str(), 0777), 0);
  makeArtifact(lm, SQZ_TEST_LM, testLMManifest());
  std::string prompt = work.file("prompt.npy");
  int64_t ids[3] = {1, 5, 9};
  ASSERT_TRUE(writeNpyFile(prompt, DType::Int64, {1, 3}, ids).ok());
  ProcessResult r = run({lm, "--generate", "6", "--prompt-ids", prompt});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // (5 * (1 s_0 + 2 s_1 + ...) + length + 2) mod 16, see TestLM.c.
  std::string lines = r.out;
  EXPECT_EQ(lines.substr(0, lines.find("prefill:")), "prompt: 1 5 9\ngenerated: 3 0 1 0 1 10\n");
  EXPECT_NE(lines.find("\nprefill: 3 tokens in "), std::string::npos) << lines;
  EXPECT_NE(lines.find("\ndecode: 5 tokens in "), std::string::npos) << lines;
  EXPECT_NE(lines.find("\nmode: KV cache, 1 layer\n"), std::string::npos) << lines;
  r = run({lm, "--generate", "40", "--prompt-ids", prompt});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_EQ(r.err, "sqz-run: error: --generate: the prompt (3 tokens) plus 40 new tokens do not "
                   "fit the model: sqz_model_infer_output_shapes: input 'past_key_values.0.key' "
                   "dim 2 ('past') is 41, above its bound 40\n");
}

} // namespace
