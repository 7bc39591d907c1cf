//===- BindRuntimeTest.cpp - Tests of sqz::cuda::bindGpuRuntime -----------===//
//
// The inputs are MLIR 22's real host code (Inputs/*.ll, made from Inputs/*.mlir; see their
// headers). Besides checking the rewritten IR, the bound module is compiled for the host,
// linked into a shared library and run against a recording stand-in for the runtime's
// sqz_gpu_api table, so the table offsets, argument adaptations and bind/unbind logic are
// exercised without a GPU.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CUDA/BindRuntime.h"

#include "sqz-c/sqz_gpu.h"

#include "Runtime/Npy.h"
#include "Runtime/Safetensors.h"
#include "Runtime/TestUtil.h"

#include "llvm/AsmParser/Parser.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Triple.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace llvm;

namespace {

std::string readInput(const std::string &name) {
  std::ifstream in(std::string(SQZ_BIND_TEST_INPUTS) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::unique_ptr<Module> parse(const std::string &text, LLVMContext &ctx) {
  SMDiagnostic diag;
  std::unique_ptr<Module> module = parseAssemblyString(text, diag, ctx);
  if (!module) {
    std::string message;
    raw_string_ostream os(message);
    diag.print("test", os);
    ADD_FAILURE() << message;
  }
  return module;
}

std::string bindError(Module &module) {
  Error e = sqz::cuda::bindGpuRuntime(module);
  return e ? toString(std::move(e)) : "";
}

void expectBound(Module &module) {
  ASSERT_EQ(bindError(module), "");
  std::string problems;
  raw_string_ostream os(problems);
  EXPECT_FALSE(verifyModule(module, &os)) << problems;
  for (const Function &f : module)
    EXPECT_FALSE(f.getName().starts_with("mgpu")) << f.getName().str() << " is left";
  EXPECT_EQ(module.getNamedGlobal("llvm.global_ctors"), nullptr);
  EXPECT_EQ(module.getNamedGlobal("llvm.global_dtors"), nullptr);
  Function *bind = module.getFunction("sqz_model_gpu_bind");
  Function *unbind = module.getFunction("sqz_model_gpu_unbind");
  ASSERT_TRUE(bind && unbind);
  EXPECT_FALSE(bind->isDeclaration());
  EXPECT_TRUE(bind->hasExternalLinkage());
  EXPECT_TRUE(unbind->hasExternalLinkage());
  EXPECT_EQ(bind->getFunctionType()->getNumParams(), 1u);
  EXPECT_TRUE(bind->getReturnType()->isIntegerTy(32));
  GlobalVariable *api = module.getNamedGlobal("__sqz_gpu_api");
  ASSERT_TRUE(api);
  EXPECT_TRUE(api->hasInternalLinkage());
}

TEST(BindRuntimeTest, RewritesLaunchAllocCopyMemset) {
  LLVMContext ctx;
  std::unique_ptr<Module> module = parse(readInput("host-launch.ll"), ctx);
  ASSERT_TRUE(module);
  expectBound(*module);
}

TEST(BindRuntimeTest, RewritesEventsAndClusterLaunch) {
  LLVMContext ctx;
  std::unique_ptr<Module> module = parse(readInput("host-events-cluster.ll"), ctx);
  ASSERT_TRUE(module);
  expectBound(*module);
}

/// The Inputs/*.ll are checked in; this regenerates them with the mlir-opt and mlir-translate
/// of the LLVM the project builds against, so a change in what MLIR emits shows up here.
TEST(BindRuntimeTest, FreshMlirOutputBinds) {
  std::string tools = SQZ_LLVM_TOOLS_DIR;
  if (::access((tools + "/mlir-opt").c_str(), X_OK) != 0 ||
      ::access((tools + "/mlir-translate").c_str(), X_OK) != 0)
    GTEST_SKIP() << "no mlir-opt/mlir-translate in " << tools;
  struct Case {
    const char *input, *chip, *format, *extra;
  };
  for (Case c : {Case{"host-launch.mlir", "sm_80", "isa", "-gpu-async-region"},
                 Case{"host-events-cluster.mlir", "sm_90", "isa", ""},
                 Case{"host-events-cluster.mlir", "sm_90", "fatbin", ""}}) {
    if (std::string(c.format) == "fatbin" &&
        (std::string(SQZ_PTXAS_PATH).empty() || ::access(SQZ_PTXAS_PATH, X_OK) != 0))
      continue; // format=fatbin needs the CUDA toolkit's ptxas
    std::string command = tools + "/mlir-opt " + SQZ_BIND_TEST_INPUTS + "/" + c.input +
                          " --nvvm-attach-target=chip=" + c.chip +
                          " --convert-gpu-to-nvvm --gpu-module-to-binary=format=" + c.format +
                          " " + c.extra +
                          " --gpu-to-llvm --convert-func-to-llvm --finalize-memref-to-llvm"
                          " --convert-arith-to-llvm --reconcile-unrealized-casts | " +
                          tools + "/mlir-translate --mlir-to-llvmir 2>&1";
    FILE *pipe = popen(command.c_str(), "r");
    ASSERT_TRUE(pipe);
    std::string text;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0)
      text.append(chunk, n);
    ASSERT_EQ(pclose(pipe), 0) << command << "\n" << text;
    LLVMContext ctx;
    std::unique_ptr<Module> module = parse(text, ctx);
    ASSERT_TRUE(module) << c.input << " " << c.format;
    SCOPED_TRACE(std::string(c.input) + " format=" + c.format);
    expectBound(*module);
  }
}

TEST(BindRuntimeTest, KeepsUnrelatedCtors) {
  LLVMContext ctx;
  std::unique_ptr<Module> module = parse(R"(
@llvm.global_ctors = appending global [2 x { i32, ptr, ptr }] [
  { i32, ptr, ptr } { i32 123, ptr @load, ptr null },
  { i32, ptr, ptr } { i32 65535, ptr @other, ptr null }]
@bin = internal constant [4 x i8] c"abc\00"
@mod = internal global ptr null
define internal void @load() {
  %m = call ptr @mgpuModuleLoadJIT(ptr @bin, i32 2)
  store ptr %m, ptr @mod
  call void @mgpuSetDefaultDevice(i32 0)
  ret void
}
define internal void @other() { ret void }
declare ptr @mgpuModuleLoadJIT(ptr, i32)
declare void @mgpuSetDefaultDevice(i32)
)",
                                         ctx);
  ASSERT_TRUE(module);
  ASSERT_EQ(bindError(*module), "");
  GlobalVariable *ctors = module->getNamedGlobal("llvm.global_ctors");
  ASSERT_TRUE(ctors);
  EXPECT_EQ(cast<ArrayType>(ctors->getValueType())->getNumElements(), 1u);
  EXPECT_FALSE(verifyModule(*module, &errs()));
}

TEST(BindRuntimeTest, RejectsUnsupportedWrappers) {
  LLVMContext ctx;
  std::unique_ptr<Module> module = parse(R"(
define void @f(ptr %d) {
  call void @mgpuMemHostRegisterMemRef(i64 1, ptr %d, i64 4)
  ret void
}
declare void @mgpuMemHostRegisterMemRef(i64, ptr, i64)
)",
                                         ctx);
  ASSERT_TRUE(module);
  EXPECT_EQ(bindError(*module),
            "the host code calls @mgpuMemHostRegisterMemRef (from "
            "gpu.host_register/gpu.host_unregister), which the Squeeze GPU runtime "
            "(sqz_gpu_api) does not provide");
}

