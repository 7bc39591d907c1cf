//===- CudaDeviceTest.cpp - sqz_cuda_api on a real GPU --------------------===//
//
// Exercises the runtime's CUDA driver table (include/sqz-c/sqz_gpu.h) on GPU 0: PTX loading
// through the driver JIT (and its error log), cubin loading (when ptxas is found: PATH,
// $CUDA_HOME/bin or /usr/local/cuda/bin, run for the GPU's architecture; a ptxas that
// cannot assemble for it leaves the check out), allocation, copies, memsets, kernel launches
// (with more than 48 KiB of dynamic shared memory, on a stream, with thread-block clusters
// on sm_90+), events and managed memory. No gtest: ctest runs it with label `gpu`, and it
// exits 77 (skipped) when there is no usable driver or GPU.
//
//   CudaDeviceTest            run the checks (0 pass, 1 fail, 77 skip)
//   CudaDeviceTest --probe    only say whether a GPU is usable (0) or not (77)
//
//===----------------------------------------------------------------------===//

#include "sqz-c/sqz_gpu.h"

#include "Runtime/CudaDriver.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

using namespace sqz::runtime;

namespace {

int failures = 0;

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
      ++failures;                                                                            \
    }                                                                                        \
  } while (0)

/// Hand-written PTX (checked with ptxas for sm_80 and sm_90): add_one(float *data, u32 n)
/// adds 1 to data[0..n); reverse_block(u32 *data) reverses one block's words through dynamic
/// shared memory.
const char kPtx[] = R"ptx(.version 7.0
.target sm_70
.address_size 64

.visible .entry add_one(
	.param .u64 add_one_data,
	.param .u32 add_one_n
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<6>;
	.reg .f32 	%f<3>;
	.reg .b64 	%rd<5>;

	ld.param.u64 	%rd1, [add_one_data];
	ld.param.u32 	%r1, [add_one_n];
	mov.u32 	%r2, %ctaid.x;
	mov.u32 	%r3, %ntid.x;
	mov.u32 	%r4, %tid.x;
	mad.lo.s32 	%r5, %r2, %r3, %r4;
	setp.ge.u32 	%p1, %r5, %r1;
	@%p1 bra 	$L_done;
	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.u32 	%rd3, %r5, 4;
	add.s64 	%rd4, %rd2, %rd3;
	ld.global.f32 	%f1, [%rd4];
	add.f32 	%f2, %f1, 0f3F800000;
	st.global.f32 	[%rd4], %f2;
$L_done:
	ret;
}

.extern .shared .align 4 .b8 dyn_smem[];

.visible .entry reverse_block(
	.param .u64 reverse_block_data
)
{
	.reg .b32 	%r<8>;
	.reg .b64 	%rd<6>;

	ld.param.u64 	%rd1, [reverse_block_data];
	cvta.to.global.u64 	%rd2, %rd1;
	mov.u32 	%r1, %tid.x;
	mov.u32 	%r2, %ntid.x;
	mul.wide.u32 	%rd3, %r1, 4;
	add.s64 	%rd4, %rd2, %rd3;
	ld.global.u32 	%r3, [%rd4];
	mov.u32 	%r4, dyn_smem;
	shl.b32 	%r5, %r1, 2;
	add.s32 	%r6, %r4, %r5;
	st.shared.u32 	[%r6], %r3;
	bar.sync 	0;
	sub.s32 	%r7, %r2, %r1;
	add.s32 	%r7, %r7, -1;
	shl.b32 	%r7, %r7, 2;
	add.s32 	%r7, %r4, %r7;
	ld.shared.u32 	%r3, [%r7];
	st.global.u32 	[%rd4], %r3;
	ret;
}
)ptx";

const sqz_gpu_api *api = nullptr;

/// Fails the test with the table's pending error, if any.
void expectNoError(const char *what) {
  if (const char *e = api->last_error()) {
    std::fprintf(stderr, "%s: unexpected CUDA error: %s\n", what, e);
    ++failures;
  }
}

void testModuleErrors() {
  CHECK(api->module_load("this is not PTX", 0) == nullptr);
  const char *e = api->last_error();
  CHECK(e && std::strstr(e, "cuModuleLoadDataEx"));
  if (e)
    std::printf("bad PTX reported: %.200s\n", e);
  CHECK(api->last_error() == nullptr); // reported once
}

