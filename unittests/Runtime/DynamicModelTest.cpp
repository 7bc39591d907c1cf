//===- DynamicModelTest.cpp - Tests for ABI 3 (dynamic dims) in the C API -===//
//
// Loads artifacts around the hand-written ABI 3 model (TestModelDynamic.c):
//   inputs  x: float32[batch, seq], past: float32[batch, past], k: int32[]
//   outputs y = x + k, cat = concat(past, x) on dim 1
// and checks the shape queries, output shape inference, shaped runs at several
// sizes (empty ones included), every validation error and concurrent use.
//
//===----------------------------------------------------------------------===//

#include "Runtime/Safetensors.h"
#include "sqz-c/sqz.h"
#include "TestUtil.h"

#include "gtest/gtest.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace sqz::test;

namespace {

struct ModelDeleter {
  void operator()(sqz_model *m) const { sqz_model_unload(m); }
};
using ModelPtr = std::unique_ptr<sqz_model, ModelDeleter>;

ModelPtr loadDynamic(const TempDir &dir, const std::string &manifest = testDynamicModelManifest()) {
  makeArtifact(dir.path(), SQZ_TEST_MODEL_DYNAMIC, manifest);
  ModelPtr model(sqz_model_load(dir.path().c_str()));
  EXPECT_NE(model, nullptr) << sqz_last_error();
  return model;
}

/// One run's tensors for sizes (batch, seq, past).
struct ShapedRun {
  int64_t batch, seq, past;
  int32_t k = 5;
  int64_t xShape[2], pastShape[2];
  std::vector<float> x, pastData, y, cat;
  const int64_t *shapes[3];
  const void *inputs[3];
  void *outputs[2];

  ShapedRun(int64_t batch, int64_t seq, int64_t past, float base = 0)
      : batch(batch), seq(seq), past(past), xShape{batch, seq}, pastShape{batch, past},
        x(batch * seq), pastData(batch * past), y(batch * seq, -1.0f),
        cat(batch * (past + seq), -1.0f), shapes{xShape, pastShape, nullptr},
        inputs{x.data(), pastData.data(), &k}, outputs{y.data(), cat.data()} {
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = base + static_cast<float>(i);
    for (size_t i = 0; i < pastData.size(); ++i)
      pastData[i] = base - 1.0f - static_cast<float>(i);
  }

  /// Expects the outputs of a successful run.
  void check() const {
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t s = 0; s < seq; ++s)
        ASSERT_EQ(y[b * seq + s], x[b * seq + s] + k) << b << "," << s;
      for (int64_t j = 0; j < past; ++j)
        ASSERT_EQ(cat[b * (past + seq) + j], pastData[b * past + j]);
      for (int64_t s = 0; s < seq; ++s)
        ASSERT_EQ(cat[b * (past + seq) + past + s], x[b * seq + s]);
    }
  }
};

/// Expects sqz_model_run_shaped to fail with exactly `message`.
void expectRunError(sqz_model *m, const ShapedRun &run, const std::string &message) {
  EXPECT_NE(sqz_model_run_shaped(m, run.shapes, run.inputs, run.outputs), 0);
  EXPECT_EQ(sqz_last_error(), message);
}

