//===- ModelTest.cpp - Tests for artifact loading and the C API -----------===//
//
// Loads artifacts built around the hand-written test model (TestModel.c) and
// broken variants of it, through the public C API only.
//
//===----------------------------------------------------------------------===//

#include "sqz-c/sqz.h"
#include "TestUtil.h"

#include "gtest/gtest.h"

#include <atomic>
#include <thread>
#include <vector>

using namespace sqz::test;

extern "C" int sqzCApiCompilesAsC(void);

namespace {

struct ModelDeleter {
  void operator()(sqz_model *m) const { sqz_model_unload(m); }
};
using ModelPtr = std::unique_ptr<sqz_model, ModelDeleter>;

/// Loads `dir`, expecting failure with an error containing each needle.
void expectLoadError(const std::string &dir,
                     const std::vector<std::string> &needles) {
  ModelPtr model(sqz_model_load(dir.c_str()));
  ASSERT_EQ(model, nullptr);
  std::string error = sqz_last_error();
  for (const std::string &needle : needles)
    EXPECT_NE(error.find(needle), std::string::npos)
        << "missing '" << needle << "' in: " << error;
}

TEST(ModelTest, HeaderIsValidC) { EXPECT_EQ(sqzCApiCompilesAsC(), 1); }

TEST(ModelTest, LoadsAndDescribes) {
  TempDir dir;
  makeArtifact(dir.path(), SQZ_TEST_MODEL, testModelManifest());
  ModelPtr model(sqz_model_load(dir.path().c_str()));
  ASSERT_NE(model, nullptr) << sqz_last_error();
  sqz_model *m = model.get();
  EXPECT_STREQ(sqz_model_source(m), "test.onnx");
  ASSERT_EQ(sqz_model_num_inputs(m), 2u);
  ASSERT_EQ(sqz_model_num_outputs(m), 2u);

  EXPECT_STREQ(sqz_model_input_name(m, 0), "x");
  EXPECT_STREQ(sqz_model_input_dtype(m, 0), "float32");
  ASSERT_EQ(sqz_model_input_rank(m, 0), 2u);
  EXPECT_EQ(sqz_model_input_shape(m, 0)[0], 2);
  EXPECT_EQ(sqz_model_input_shape(m, 0)[1], 3);
  EXPECT_EQ(sqz_model_input_nbytes(m, 0), 24u);

  EXPECT_STREQ(sqz_model_input_name(m, 1), "k");
  EXPECT_STREQ(sqz_model_input_dtype(m, 1), "int32");
  EXPECT_EQ(sqz_model_input_rank(m, 1), 0u);
  EXPECT_NE(sqz_model_input_shape(m, 1), nullptr); // scalar: valid, empty
  EXPECT_EQ(sqz_model_input_nbytes(m, 1), 4u);

  EXPECT_STREQ(sqz_model_output_name(m, 1), "is/pos");
  EXPECT_STREQ(sqz_model_output_dtype(m, 1), "bool");
  EXPECT_EQ(sqz_model_output_rank(m, 1), 2u);
  EXPECT_EQ(sqz_model_output_nbytes(m, 1), 6u);
}

TEST(ModelTest, IndexOutOfRange) {
  TempDir dir;
  makeArtifact(dir.path(), SQZ_TEST_MODEL, testModelManifest());
  ModelPtr model(sqz_model_load(dir.path().c_str()));
  ASSERT_NE(model, nullptr) << sqz_last_error();
  EXPECT_EQ(sqz_model_input_name(model.get(), 2), nullptr);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_input_name: index 2 is out of "
                                 "range (the model has 2 inputs)");
  EXPECT_EQ(sqz_model_output_shape(model.get(), 7), nullptr);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_output_shape: index 7 is out of "
                                 "range (the model has 2 outputs)");
  EXPECT_EQ(sqz_model_output_rank(model.get(), 2), 0u);
  EXPECT_EQ(sqz_model_input_nbytes(model.get(), 2), 0u);
  EXPECT_EQ(sqz_model_num_inputs(nullptr), 0u);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_num_inputs: model is NULL");
  sqz_model_unload(nullptr); // allowed
}

TEST(ModelTest, Runs) {
  TempDir dir;
  makeArtifact(dir.path(), SQZ_TEST_MODEL, testModelManifest());
  // A trailing slash on the directory is fine.
  ModelPtr model(sqz_model_load((dir.path() + "/").c_str()));
  ASSERT_NE(model, nullptr) << sqz_last_error();
  float x[6] = {1, -2, 3, 0, 5, -6};
  int32_t k = 3;
  float y[6] = {};
  uint8_t pos[6] = {9, 9, 9, 9, 9, 9};
  const void *inputs[] = {x, &k};
  void *outputs[] = {y, pos};
  ASSERT_EQ(sqz_model_run(model.get(), inputs, outputs), 0)
      << sqz_last_error();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(y[i], x[i] * 3);
    EXPECT_EQ(pos[i], x[i] > 0 ? 1 : 0);
  }
}