TEST(BindRuntimeTest, RejectsUnknownSignature) {
  LLVMContext ctx;
  std::unique_ptr<Module> module = parse(R"(
define void @f(ptr %s) {
  call void @mgpuStreamSynchronize(ptr %s, i32 1)
  ret void
}
declare void @mgpuStreamSynchronize(ptr, i32)
)",
                                         ctx);
  ASSERT_TRUE(module);
  EXPECT_EQ(bindError(*module),
            "@mgpuStreamSynchronize is declared as void (ptr, i32), but MLIR 22 declares it as "
            "void (ptr) (an MLIR version the binder does not know?)");
}

TEST(BindRuntimeTest, RejectsIndirectUseAndBindingTwice) {
  LLVMContext ctx;
  std::unique_ptr<Module> module = parse(R"(
@fp = global ptr @mgpuStreamCreate
declare ptr @mgpuStreamCreate()
)",
                                         ctx);
  ASSERT_TRUE(module);
  EXPECT_EQ(bindError(*module), "@mgpuStreamCreate is used other than by a direct call; "
                                "cannot bind it to sqz_gpu_api");

  std::unique_ptr<Module> twice = parse("define void @g() { ret void }", ctx);
  ASSERT_TRUE(twice);
  ASSERT_EQ(bindError(*twice), "");
  EXPECT_EQ(bindError(*twice),
            "the module already defines 'sqz_model_gpu_bind' (bound twice?)");
}