TEST(DynamicModelTest, Describes) {
  TempDir dir;
  ModelPtr model = loadDynamic(dir);
  ASSERT_NE(model, nullptr);
  sqz_model *m = model.get();
  EXPECT_EQ(sqz_model_is_dynamic(m), 1);
  ASSERT_EQ(sqz_model_input_rank(m, 0), 2u);
  EXPECT_EQ(sqz_model_input_shape(m, 0)[0], -1);
  EXPECT_EQ(sqz_model_input_shape(m, 0)[1], -1);
  EXPECT_EQ(sqz_model_input_max_shape(m, 0)[0], 4);
  EXPECT_EQ(sqz_model_input_max_shape(m, 0)[1], 8);
  EXPECT_STREQ(sqz_model_input_dim_name(m, 0, 0), "batch");
  EXPECT_STREQ(sqz_model_input_dim_name(m, 0, 1), "seq");
  EXPECT_STREQ(sqz_model_input_dim_name(m, 1, 1), "past");
  // Without max_shape, dynamic dims have no bound.
  EXPECT_EQ(sqz_model_input_max_shape(m, 1)[1], -1);
  EXPECT_STREQ(sqz_model_output_dim_name(m, 1, 1), "");
  EXPECT_EQ(sqz_model_output_max_shape(m, 1)[1], -1);
  // Dynamic tensors have no fixed size; the static scalar has.
  EXPECT_EQ(sqz_model_input_nbytes(m, 0), 0u);
  EXPECT_EQ(sqz_model_output_nbytes(m, 1), 0u);
  EXPECT_EQ(sqz_model_input_nbytes(m, 2), 4u);
  EXPECT_NE(sqz_model_input_max_shape(m, 2), nullptr); // scalar: valid, empty

  EXPECT_EQ(sqz_model_input_dim_name(m, 0, 2), nullptr);
  EXPECT_STREQ(sqz_last_error(),
               "sqz_model_input_dim_name: axis 2 is out of range (input 'x' has rank 2)");
  EXPECT_EQ(sqz_model_output_dim_name(m, 5, 0), nullptr);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_output_dim_name: index 5 is out of range (the "
                                 "model has 2 outputs)");
  EXPECT_EQ(sqz_model_output_max_shape(m, 2), nullptr);
  EXPECT_EQ(sqz_model_is_dynamic(nullptr), 0);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_is_dynamic: model is NULL");

  // A static model is not dynamic; its bounds are its shape.
  TempDir staticDir;
  makeArtifact(staticDir.path(), SQZ_TEST_MODEL, testModelManifest());
  ModelPtr fixed(sqz_model_load(staticDir.path().c_str()));
  ASSERT_NE(fixed, nullptr) << sqz_last_error();
  EXPECT_EQ(sqz_model_is_dynamic(fixed.get()), 0);
  EXPECT_EQ(sqz_model_input_max_shape(fixed.get(), 0)[1], 3);
  EXPECT_STREQ(sqz_model_input_dim_name(fixed.get(), 0, 1), "");
}

TEST(DynamicModelTest, InfersOutputShapes) {
  TempDir dir;
  ModelPtr model = loadDynamic(dir);
  ASSERT_NE(model, nullptr);
  int64_t x[2] = {3, 7}, past[2] = {3, 11};
  const int64_t *in[] = {x, past, nullptr};
  int64_t y[2] = {-9, -9}, cat[2] = {-9, -9};
  int64_t *out[] = {y, cat};
  ASSERT_EQ(sqz_model_infer_output_shapes(model.get(), in, out), 0) << sqz_last_error();
  EXPECT_EQ(y[0], 3);
  EXPECT_EQ(y[1], 7);
  EXPECT_EQ(cat[0], 3);
  EXPECT_EQ(cat[1], 18);

  // The inputs are validated as for a run.
  x[1] = 9;
  EXPECT_NE(sqz_model_infer_output_shapes(model.get(), in, out), 0);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_infer_output_shapes: input 'x' dim 1 ('seq') is "
                                 "9, above its bound 8");
  x[1] = 7;
  EXPECT_NE(sqz_model_infer_output_shapes(model.get(), in, nullptr), 0);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_infer_output_shapes: output_shapes array is NULL");
  int64_t *noCat[] = {y, nullptr};
  EXPECT_NE(sqz_model_infer_output_shapes(model.get(), in, noCat), 0);
  EXPECT_STREQ(sqz_last_error(),
               "sqz_model_infer_output_shapes: output 1 ('cat') shape is NULL (it has rank 2)");
  EXPECT_NE(sqz_model_infer_output_shapes(nullptr, in, out), 0);
  EXPECT_STREQ(sqz_last_error(), "sqz_model_infer_output_shapes: model is NULL");
}