void testAddOne(void *module, const CudaDeviceInfo &info) {
  void *addOne = api->module_get_function(module, "add_one");
  CHECK(addOne != nullptr);
  CHECK(api->module_get_function(module, "no_such_kernel") == nullptr);
  const char *e = api->last_error();
  CHECK(e && std::strstr(e, "no_such_kernel"));

  const uint32_t n = 1000;
  std::vector<float> host(n);
  for (uint32_t i = 0; i < n; ++i)
    host[i] = float(i) * 0.5f;
  void *dev = api->mem_alloc(n * sizeof(float), nullptr, false);
  CHECK(dev != nullptr);
  api->memcpy(dev, host.data(), n * sizeof(float), nullptr);
  void *params[] = {&dev, const_cast<uint32_t *>(&n)};
  api->launch_kernel(addOne, (n + 127) / 128, 1, 1, 128, 1, 1, 0, nullptr, params, nullptr, 2);
  // An empty grid runs nothing and is no error (dynamic shapes with a dim of 0).
  api->launch_kernel(addOne, 0, 1, 1, 128, 1, 1, 0, nullptr, params, nullptr, 2);
  CHECK(api->last_error() == nullptr);

  // Again on a stream, between events.
  void *stream = api->stream_create();
  void *start = api->event_create(), *stop = api->event_create();
  CHECK(stream && start && stop);
  api->stream_synchronize(nullptr);
  api->event_record(start, stream);
  api->launch_kernel(addOne, (n + 127) / 128, 1, 1, 128, 1, 1, 0, stream, params, nullptr, 2);
  api->event_record(stop, stream);
  api->event_synchronize(stop);
  float ms = api->event_elapsed_ms(start, stop);
  CHECK(ms >= 0 && ms < 1000);

  // Cluster launch (sm_90+): 8 blocks in clusters of 2.
  if (info.major >= 9) {
    api->launch_cluster_kernel(addOne, 2, 1, 1, 8, 1, 1, 128, 1, 1, 0, stream, params, nullptr);
    api->stream_synchronize(stream);
  }
  std::vector<float> back(n);
  api->memcpy(back.data(), dev, n * sizeof(float), stream);
  api->stream_synchronize(stream);
  float added = info.major >= 9 ? 3.0f : 2.0f;
  int wrong = 0;
  for (uint32_t i = 0; i < n; ++i)
    wrong += back[i] != host[i] + added;
  CHECK(wrong == 0);
  expectNoError("add_one");

  // Memsets: 32-bit then 16-bit patterns.
  api->memset32(dev, 0x3f800000u, n, stream); // 1.0f
  api->stream_synchronize(stream);
  api->memcpy(back.data(), dev, n * sizeof(float), nullptr);
  api->stream_synchronize(nullptr);
  CHECK(back[0] == 1.0f && back[n - 1] == 1.0f);
  api->memset16(dev, 0xabcd, 2 * n, nullptr);
  std::vector<uint16_t> halves(2 * n);
  api->memcpy(halves.data(), dev, 2 * n * sizeof(uint16_t), nullptr);
  api->stream_synchronize(nullptr);
  CHECK(halves[0] == 0xabcd && halves[2 * n - 1] == 0xabcd);
  expectNoError("memset");

  api->event_destroy(start);
  api->event_destroy(stop);
  api->stream_destroy(stream);
  api->mem_free(dev, nullptr);
  expectNoError("cleanup");
}

void testSharedMemory(void *module) {
  void *reverse = api->module_get_function(module, "reverse_block");
  CHECK(reverse != nullptr);
  const uint32_t threads = 256;
  std::vector<uint32_t> host(threads), back(threads);
  for (uint32_t i = 0; i < threads; ++i)
    host[i] = i * 7 + 1;
  void *dev = api->mem_alloc(threads * 4, nullptr, false);
  api->memcpy(dev, host.data(), threads * 4, nullptr);
  void *params[] = {&dev};
  // 64 KiB: above the default 48 KiB, so the table must opt the kernel in.
  api->launch_kernel(reverse, 1, 1, 1, threads, 1, 1, 64 * 1024, nullptr, params, nullptr, 1);
  api->memcpy(back.data(), dev, threads * 4, nullptr);
  api->stream_synchronize(nullptr);
  int wrong = 0;
  for (uint32_t i = 0; i < threads; ++i)
    wrong += back[i] != host[threads - 1 - i];
  CHECK(wrong == 0);
  expectNoError("reverse_block");
  api->mem_free(dev, nullptr);
}

void testManagedMemory(void *module) {
  void *addOne = api->module_get_function(module, "add_one");
  const uint32_t n = 64;
  auto *data = static_cast<float *>(api->mem_alloc(n * sizeof(float), nullptr, true));
  CHECK(data != nullptr);
  if (!data)
    return;
  for (uint32_t i = 0; i < n; ++i)
    data[i] = float(i);
  void *params[] = {&data, const_cast<uint32_t *>(&n)};
  api->launch_kernel(addOne, 1, 1, 1, n, 1, 1, 0, nullptr, params, nullptr, 2);
  api->stream_synchronize(nullptr);
  CHECK(data[0] == 1.0f && data[n - 1] == float(n));
  api->mem_free(data, nullptr);
  expectNoError("managed");
}