TEST(ModelTest, RunsWithManyTensors) {
  // More buffers than sqz_model_run keeps on its stack. The test model only
  // touches the first four; the extra outputs check the others are bound.
  std::string manifest = testModelManifest();
  std::string extra;
  for (int i = 0; i < 20; ++i)
    extra += ", {\"name\": \"e" + std::to_string(i) +
             "\", \"dtype\": \"int8\", \"shape\": [" + std::to_string(i) + "]}";
  size_t end = manifest.rfind("]");
  manifest.insert(end, extra);
  TempDir dir;
  makeArtifact(dir.path(), SQZ_TEST_MODEL, manifest);
  ModelPtr model(sqz_model_load(dir.path().c_str()));
  ASSERT_NE(model, nullptr) << sqz_last_error();
  ASSERT_EQ(sqz_model_num_outputs(model.get()), 22u);
  EXPECT_EQ(sqz_model_output_nbytes(model.get(), 21), 19u);
  float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {};
  int32_t k = 2;
  uint8_t pos[6];
  std::vector<int8_t> extraData(19);
  const void *inputs[] = {x, &k};
  std::vector<void *> outputs = {y, pos};
  for (int i = 0; i < 20; ++i)
    outputs.push_back(extraData.data());
  ASSERT_EQ(sqz_model_run(model.get(), inputs, outputs.data()), 0)
      << sqz_last_error();
  EXPECT_EQ(y[5], 12.0f);
  // The 0-element output may be NULL, the others may not.
  outputs[2] = nullptr;
  EXPECT_EQ(sqz_model_run(model.get(), inputs, outputs.data()), 0)
      << sqz_last_error();
  outputs[3] = nullptr;
  EXPECT_NE(sqz_model_run(model.get(), inputs, outputs.data()), 0);
  EXPECT_STREQ(sqz_last_error(),
               "sqz_model_run: output 3 ('e1') buffer is NULL");
}

TEST(ModelTest, RunRejectsNullBuffers) {
  TempDir dir;
  makeArtifact(dir.path(), SQZ_TEST_MODEL, testModelManifest());
  ModelPtr model(sqz_model_load(dir.path().c_str()));
  ASSERT_NE(model, nullptr) << sqz_last_error();
  float x[6] = {}, y[6] = {};
  uint8_t pos[6] = {};
  const void *inputs[] = {x, nullptr};
  void *outputs[] = {y, pos};
  EXPECT_NE(sqz_model_run(model.get(), inputs, outputs), 0);
  EXPECT_STREQ(sqz_last_error(),
               "sqz_model_run: input 1 ('k') buffer is NULL");
  EXPECT_NE(sqz_model_run(model.get(), inputs, nullptr), 0);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_run: outputs array is NULL");
  EXPECT_NE(sqz_model_run(nullptr, inputs, outputs), 0);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_run: model is NULL");
}

TEST(ModelTest, ConcurrentRuns) {
  TempDir dir;
  makeArtifact(dir.path(), SQZ_TEST_MODEL, testModelManifest());
  ModelPtr model(sqz_model_load(dir.path().c_str()));
  ASSERT_NE(model, nullptr) << sqz_last_error();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int iter = 0; iter < 1000; ++iter) {
        float x[6] = {1, 2, 3, 4, 5, 6};
        int32_t k = t + iter;
        float y[6];
        uint8_t pos[6];
        const void *inputs[] = {x, &k};
        void *outputs[] = {y, pos};
        if (sqz_model_run(model.get(), inputs, outputs) != 0 ||
            y[5] != 6.0f * k)
          ++failures;
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ModelTest, LastErrorIsPerThread) {
  TempDir dir;
  ASSERT_EQ(sqz_model_load(dir.file("missing").c_str()), nullptr);
  std::string mine = sqz_last_error();
  EXPECT_FALSE(mine.empty());
  std::string other = "unset";
  std::thread([&] { other = sqz_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_EQ(sqz_last_error(), mine);
}

TEST(ModelTest, LoadErrors) {
  TempDir dir;
  expectLoadError(dir.file("missing"),
                  {"cannot open artifact directory '" + dir.file("missing") +
                   "': No such file or directory"});
  writeFile(dir.file("plain"), "x");
  expectLoadError(dir.file("plain"), {"is not a directory"});
  expectLoadError(dir.path(), {"cannot open manifest '" +
                               dir.file("manifest.json") +
                               "': No such file or directory"});
  writeFile(dir.file("manifest.json"), "{\"format\": \"sqz-artifact\",}");
  expectLoadError(dir.path(), {dir.file("manifest.json") +
                               ": invalid JSON at offset 26"});
  ModelPtr none(sqz_model_load(""));
  EXPECT_EQ(none, nullptr);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_load: artifact directory is empty");
}

TEST(ModelTest, LibraryErrors) {
  TempDir dir;
  writeFile(dir.file("manifest.json"), testModelManifest());
  expectLoadError(dir.path(), {"cannot open model library '" +
                               dir.file("model.so") +
                               "' named by the manifest: No such file"});
  writeFile(dir.file("model.so"), "not an ELF file");
  // dlerror's own text is passed on.
  expectLoadError(dir.path(), {"cannot load model library: ",
                               dir.file("model.so"), "file too short"});
}

TEST(ModelTest, AbiChecks) {
  TempDir noAbi, badAbi, noEntry;
  makeArtifact(noAbi.path(), SQZ_TEST_MODEL_NO_ABI, testModelManifest());
  expectLoadError(noAbi.path(), {"is not a Squeeze model library: no "
                                 "sqz_abi_version (",
                                 "undefined symbol: sqz_abi_version"});
  makeArtifact(badAbi.path(), SQZ_TEST_MODEL_ABI2, testModelManifest());
  expectLoadError(badAbi.path(),
                  {"has ABI version 2, but its manifest says 1"});
  makeArtifact(noEntry.path(), SQZ_TEST_MODEL, testModelManifest("main_graph"));
  expectLoadError(noEntry.path(), {"has no entry symbol 'main_graph' named by "
                                   "the manifest (",
                                   "undefined symbol: main_graph"});
}

} // namespace