TEST(DynamicModelTest, RunsAtSeveralSizes) {
  TempDir dir;
  ModelPtr model = loadDynamic(dir);
  ASSERT_NE(model, nullptr);
  // Including the bounds themselves, an empty past, and empty everything.
  for (auto [batch, seq, past] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {2, 3, 4}, {1, 1, 0}, {4, 8, 1}, {3, 0, 2}, {0, 5, 7}}) {
    SCOPED_TRACE(std::to_string(batch) + "x" + std::to_string(seq) + " past " +
                 std::to_string(past));
    ShapedRun run(batch, seq, past, 10.0f * batch);
    ASSERT_EQ(sqz_model_run_shaped(model.get(), run.shapes, run.inputs, run.outputs), 0)
        << sqz_last_error();
    run.check();
  }
  // Buffers of tensors without elements may be NULL.
  ShapedRun empty(2, 3, 0);
  empty.inputs[1] = nullptr;
  ASSERT_EQ(sqz_model_run_shaped(model.get(), empty.shapes, empty.inputs, empty.outputs), 0)
      << sqz_last_error();
  empty.check();
  ShapedRun none(0, 3, 1);
  none.inputs[0] = none.inputs[1] = nullptr;
  none.outputs[0] = none.outputs[1] = nullptr;
  ASSERT_EQ(sqz_model_run_shaped(model.get(), none.shapes, none.inputs, none.outputs), 0)
      << sqz_last_error();
}

TEST(DynamicModelTest, RunRefusesDynamicModel) {
  TempDir dir;
  ModelPtr model = loadDynamic(dir);
  ASSERT_NE(model, nullptr);
  ShapedRun run(1, 2, 3);
  EXPECT_NE(sqz_model_run(model.get(), run.inputs, run.outputs), 0);
  EXPECT_STREQ(sqz_last_error(),
               "sqz_model_run: the model has dynamic dims (input 'x' dim 0 ('batch')); run it "
               "with sqz_model_run_shaped, which takes the input shapes");
}

TEST(DynamicModelTest, ValidationErrors) {
  TempDir dir;
  ModelPtr model = loadDynamic(dir);
  ASSERT_NE(model, nullptr);
  sqz_model *m = model.get();
  const std::string prefix = "sqz_model_run_shaped: ";
  {
    ShapedRun run(2, 9, 1);
    expectRunError(m, run, prefix + "input 'x' dim 1 ('seq') is 9, above its bound 8");
  }
  {
    ShapedRun run(5, 1, 1);
    expectRunError(m, run, prefix + "input 'x' dim 0 ('batch') is 5, above its bound 4");
  }
  {
    ShapedRun run(2, 3, 1);
    run.xShape[1] = -1;
    expectRunError(m, run, prefix + "input 'x' dim 1 ('seq') is -1, must be >= 0");
  }
  {
    // Dims sharing a name must be equal.
    ShapedRun run(2, 3, 1);
    run.pastShape[0] = 3;
    expectRunError(m, run,
                   prefix + "input 'past' dim 0 ('batch') is 3, but input 'x' dim 0 of the "
                            "same name is 2 (dims named 'batch' must be equal)");
  }
  {
    ShapedRun run(1, 1, 1);
    run.pastShape[1] = int64_t(1) << 62;
    expectRunError(m, run,
                   prefix + "input 'past' of shape [1,4611686018427387904] is too large");
  }
  {
    ShapedRun run(1, 2, 3);
    run.outputs[1] = nullptr;
    expectRunError(m, run, prefix + "output 1 ('cat') buffer is NULL");
    run.outputs[1] = run.cat.data();
    run.inputs[0] = nullptr;
    expectRunError(m, run, prefix + "input 0 ('x') buffer is NULL");
    run.inputs[0] = run.x.data();
    run.shapes[1] = nullptr;
    expectRunError(m, run, prefix + "input 1 ('past') shape is NULL (it has rank 2)");
    run.shapes[1] = run.pastShape;
    EXPECT_NE(sqz_model_run_shaped(m, nullptr, run.inputs, run.outputs), 0);
    EXPECT_EQ(sqz_last_error(), prefix + "input_shapes array is NULL");
    EXPECT_NE(sqz_model_run_shaped(m, run.shapes, nullptr, run.outputs), 0);
    EXPECT_EQ(sqz_last_error(), prefix + "inputs array is NULL");
    EXPECT_NE(sqz_model_run_shaped(m, run.shapes, run.inputs, nullptr), 0);
    EXPECT_EQ(sqz_last_error(), prefix + "outputs array is NULL");
    EXPECT_NE(sqz_model_run_shaped(nullptr, run.shapes, run.inputs, run.outputs), 0);
    EXPECT_EQ(sqz_last_error(), prefix + "model is NULL");
    // Nothing above reached the library; the run still works.
    ASSERT_EQ(sqz_model_run_shaped(m, run.shapes, run.inputs, run.outputs), 0)
        << sqz_last_error();
    run.check();
  }

  // A static dim in a dynamic tensor, and a bound on an output the library computes.
  TempDir other;
  ModelPtr partly = loadDynamic(
      other, testDynamicModelManifest(R"("shape": [-1, 3], "dim_names": ["batch", ""])",
                             R"("shape": [-1, -1], "dim_names": ["batch", "past"])",
                             R"("shape": [-1, 3])",
                             R"("shape": [-1, -1], "max_shape": [-1, 5])"));
  ASSERT_NE(partly, nullptr);
  ShapedRun wrong(2, 4, 1);
  expectRunError(partly.get(), wrong, prefix + "input 'x' dim 1 is 4, but the model declares 3");
  ShapedRun tooLong(2, 3, 3);
  expectRunError(partly.get(), tooLong,
                 prefix + "output 'cat' dim 1 is 6, above its bound 5 (computed by the model "
                          "library from the input shapes [2,3,2,3])");
  ShapedRun fits(2, 3, 2);
  ASSERT_EQ(sqz_model_run_shaped(partly.get(), fits.shapes, fits.inputs, fits.outputs), 0)
      << sqz_last_error();
  fits.check();
}