/// ptxas on PATH, in $CUDA_HOME/bin or in /usr/local/cuda/bin; "" if none.
std::string findPtxas() {
  std::vector<std::string> dirs;
  if (const char *path = std::getenv("PATH")) {
    std::string p(path);
    for (size_t start = 0, end; start <= p.size(); start = end + 1) {
      end = p.find(':', start);
      if (end == std::string::npos)
        end = p.size();
      dirs.push_back(p.substr(start, end - start));
    }
  }
  if (const char *home = std::getenv("CUDA_HOME"))
    dirs.push_back(std::string(home) + "/bin");
  dirs.push_back("/usr/local/cuda/bin");
  for (const std::string &dir : dirs)
    if (!dir.empty() && access((dir + "/ptxas").c_str(), X_OK) == 0)
      return dir + "/ptxas";
  return "";
}

/// The test PTX assembled by ptxas for the GPU (sm_<major><minor>) loads as a cubin and runs
/// add_one like the JIT-compiled module.
void testCubin(const CudaDeviceInfo &info) {
  std::string ptxas = findPtxas();
  if (ptxas.empty()) {
    std::printf("cubin: no ptxas found, not checked\n");
    return;
  }
  const char *tmp = std::getenv("TMPDIR");
  std::string dirTemplate = std::string(tmp && *tmp ? tmp : "/tmp") + "/sqz-cubin-XXXXXX";
  std::vector<char> dirBuf(dirTemplate.begin(), dirTemplate.end());
  dirBuf.push_back('\0');
  char *dir = dirBuf.data();
  if (!mkdtemp(dir)) {
    CHECK(!"mkdtemp");
    return;
  }
  std::string ptxPath = std::string(dir) + "/t.ptx", cubinPath = std::string(dir) + "/t.cubin";
  std::ofstream(ptxPath) << kPtx;
  std::string arch = "sm_" + std::to_string(info.major) + std::to_string(info.minor);
  std::string cmd = ptxas + " -arch=" + arch + " " + ptxPath + " -o " + cubinPath;
  int rc = std::system(cmd.c_str());
  std::ifstream in(cubinPath, std::ios::binary);
  std::vector<char> cubin((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(ptxPath.c_str());
  std::remove(cubinPath.c_str());
  rmdir(dir);
  if (rc != 0 || cubin.size() < 4) {
    // An older toolkit than the GPU: not the runtime's fault.
    std::printf("cubin: %s failed (exit %d), not checked\n", cmd.c_str(), rc);
    return;
  }
  CHECK(std::memcmp(cubin.data(), "\x7f" "ELF", 4) == 0);
  void *module = api->module_load(cubin.data(), cubin.size());
  CHECK(module != nullptr);
  expectNoError("cubin load");
  if (!module)
    return;
  std::printf("cubin: %zu bytes from %s -arch=%s loaded\n", cubin.size(), ptxas.c_str(),
              arch.c_str());
  testAddOne(module, info);
  api->module_unload(module);
}

} // namespace

int main(int argc, char **argv) {
  bool probe = argc > 1 && std::strcmp(argv[1], "--probe") == 0;
  char error[1024] = "";
  api = sqz_cuda_api(0, error, sizeof(error));
  if (!api) {
    std::printf("SKIP: no usable CUDA GPU: %s\n", error);
    return 77;
  }
  CudaDeviceInfo info;
  std::string infoError;
  if (!getCudaDeviceInfo(0, info, infoError)) {
    std::printf("FAIL: %s\n", infoError.c_str());
    return 1;
  }
  std::printf("GPU 0: %s, sm_%d%d, %.1f GiB, driver %d\n", info.name.c_str(), info.major,
              info.minor, info.totalMemory / double(1 << 30), info.driverVersion);
  if (probe)
    return 0;
  CHECK(api->version == SQZ_GPU_API_VERSION && api->size == sizeof(sqz_gpu_api));
  testModuleErrors();
  void *module = api->module_load(kPtx, 0);
  if (!module) {
    const char *e = api->last_error();
    std::printf("FAIL: cannot load the test PTX: %s\n", e ? e : "?");
    return 1;
  }
  // Also with an explicit size and no terminating NUL.
  void *again = api->module_load(kPtx, std::strlen(kPtx));
  CHECK(again != nullptr);
  api->module_unload(again);
  testAddOne(module, info);
  testCubin(info);
  testSharedMemory(module);
  testManagedMemory(module);
  api->module_unload(module);
  expectNoError("unload");
  std::printf(failures ? "FAIL: %d checks failed\n" : "PASS\n", failures);
  return failures ? 1 : 0;
}