//===----------------------------------------------------------------------===//
// Running a bound module against a recording table.
//===----------------------------------------------------------------------===//

std::vector<std::string> calls;
bool failModuleLoad = false;
const char *pendingError = nullptr;
std::string imageText;
size_t imageBytes = 0;

void *mockModuleLoad(const void *image, size_t bytes) {
  calls.push_back("module_load");
  imageText.assign(static_cast<const char *>(image),
                   bytes ? bytes : std::strlen(static_cast<const char *>(image)));
  imageBytes = bytes;
  if (failModuleLoad) {
    pendingError = "JIT failed";
    return nullptr;
  }
  static int module;
  return &module;
}
void mockModuleUnload(void *) { calls.push_back("module_unload"); }
void *mockGetFunction(void *, const char *name) {
  calls.push_back(std::string("get_function ") + name);
  static int function;
  return &function;
}
void mockLaunch(void *, intptr_t gx, intptr_t gy, intptr_t gz, intptr_t bx, intptr_t by,
                intptr_t bz, int32_t smem, void *, void **params, void **, size_t n) {
  // Parameter 0 is the first memref's allocated pointer; the kernel copies a to b: emulate
  // it so the test can check the data path.
  float *a = *static_cast<float **>(params[1]);
  float *b = *static_cast<float **>(params[6]);
  std::memcpy(b, a, 16 * sizeof(float));
  calls.push_back("launch " + std::to_string(gx) + "," + std::to_string(gy) + "," +
                  std::to_string(gz) + " " + std::to_string(bx) + "," + std::to_string(by) +
                  "," + std::to_string(bz) + " smem=" + std::to_string(smem) +
                  " params=" + std::to_string(n));
}
void *mockStreamCreate() {
  calls.push_back("stream_create");
  static int stream;
  return &stream;
}
void mockStreamDestroy(void *) { calls.push_back("stream_destroy"); }
void mockStreamSync(void *) { calls.push_back("stream_synchronize"); }
void *mockMemAlloc(uint64_t bytes, void *, bool shared) {
  calls.push_back("mem_alloc " + std::to_string(bytes) + (shared ? " shared" : ""));
  return std::malloc(bytes);
}
void mockMemFree(void *p, void *) {
  calls.push_back("mem_free");
  std::free(p);
}
void mockMemcpy(void *dst, const void *src, size_t bytes, void *) {
  calls.push_back("memcpy " + std::to_string(bytes));
  std::memcpy(dst, src, bytes);
}
void mockMemset32(void *dst, uint32_t value, size_t count, void *) {
  calls.push_back("memset32 " + std::to_string(value) + " x" + std::to_string(count));
  for (size_t i = 0; i < count; ++i)
    static_cast<uint32_t *>(dst)[i] = value;
}
const char *mockLastError() {
  const char *e = pendingError;
  pendingError = nullptr;
  return e;
}