TEST(DynamicModelTest, StaticModelsRunShaped) {
  // ABI 3 with static shapes: both run functions work.
  TempDir dir;
  ModelPtr model = loadDynamic(
      dir, testDynamicModelManifest(R"("shape": [2, 3])", R"("shape": [2, 4])", R"("shape": [2, 3])",
                           R"("shape": [2, 7])"));
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(sqz_model_is_dynamic(model.get()), 0);
  EXPECT_EQ(sqz_model_output_nbytes(model.get(), 1), 56u);
  ShapedRun run(2, 3, 4);
  ASSERT_EQ(sqz_model_run(model.get(), run.inputs, run.outputs), 0) << sqz_last_error();
  run.check();
  ShapedRun shaped(2, 3, 4, 7.0f);
  ASSERT_EQ(sqz_model_run_shaped(model.get(), shaped.shapes, shaped.inputs, shaped.outputs), 0)
      << sqz_last_error();
  shaped.check();
  ShapedRun wrong(2, 3, 5);
  expectRunError(model.get(), wrong,
                 "sqz_model_run_shaped: input 'past' dim 1 is 5, but the model declares 4");

  // ABI 1 too, with more dims than run_shaped keeps on its stack.
  std::string manifest = testModelManifest();
  std::string extra;
  for (int i = 0; i < 20; ++i)
    extra += R"(, {"name": "e)" + std::to_string(i) +
             R"(", "dtype": "int8", "shape": [1, 1, 1, )" + std::to_string(i % 2) + "]}";
  manifest.insert(manifest.rfind(']'), extra);
  TempDir abi1;
  makeArtifact(abi1.path(), SQZ_TEST_MODEL, manifest);
  ModelPtr old(sqz_model_load(abi1.path().c_str()));
  ASSERT_NE(old, nullptr) << sqz_last_error();
  float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {};
  int32_t k = 2;
  uint8_t pos[6];
  int8_t byte = 0;
  int64_t xShape[2] = {2, 3};
  const int64_t *shapes[] = {xShape, nullptr};
  const void *inputs[] = {x, &k};
  std::vector<void *> outputs = {y, pos};
  for (int i = 0; i < 20; ++i)
    outputs.push_back(i % 2 ? &byte : nullptr);
  ASSERT_EQ(sqz_model_run_shaped(old.get(), shapes, inputs, outputs.data()), 0)
      << sqz_last_error();
  EXPECT_EQ(y[5], 12.0f);
  std::vector<int64_t> out(2 + 2 + 20 * 4, -1);
  std::vector<int64_t *> outShapes;
  for (size_t j = 0, at = 0; j < 22; ++j) {
    outShapes.push_back(out.data() + at);
    at += sqz_model_output_rank(old.get(), j);
  }
  ASSERT_EQ(sqz_model_infer_output_shapes(old.get(), shapes, outShapes.data()), 0)
      << sqz_last_error();
  EXPECT_EQ(out[3], 3);
  EXPECT_EQ(out.back(), 1);
  xShape[1] = 4;
  EXPECT_NE(sqz_model_run_shaped(old.get(), shapes, inputs, outputs.data()), 0);
  EXPECT_STREQ(sqz_last_error(),
               "sqz_model_run_shaped: input 'x' dim 1 is 4, but the model declares 3");
}

