//===- CudaRuntimeTest.cpp - The device path without a GPU ----------------===//
//
// What the runtime does for CUDA artifacts when there is no driver (forced with
// $SQZ_CUDA_DRIVER=/nonexistent/libcuda.so.1, so the tests hold on GPU machines too), the
// device checks of sqz_model_load_on_device and sqz-run --device, and the manifest's
// "device"/"gpu_arch". With a GPU: CudaDeviceTest.cpp (ctest label `gpu`).
//
//===----------------------------------------------------------------------===//

#include "sqz-c/sqz.h"
#include "sqz-c/sqz_gpu.h"

#include "Runtime/CudaDriver.h"
#include "Runtime/Manifest.h"
#include "Runtime/Npy.h"
#include "TestUtil.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

using namespace sqz::runtime;
using namespace sqz::test;

namespace {

constexpr char kMissingDriver[] = "/nonexistent/libcuda.so.1";
const std::string kNoDriverMessage =
    "CUDA driver not found: /nonexistent/libcuda.so.1: cannot open shared object file: No "
    "such file or directory (from $SQZ_CUDA_DRIVER); a GPU model needs the NVIDIA driver's "
    "libcuda.so.1";

/// The driver is opened once per process: every test here sets the same missing driver
/// before the first use.
void useMissingDriver() { ::setenv("SQZ_CUDA_DRIVER", kMissingDriver, 1); }

/// The test model's manifest marked as a CUDA artifact.
std::string cudaManifest() {
  std::string text = testModelManifest();
  std::string key = "\"abi_version\": 1,";
  size_t at = text.find(key);
  text.insert(at + key.size(), "\n  \"device\": \"cuda\", \"gpu_arch\": \"sm_80\",");
  return text;
}

TEST(CudaRuntimeTest, MissingDriverIsAClearError) {
  useMissingDriver();
  char error[512] = "unchanged";
  EXPECT_EQ(sqz_cuda_api(0, error, sizeof(error)), nullptr);
  EXPECT_EQ(std::string(error), kNoDriverMessage);
  // Truncated to the buffer, always terminated; a NULL buffer is allowed.
  char small[8];
  EXPECT_EQ(sqz_cuda_api(0, small, sizeof(small)), nullptr);
  EXPECT_STREQ(small, "CUDA dr");
  EXPECT_EQ(sqz_cuda_api(0, nullptr, 0), nullptr);
  EXPECT_EQ(sqz_cuda_api(-1, error, sizeof(error)), nullptr);
  EXPECT_STREQ(error, "CUDA device -1 is out of range (0 to 15)");
}

TEST(CudaRuntimeTest, CudaArtifactWithoutDriverFailsToLoad) {
  useMissingDriver();
  TempDir dir;
  makeArtifact(dir.path(), SQZ_TEST_MODEL, cudaManifest());
  EXPECT_EQ(sqz_model_load(dir.path().c_str()), nullptr);
  EXPECT_EQ(std::string(sqz_last_error()),
            "cannot run CUDA model '" + dir.path() + "': " + kNoDriverMessage);
  EXPECT_EQ(sqz_model_load_on_device(dir.path().c_str(), "cuda:0"), nullptr);
  EXPECT_EQ(std::string(sqz_last_error()),
            "cannot run CUDA model '" + dir.path() + "': " + kNoDriverMessage);
  EXPECT_EQ(sqz_model_load_on_device(dir.path().c_str(), "cpu"), nullptr);
  EXPECT_EQ(std::string(sqz_last_error()),
            "artifact '" + dir.path() +
                "' was compiled for cuda (sm_80) (its manifest's \"device\"), not for cpu; "
                "recompile it with sqz-compile --target cpu to run it on the CPU");
}

TEST(CudaRuntimeTest, DeviceOfCpuArtifacts) {
  TempDir dir;
  makeArtifact(dir.path(), SQZ_TEST_MODEL, testModelManifest());
  for (const char *device : {static_cast<const char *>(nullptr), "", "cpu"}) {
    sqz_model *m = sqz_model_load_on_device(dir.path().c_str(), device);
    ASSERT_NE(m, nullptr) << sqz_last_error();
    EXPECT_STREQ(sqz_model_device(m), "cpu");
    double compute = 0, total = 0;
    EXPECT_NE(sqz_model_last_run_gpu_ms(m, &compute, &total), 0);
    EXPECT_STREQ(sqz_last_error(), "sqz_model_last_run_gpu_ms: the model runs on the CPU");
    sqz_model_unload(m);
  }
  for (const char *device : {"cuda", "cuda:3"}) {
    EXPECT_EQ(sqz_model_load_on_device(dir.path().c_str(), device), nullptr);
    EXPECT_EQ(std::string(sqz_last_error()),
              "artifact '" + dir.path() +
                  "' was compiled for cpu (its manifest's \"device\"), not for cuda; recompile "
                  "it with sqz-compile --target cuda:sm_80 (or sm_90) to run it on a GPU");
  }
  for (const char *device : {"gpu", "cuda:", "cuda:x", "CUDA", "cuda:12345"}) {
    EXPECT_EQ(sqz_model_load_on_device(dir.path().c_str(), device), nullptr);
    EXPECT_EQ(std::string(sqz_last_error()),
              std::string("sqz_model_load_on_device: unknown device '") + device +
                  "' (expected cpu, cuda or cuda:N)");
  }
  EXPECT_EQ(sqz_model_device(nullptr), nullptr);
}

TEST(CudaRuntimeTest, SqzRunWithoutDriver) {
  TempDir work;
  std::string artifact = work.file("artifact");
  ASSERT_EQ(::mkdir(artifact.c_str(), 0777), 0);
  makeArtifact(artifact, SQZ_TEST_MODEL, cudaManifest());
  std::string x = work.file("x.npy"), k = work.file("k.npy");
  float values[6] = {1, 2, 3, 4, 5, 6};
  int32_t three = 3;
  ASSERT_TRUE(writeNpyFile(x, DType::Float32, {2, 3}, values).ok());
  ASSERT_TRUE(writeNpyFile(k, DType::Int32, {}, &three).ok());
  for (std::vector<std::string> device :
       {std::vector<std::string>{}, {"--device", "cuda"}, {"--device=cuda:0"}}) {
    std::vector<std::string> args = {"/usr/bin/env",
                                     std::string("SQZ_CUDA_DRIVER=") + kMissingDriver,
                                     SQZ_RUN_PATH,
                                     artifact,
                                     "--input",
                                     "x=" + x,
                                     "--input",
                                     "k=" + k,
                                     "--output-dir",
                                     work.file("out")};
    args.insert(args.end(), device.begin(), device.end());
    ProcessResult r = runProcess(args, work.path());
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "sqz-run: error: cannot run CUDA model '" + artifact +
                         "': " + kNoDriverMessage + "\n");
    EXPECT_FALSE(fileExists(work.file("out")));
  }
  // The manifest's device and --device disagree.
  ProcessResult r = runProcess({SQZ_RUN_PATH, artifact, "--device", "cpu"}, work.path());
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_EQ(r.err, "sqz-run: error: artifact '" + artifact +
                       "' was compiled for cuda (sm_80) (its manifest's \"device\"), not for "
                       "cpu; recompile it with sqz-compile --target cpu to run it on the CPU\n");
}