sqz_gpu_api mockTable() {
  sqz_gpu_api t{};
  t.version = SQZ_GPU_API_VERSION;
  t.size = sizeof(sqz_gpu_api);
  t.module_load = mockModuleLoad;
  t.module_unload = mockModuleUnload;
  t.module_get_function = mockGetFunction;
  t.launch_kernel = mockLaunch;
  t.stream_create = mockStreamCreate;
  t.stream_destroy = mockStreamDestroy;
  t.stream_synchronize = mockStreamSync;
  t.mem_alloc = mockMemAlloc;
  t.mem_free = mockMemFree;
  t.memcpy = mockMemcpy;
  t.memset32 = mockMemset32;
  t.last_error = mockLastError;
  return t;
}

/// Compiles `module` for the host and links it into a shared library at `path`.
bool buildSharedLibrary(Module &module, const std::string &dir, std::string &path) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  Triple triple("x86_64-unknown-linux-gnu");
  std::string error;
  const Target *target = TargetRegistry::lookupTarget(triple, error);
  if (!target) {
    ADD_FAILURE() << error;
    return false;
  }
  std::unique_ptr<TargetMachine> tm(target->createTargetMachine(
      triple, "x86-64", "", TargetOptions(), Reloc::PIC_));
  module.setTargetTriple(triple);
  module.setDataLayout(tm->createDataLayout());
  std::string object = dir + "/model.o";
  std::error_code ec;
  {
    raw_fd_ostream out(object, ec, sys::fs::OF_None);
    if (ec) {
      ADD_FAILURE() << ec.message();
      return false;
    }
    legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, out, nullptr, CodeGenFileType::ObjectFile)) {
      ADD_FAILURE() << "cannot emit an object file";
      return false;
    }
    pm.run(module);
  }
  path = dir + "/model.so";
  std::string command =
      std::string(SQZ_TEST_CC) + " -shared -o '" + path + "' '" + object + "'";
  if (std::system(command.c_str()) != 0) {
    ADD_FAILURE() << "failed: " << command;
    return false;
  }
  return true;
}

TEST(BindRuntimeTest, BoundLibraryCallsThroughTheTable) {
  LLVMContext ctx;
  std::unique_ptr<Module> module = parse(readInput("host-launch.ll"), ctx);
  ASSERT_TRUE(module);
  ASSERT_EQ(bindError(*module), "");
  sqz::test::TempDir temp; // removed with everything in it at the end
  ASSERT_FALSE(temp.path().empty());
  std::string dir = temp.path(), library;
  ASSERT_TRUE(buildSharedLibrary(*module, dir, library));
  void *handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_TRUE(handle) << dlerror();
  // Nothing runs at load any more: no ctor calls a table that is not there yet.
  EXPECT_TRUE(calls.empty());
  using BindFn = int32_t (*)(const sqz_gpu_api *);
  using UnbindFn = void (*)();
  using EntryFn = void (*)(float *, float *, int64_t, int64_t, int64_t, float *, float *,
                           int64_t, int64_t, int64_t);
  auto bind = reinterpret_cast<BindFn>(dlsym(handle, "sqz_model_gpu_bind"));
  auto unbind = reinterpret_cast<UnbindFn>(dlsym(handle, "sqz_model_gpu_unbind"));
  auto sync = reinterpret_cast<EntryFn>(dlsym(handle, "sync"));
  ASSERT_TRUE(bind && unbind && sync);

  sqz_gpu_api table = mockTable();
  EXPECT_EQ(bind(nullptr), SQZ_GPU_BIND_NULL_API);
  sqz_gpu_api old = table;
  old.size = offsetof(sqz_gpu_api, last_error); // lacks last_error
  EXPECT_EQ(bind(&old), SQZ_GPU_BIND_API_TOO_OLD);
  EXPECT_TRUE(calls.empty());

  failModuleLoad = true;
  EXPECT_EQ(bind(&table), SQZ_GPU_BIND_LOAD_FAILED);
  failModuleLoad = false;
  unbind();
  calls.clear();

  ASSERT_EQ(bind(&table), SQZ_GPU_BIND_OK);
  EXPECT_EQ(calls, std::vector<std::string>{"module_load"});
  // The whole PTX image with its NUL, measured from the global.
  EXPECT_EQ(imageBytes, imageText.size());
  EXPECT_EQ(imageText.rfind("//\n// Generated by LLVM NVPTX Back-End", 0), 0u);
  EXPECT_EQ(imageText.back(), '\0');
  calls.clear();

  float in[16], out[16] = {};
  for (int i = 0; i < 16; ++i)
    in[i] = float(i) + 0.5f;
  sync(in, in, 0, 16, 1, out, out, 0, 16, 1);
  // @sync: alloc, copy in, memset 0 (so the "kernel" copies zeros), launch, free.
  std::vector<std::string> expected = {"stream_create",
                                       "mem_alloc 64",
                                       "memcpy 64",
                                       "memset32 0 x16",
                                       "get_function add",
                                       "launch 1,1,1 16,1,1 smem=64 params=10",
                                       "mem_free",
                                       "stream_synchronize",
                                       "stream_destroy"};
  EXPECT_EQ(calls, expected);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(out[i], 0.0f);
  calls.clear();

  unbind();
  EXPECT_EQ(calls, std::vector<std::string>{"module_unload"});
  calls.clear();
  unbind(); // a second unbind does nothing
  EXPECT_TRUE(calls.empty());
  dlclose(handle);
}