TEST(DynamicModelTest, WeightsBufferFollowsOutputs) {
  TempDir dir;
  float bias = 0.5f;
  std::vector<sqz::runtime::SafetensorsEntry> layout;
  ASSERT_TRUE(sqz::runtime::writeSafetensors(dir.file("model.safetensors"),
                                             {{{"bias", "F32", {1}, 0, 0}, &bias}}, {},
                                             &layout)
                  .ok());
  ModelPtr model = loadDynamic(
      dir, testDynamicModelManifest(
               R"("shape": [-1, -1], "dim_names": ["batch", "seq"])",
               R"("shape": [-1, -1], "dim_names": ["batch", "past"])",
               R"("shape": [-1, -1])", R"("shape": [-1, -1])",
               R"("weights": {"file": "model.safetensors", "bytes": 4, "tensors": [{"name": "bias", "dtype": "F32", "shape": [1], "offset": 0}]},)",
               "sqz_model_invoke_weights"));
  ASSERT_NE(model, nullptr);
  ShapedRun run(2, 3, 1);
  ASSERT_EQ(sqz_model_run_shaped(model.get(), run.shapes, run.inputs, run.outputs), 0)
      << sqz_last_error();
  EXPECT_EQ(run.y[4], run.x[4] + run.k + 0.5f);
}

TEST(DynamicModelTest, LoadErrors) {
  TempDir noShapes, wrongAbi;
  makeArtifact(noShapes.path(), SQZ_TEST_MODEL_DYNAMIC_NO_SHAPES, testDynamicModelManifest());
  ASSERT_EQ(sqz_model_load(noShapes.path().c_str()), nullptr);
  std::string error = sqz_last_error();
  EXPECT_NE(error.find("has no sqz_model_output_shapes, which ABI 3 model libraries export ("),
            std::string::npos)
      << error;
  // An ABI 1 library under an ABI 3 manifest.
  makeArtifact(wrongAbi.path(), SQZ_TEST_MODEL, testDynamicModelManifest());
  ASSERT_EQ(sqz_model_load(wrongAbi.path().c_str()), nullptr);
  error = sqz_last_error();
  EXPECT_NE(error.find("has ABI version 1, but its manifest says 3"), std::string::npos)
      << error;
}

TEST(DynamicModelTest, ConcurrentShapedRuns) {
  TempDir dir;
  ModelPtr model = loadDynamic(dir);
  ASSERT_NE(model, nullptr);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int iter = 0; iter < 300; ++iter) {
        ShapedRun run(1 + (t + iter) % 4, (iter * 3 + t) % 9, (iter + 2 * t) % 6, float(t));
        run.k = iter;
        int64_t y[2], cat[2];
        int64_t *outShapes[] = {y, cat};
        if (sqz_model_infer_output_shapes(model.get(), run.shapes, outShapes) != 0 ||
            cat[1] != run.past + run.seq ||
            sqz_model_run_shaped(model.get(), run.shapes, run.inputs, run.outputs) != 0) {
          ++failures;
          continue;
        }
        for (size_t i = 0; i < run.y.size(); ++i)
          if (run.y[i] != run.x[i] + iter)
            ++failures;
        // Errors from other threads do not leak into this one's message.
        ShapedRun bad(1, 9, 0);
        if (sqz_model_run_shaped(model.get(), bad.shapes, bad.inputs, bad.outputs) == 0 ||
            std::string(sqz_last_error()).find("'x' dim 1 ('seq') is 9") == std::string::npos)
          ++failures;
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
}

} // namespace