TEST(CudaRuntimeTest, ManifestDevice) {
  auto parse = [](const std::string &extra, Manifest &m) {
    std::string text = testModelManifest();
    text.insert(text.find('{') + 1, extra);
    return parseManifest(text, "m.json", m);
  };
  Manifest m;
  ASSERT_TRUE(parse("", m).ok());
  EXPECT_EQ(m.device, Manifest::Device::CPU);
  EXPECT_EQ(m.gpuArch, "");
  ASSERT_TRUE(parse(R"("device": "cpu",)", m).ok());
  EXPECT_EQ(m.device, Manifest::Device::CPU);
  ASSERT_TRUE(parse(R"("device": "cuda", "gpu_arch": "sm_90a",)", m).ok());
  EXPECT_EQ(m.device, Manifest::Device::CUDA);
  EXPECT_EQ(m.gpuArch, "sm_90a");
  EXPECT_EQ(parse(R"("device": "tpu",)", m).message(),
            "m.json: 'device': unknown device \"tpu\" (expected \"cpu\" or \"cuda\")");
  EXPECT_EQ(parse(R"("device": 1,)", m).message(), "m.json: 'device': expected string, got integer");
  EXPECT_EQ(parse(R"("gpu_arch": "sm_80",)", m).message(),
            "m.json: 'gpu_arch': is only meaningful with \"device\": \"cuda\"");
}

TEST(CudaRuntimeTest, GpuArchNames) {
  int cc = 0;
  bool specific = true;
  ASSERT_TRUE(parseGpuArch("sm_80", cc, specific));
  EXPECT_EQ(cc, 80);
  EXPECT_FALSE(specific);
  ASSERT_TRUE(parseGpuArch("sm_90a", cc, specific));
  EXPECT_EQ(cc, 90);
  EXPECT_TRUE(specific);
  ASSERT_TRUE(parseGpuArch("sm_100a", cc, specific));
  EXPECT_EQ(cc, 100);
  for (const char *bad : {"", "sm_", "sm_8", "compute_80", "sm_80x", "sm_1000", "sm_-8"})
    EXPECT_FALSE(parseGpuArch(bad, cc, specific)) << bad;
}

} // namespace