//===----------------------------------------------------------------------===//
// A complete CUDA artifact from the bound example, for sqz-run.
//===----------------------------------------------------------------------===//

/// The artifact ABI around host-launch.ll's @entry (y = x through a device buffer and the
/// `add` kernel, which copies): sqz_model_invoke(void **buffers) with x and y device pointers.
constexpr char kAbiWrapper[] = R"(
define i32 @sqz_abi_version() { ret i32 1 }
define void @sqz_model_invoke(ptr %buffers) {
  %x = load ptr, ptr %buffers
  %slot = getelementptr ptr, ptr %buffers, i64 1
  %y = load ptr, ptr %slot
  call void @entry(ptr %x, ptr %x, i64 0, i64 16, i64 1, ptr %y, ptr %y, i64 0, i64 16, i64 1)
  ret void
}
)";

/// ABI 2: y = the weights file's 16 floats (buffers[2], uploaded to the GPU by the runtime).
constexpr char kAbiWrapperWeights[] = R"(
define i32 @sqz_abi_version() { ret i32 2 }
define void @sqz_model_invoke(ptr %buffers) {
  %yslot = getelementptr ptr, ptr %buffers, i64 1
  %y = load ptr, ptr %yslot
  %wslot = getelementptr ptr, ptr %buffers, i64 2
  %w = load ptr, ptr %wslot
  call void @entry(ptr %w, ptr %w, i64 0, i64 16, i64 1, ptr %y, ptr %y, i64 0, i64 16, i64 1)
  ret void
}
)";

constexpr char kWeightsManifestKeys[] = R"(
  "abi_version": 2,
  "weights": {"file": "model.safetensors", "bytes": 64,
              "tensors": [{"name": "w", "dtype": "F32", "shape": [16], "offset": 0}]},)";

constexpr char kCopyManifest[] = R"({
  "format": "sqz-artifact",
  "abi_version": 1,
  "library": "model.so",
  "entry": "sqz_model_invoke",
  "source": "unittests/Target/CUDA/Inputs/host-launch.mlir",
  "device": "cuda",
  "gpu_arch": "sm_80",
  "inputs": [{"name": "x", "dtype": "float32", "shape": [16]}],
  "outputs": [{"name": "y", "dtype": "float32", "shape": [16]}]
}
)";

/// Runs a shell command, returning its exit status and stdout+stderr.
int runShell(const std::string &command, std::string &output) {
  FILE *pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe)
    return -1;
  output.clear();
  char chunk[512];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0)
    output.append(chunk, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Makes `dir` the artifact (model.so, manifest.json) with x.npy and the expected y.npy;
/// `withWeights`: the ABI 2 variant whose y is its weights file's tensor.
void writeCopyArtifact(const std::string &dir, bool withWeights = false) {
  LLVMContext ctx;
  std::unique_ptr<Module> module = parse(
      readInput("host-launch.ll") + (withWeights ? kAbiWrapperWeights : kAbiWrapper), ctx);
  ASSERT_TRUE(module);
  ASSERT_EQ(bindError(*module), "");
  std::string library;
  ::mkdir(dir.c_str(), 0777);
  ASSERT_TRUE(buildSharedLibrary(*module, dir, library));
  std::remove((dir + "/model.o").c_str());
  std::string manifest = kCopyManifest;
  if (withWeights)
    manifest.replace(manifest.find("\n  \"abi_version\": 1,"),
                     std::strlen("\n  \"abi_version\": 1,"), kWeightsManifestKeys);
  {
    std::ofstream file(dir + "/manifest.json");
    file << manifest;
  }
  float x[16], w[16];
  for (int i = 0; i < 16; ++i) {
    x[i] = float(i) * 1.5f - 4;
    w[i] = 100.0f - float(i);
  }
  using namespace sqz::runtime;
  ASSERT_TRUE(writeNpyFile(dir + "/x.npy", DType::Float32, {16}, x).ok());
  ASSERT_TRUE(writeNpyFile(dir + "/y.npy", DType::Float32, {16}, withWeights ? w : x).ok());
  if (withWeights) {
    SafetensorsTensor tensor;
    tensor.entry.name = "w";
    tensor.entry.dtype = "F32";
    tensor.entry.shape = {16};
    tensor.bytes = w;
    ASSERT_TRUE(writeSafetensors(dir + "/model.safetensors", {tensor}, {}).ok());
  }
}

/// Writes the artifact to SQZ_CUDA_TEST_ARTIFACT, which the `gpu` ctest CudaCopyArtifact runs
/// with sqz-run on a GPU, and checks what sqz-run does with it where there is no driver.
TEST(BindRuntimeTest, WritesRunnableCudaArtifact) {
  std::string dir = SQZ_CUDA_TEST_ARTIFACT;
  writeCopyArtifact(dir);
  if (HasFatalFailure())
    return;
  writeCopyArtifact(dir + "/weighted", /*withWeights=*/true);
  if (HasFatalFailure())
    return;

  // Without a driver: a clear error, exit 2, nothing written.
  std::string out = dir + "/no-driver-out";
  std::string text;
  EXPECT_EQ(runShell("env SQZ_CUDA_DRIVER=/nonexistent/libcuda.so.1 '" +
                         std::string(SQZ_RUN_PATH) + "' '" + dir + "' --input x='" + dir +
                         "/x.npy' --output-dir '" + out + "'",
                     text),
            2)
      << text;
  EXPECT_EQ(text, "sqz-run: error: cannot run CUDA model '" + dir +
                      "': CUDA driver not found: /nonexistent/libcuda.so.1: cannot open shared "
                      "object file: No such file or directory (from $SQZ_CUDA_DRIVER); a GPU "
                      "model needs the NVIDIA driver's libcuda.so.1\n");
  struct stat st;
  EXPECT_NE(::stat(out.c_str(), &st), 0);
}

/// The runtime's whole device path on the host: sqz-run with SQZ_CUDA_DRIVER set to a fake
/// driver over host memory (unittests/Runtime/FakeCudaDriver.c).
TEST(BindRuntimeTest, CopyArtifactRunsOnFakeDriver) {
  sqz::test::TempDir temp;
  ASSERT_FALSE(temp.path().empty());
  std::string dir = temp.path();
  writeCopyArtifact(dir);
  if (HasFatalFailure())
    return;
  std::string run = std::string("'") + SQZ_RUN_PATH + "' '" + dir + "' --input x='" + dir +
                    "/x.npy' --output-dir '" + dir + "/out'";
  std::string env = std::string("env SQZ_CUDA_DRIVER='") + SQZ_FAKE_CUDA_DRIVER + "' ";
  std::string text;
  EXPECT_EQ(runShell(env + run + " --device cuda --expect y='" + dir +
                         "/y.npy' --rtol 0 --atol 0 --bench 3",
                     text),
            0);
  EXPECT_NE(text.find("wrote y float32[16] -> " + dir + "/out/y.npy\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("gpu compute min 0.250 ms median 0.250 ms max 0.250 ms\n"
                      "gpu total min 0.250 ms median 0.250 ms max 0.250 ms\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("expect y: max_abs_err=0 max_rel_err=0 mismatches=0/16 (rtol=0 atol=0) OK"),
            std::string::npos)
      << text;

  // The driver's JIT log reaches the user.
  EXPECT_EQ(runShell(env + "FAKE_CUDA_JIT_FAIL=1 " + run, text), 2);
  EXPECT_EQ(text, "sqz-run: error: cannot load the GPU code of '" + dir +
                      "/model.so': cannot load the GPU module (PTX, JIT-compiled by the "
                      "driver): cuModuleLoadDataEx: CUDA_ERROR_INVALID_PTX (a PTX JIT "
                      "compilation failed)\nJIT log:\nptxas fatal   : fake JIT failure\n");
  // Weights: uploaded once at load, their device pointer after the outputs.
  std::string weighted = dir + "/weighted";
  writeCopyArtifact(weighted, /*withWeights=*/true);
  EXPECT_EQ(runShell(env + "'" + SQZ_RUN_PATH + "' '" + weighted + "' --input x='" + weighted +
                         "/x.npy' --expect y='" + weighted + "/y.npy' --output-dir '" +
                         weighted + "/out' --rtol 0 --atol 0",
                     text),
            0)
      << text;
  EXPECT_NE(text.find("mismatches=0/16 (rtol=0 atol=0) OK"), std::string::npos) << text;

  // A failure inside the run.
  EXPECT_EQ(runShell(env + "FAKE_CUDA_LAUNCH_FAIL=1 " + run, text), 2);
  EXPECT_EQ(text, "sqz-run: error: sqz_model_run: CUDA error while running '" + dir +
                      "/model.so' on GPU 0: cuLaunchKernel: CUDA_ERROR_LAUNCH_FAILED "
                      "(unspecified launch failure)\n");
  // A library without the bind functions.
  std::string stub = dir + "/stub";
  ::mkdir(stub.c_str(), 0777);
  runShell("cp '" + dir + "/manifest.json' '" + stub + "/' && cp '" + SQZ_TEST_MODEL_LIBRARY +
               "' '" + stub + "/model.so'",
           text);
  EXPECT_EQ(runShell(env + "'" + SQZ_RUN_PATH + "' '" + stub + "'", text), 2);
  EXPECT_EQ(text.rfind("sqz-run: error: '" + stub +
                           "/model.so' is not a CUDA model library: no sqz_model_gpu_bind (",
                       0),
            0u)
      << text;
  // A GPU older than the artifact's gpu_arch, and no GPU at all.
  EXPECT_EQ(runShell(env + "FAKE_CUDA_CC=75 " + run, text), 2);
  EXPECT_EQ(text, "sqz-run: error: cannot run CUDA model '" + dir +
                      "': the model was compiled for sm_80, but GPU 0 (Fake GPU) is sm_75; "
                      "recompile it with --target cuda:sm_75\n");
  EXPECT_EQ(runShell(env + "FAKE_CUDA_NO_DEVICE=1 " + run + " --device cuda:0", text), 2);
  EXPECT_EQ(text, "sqz-run: error: cannot run CUDA model '" + dir +
                      "': CUDA device 0 does not exist (the driver sees no device)\n");
  EXPECT_EQ(runShell(env + run + " --device cuda:1", text), 2);
  EXPECT_EQ(text, "sqz-run: error: cannot run CUDA model '" + dir +
                      "': CUDA device 1 does not exist (the driver sees 1 device)\n");
  runShell("rm -rf '" + dir + "'", text);
}

} // namespace
