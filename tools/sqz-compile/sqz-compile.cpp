//===- sqz-compile.cpp - The Squeeze compiler driver ----------------------===//
//
// A thin driver over the named pipelines: import (ONNX or sqz graph IR) → sqz-import-cleanup →
// sqz-lower-to-cpu → LLVM IR → object → out/model.so + out/manifest.json. `--compile-to` stops
// after a phase and prints its IR. Nothing half-written is left in out/: the artifact is built
// in a temporary directory beside it and renamed into place.
//
//===----------------------------------------------------------------------===//

#include "sqz/Compression/Calibration.h"
#include "sqz/Compression/Recipe.h"
#include "sqz/Dialect/Sqz/Transforms/CompressionReport.h"
#include "sqz/Import/OnnxImporter.h"
#include "sqz/InitAll.h"
#include "sqz/Target/CPU/Codegen.h"
#include "sqz/Target/CPU/Passes.h"
#include "sqz/Target/CUDA/Codegen.h"
#include "sqz/Target/CUDA/Passes.h"

#include "Runtime/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <regex>
#include <set>
#include <unistd.h>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory cat("sqz-compile options");

static cl::opt<std::string> inputFile(cl::Positional, cl::Required,
                                      cl::desc("<model.onnx|model.onnxtxt|graph.mlir>"),
                                      cl::cat(cat));
static cl::opt<std::string> outputDir("o", cl::desc("Artifact directory to write"),
                                      cl::value_desc("dir"), cl::cat(cat));
static cl::list<std::string>
    inputShapes("input-shape",
                cl::desc("Pin an input's shape, e.g. --input-shape input_ids=1x128 "
                         "(repeatable)"),
                cl::value_desc("name=DxDx..."), cl::cat(cat));
static cl::list<std::string> dynamicDims(
    "dynamic-dim",
    cl::desc("Keep an input dim dynamic to run time, with an optional bound, e.g. "
             "--dynamic-dim input_ids:1:256 (repeatable; the artifact gets ABI 3)"),
    cl::value_desc("input:axis[:max]"), cl::cat(cat));
static cl::opt<std::string>
    target("target",
           cl::desc("Compilation target: cpu (default) or cuda:<arch> for an NVIDIA GPU, "
                    "<arch> one of sm_80, sm_90, sm_90a (docs/CUDA.md)"),
           cl::init("cpu"), cl::cat(cat));
/// The GPU architecture of --target cuda:<arch>; empty for the CPU.
static std::string cudaChip;
static cl::opt<bool> emulateGpu(
    "emulate-gpu",
    cl::desc("With --target cuda:<arch>: run the generated GPU kernels on this CPU, as loops "
             "over their blocks and threads (sqz-cuda-emulate-launches), instead of compiling "
             "them to PTX. The artifact is a CPU one, for checking the CUDA target's generated "
             "code without a GPU (slow; the CUDA kernels are not used, as with --no-ukernels)"),
    cl::init(false), cl::cat(cat));
static cl::opt<std::string> libdevice(
    "libdevice",
    cl::desc("With --target cuda:<arch>: the libdevice bitcode (a CUDA toolkit's "
             "nvvm/libdevice/libdevice.10.bc) that provides f64 tanh, sin, erf... (without "
             "one they run the target's own f64 code); default: $SQZ_LIBDEVICE, "
             "$CUDA_HOME's or /usr/local/cuda's if there; none: never"),
    cl::value_desc("path|none"), cl::init(""), cl::cat(cat));
/// Whether the artifact runs on a GPU (--target cuda without --emulate-gpu).
static bool gpuArtifact() { return !cudaChip.empty() && !emulateGpu; }
static cl::opt<std::string>
    targetCPU("target-cpu",
              cl::desc("CPU to generate code for: native (default) or an LLVM CPU "
                       "name such as x86-64-v3"),
              cl::init("native"), cl::cat(cat));

enum class Phase { Import, Lower, LLVMIR, Artifact };
static cl::opt<Phase> compileTo(
    "compile-to", cl::desc("Stop after a phase and print its output to stdout"),
    cl::values(clEnumValN(Phase::Import, "import", "the imported sqz graph IR"),
               clEnumValN(Phase::Lower, "lower", "the LLVM dialect after sqz-lower-to-cpu"),
               clEnumValN(Phase::LLVMIR, "llvm-ir", "optimized LLVM IR"),
               clEnumValN(Phase::Artifact, "artifact", "the artifact directory (default)")),
    cl::init(Phase::Artifact), cl::cat(cat));
static cl::opt<bool> printPipeline("print-pipeline",
                                   cl::desc("Print the pass pipeline and exit"),
                                   cl::init(false), cl::cat(cat));
static cl::opt<bool> inlineWeights(
    "inline-weights",
    cl::desc("Keep every weight inside model.so instead of model.safetensors"),
    cl::init(false), cl::cat(cat));
static cl::opt<bool> noUKernels(
    "no-ukernels",
    cl::desc("Do not call the CPU microkernels (or, for --target cuda, the CUDA kernels): "
             "compressed linears dequantize at run time (the path before sqz-materialize; "
             "for comparison)"),
    cl::init(false), cl::cat(cat));
static cl::list<std::string> ukernelFormats(
    "ukernel-formats",
    cl::desc("Microkernels sqz-materialize may use (default: f32,int8,int4,nf4,ternary2,"
             "sp24_f32,sp24_int4; drop f32 to keep dense linears on the generated code)"),
    cl::CommaSeparated, cl::value_desc("format,..."), cl::cat(cat));
static cl::opt<std::string> ukernelAct(
    "ukernel-act",
    cl::desc("Activations of the int8/int4/nf4 microkernels: f32 (default: dequantize the "
             "weights; exact up to fp32 rounding), int8 (quantize activations per 32 columns, "
             "integer dot products; docs/Kernels.md) or auto (int8 on AVX512-VNNI targets, "
             "where it is the faster path)"),
    cl::init("f32"), cl::value_desc("f32|int8|auto"), cl::cat(cat));
static cl::opt<std::string>
    recipeFile("recipe", cl::desc("Compress with a recipe (YAML list of stages; recipes/)"),
               cl::value_desc("recipe.yaml"), cl::cat(cat));
static cl::opt<std::string> calibData(
    "calib-data",
    cl::desc("Calibration inputs for the recipe: an .npy of stacked samples of the model's "
             "input (e.g. int64 [N, L] token ids) or a folder of input sets"),
    cl::value_desc("path"), cl::cat(cat));
static cl::opt<std::string> reportFile(
    "report",
    cl::desc("With --recipe: write the per-layer compression report (JSON) to this file"),
    cl::value_desc("report.json"), cl::cat(cat));
static cl::opt<int> calibSamples("calib-samples",
                                 cl::desc("Use at most N calibration samples (default: all)"),
                                 cl::value_desc("N"), cl::init(-1), cl::cat(cat));
static cl::opt<double> calibMemoryLimit(
    "calib-memory-limit",
    cl::desc("GiB the calibration statistics may use (default: half the physical memory)"),
    cl::value_desc("GiB"), cl::init(0), cl::cat(cat));
enum class CalibMode { OneShot, Sequential };
static cl::opt<CalibMode> calibMode(
    "calib-mode", cl::desc("How --calib-data calibrates the recipe's stages"),
    cl::values(clEnumValN(CalibMode::OneShot, "one-shot",
                          "every layer on the dense model, in one calibration run (default)"),
               clEnumValN(CalibMode::Sequential, "sequential",
                          "block by block: each decoder block is calibrated on the model whose "
                          "earlier blocks are already compressed, then compressed")),
    cl::init(CalibMode::OneShot), cl::cat(cat));

namespace {
struct TensorSig {
  std::string name, dtype;
  /// The ONNX dtype when the ABI dtype only carries it ("int4", "float8e4m3fn", ...), else empty.
  std::string onnxDType;
  /// -1 marks a dynamic dim (ABI 3).
  SmallVector<int64_t> shape;
  /// With a dynamic dim: the dims' names ("" if none) and bounds (-1 if none; static dims
  /// repeat their size).
  std::vector<std::string> dimNames;
  std::vector<int64_t> maxShape;
};
} // namespace

/// numpy dtype name of a tensor element type (the manifest's vocabulary).
static std::optional<std::string> numpyDType(Type t) {
  if (t.isF16())
    return "float16";
  if (t.isF32())
    return "float32";
  if (t.isF64())
    return "float64";
  if (t.isBF16())
    return "uint16"; // bfloat16 bit patterns (the manifest also says "onnx_dtype")
  if (t.isInteger(1))
    return "bool";
  if (auto it = dyn_cast<IntegerType>(t)) {
    unsigned w = it.getWidth();
    if (w != 8 && w != 16 && w != 32 && w != 64)
      return std::nullopt;
    return (it.isUnsigned() ? "uint" : "int") + std::to_string(w);
  }
  return std::nullopt;
}

/// Reads names, dtypes and shapes of the entry function's inputs and outputs.
static FailureOr<std::pair<SmallVector<TensorSig>, SmallVector<TensorSig>>>
readSignature(func::FuncOp fn) {
  SmallVector<TensorSig> ins, outs;
  auto one = [&](Type t, DictionaryAttr attrs, StringRef kind,
                 unsigned i) -> FailureOr<TensorSig> {
    TensorSig s;
    auto name = attrs ? attrs.getAs<StringAttr>("sqz.name") : StringAttr();
    s.name = name ? name.str() : (kind + "_" + std::to_string(i)).str();
    auto ranked = dyn_cast<RankedTensorType>(t);
    std::optional<std::string> dt =
        ranked ? numpyDType(ranked.getElementType()) : std::nullopt;
    if (!ranked || !dt) {
      fn.emitError() << kind << " '" << s.name
                     << "' must be a ranked tensor of a supported dtype, got " << t;
      return failure();
    }
    s.dtype = *dt;
    // The importer carries ONNX unsigned integers as signless integers marked sqz.unsigned.
    if (attrs && attrs.get(mlir::sqz::kOnnxUnsignedAttr) && StringRef(s.dtype).starts_with("int"))
      s.dtype = "u" + s.dtype;
    // Dtypes the ABI carries widened or as bit patterns (int4 in int8, float8 in uint8, ...).
    if (auto onnxDType = attrs ? attrs.getAs<StringAttr>(mlir::sqz::kOnnxDTypeAttr) : StringAttr())
      s.onnxDType = onnxDType.str();
    for (int64_t d : ranked.getShape())
      s.shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
    if (ranked.hasStaticShape())
      return s;
    // Dynamic dims: names and bounds from the importer's attributes (sqz.dim_names,
    // sqz.max_shape), else unnamed and unbounded.
    s.dimNames.assign(s.shape.size(), "");
    s.maxShape.assign(s.shape.begin(), s.shape.end());
    if (auto names = attrs ? attrs.getAs<ArrayAttr>(mlir::sqz::kDimNamesAttr) : ArrayAttr()) {
      if (names.size() != s.shape.size() ||
          !llvm::all_of(names, llvm::IsaPred<StringAttr>)) {
        fn.emitError() << kind << " '" << s.name << "': '" << mlir::sqz::kDimNamesAttr
                       << "' must hold one string per dim, got " << names;
        return failure();
      }
      for (auto [i, name] : llvm::enumerate(names))
        s.dimNames[i] = cast<StringAttr>(name).str();
    }
    DenseI64ArrayAttr bounds;
    if (attrs)
      bounds = attrs.getAs<DenseI64ArrayAttr>(mlir::sqz::kMaxShapeAttr);
    if (bounds) {
      bool ok = bounds.size() == static_cast<int64_t>(s.shape.size());
      for (int64_t i = 0; ok && i < bounds.size(); ++i)
        ok = s.shape[i] == -1 ? bounds[i] >= -1 : bounds[i] == s.shape[i];
      if (!ok) {
        fn.emitError() << kind << " '" << s.name << "': '" << mlir::sqz::kMaxShapeAttr
                       << "' must give one bound per dim (-1 or >= 0 for dynamic dims, the "
                          "size for static ones), got "
                       << bounds;
        return failure();
      }
      s.maxShape.assign(bounds.asArrayRef().begin(), bounds.asArrayRef().end());
    }
    return s;
  };
  FunctionType ty = fn.getFunctionType();
  for (unsigned i = 0; i < ty.getNumInputs(); ++i) {
    auto s = one(ty.getInput(i), fn.getArgAttrDict(i), "input", i);
    if (failed(s))
      return failure();
    ins.push_back(*s);
  }
  for (unsigned i = 0; i < ty.getNumResults(); ++i) {
    auto s = one(ty.getResult(i), fn.getResultAttrDict(i), "output", i);
    if (failed(s))
      return failure();
    outs.push_back(*s);
  }
  return std::make_pair(ins, outs);
}

static llvm::json::Value toJson(ArrayRef<TensorSig> sigs) {
  llvm::json::Array arr;
  for (const TensorSig &s : sigs) {
    llvm::json::Array shape;
    for (int64_t d : s.shape)
      shape.push_back(d);
    llvm::json::Object tensor{
        {"name", s.name}, {"dtype", s.dtype}, {"shape", std::move(shape)}};
    if (!s.onnxDType.empty())
      tensor["onnx_dtype"] = s.onnxDType;
    if (!s.dimNames.empty()) {
      llvm::json::Array names, bounds;
      for (const std::string &n : s.dimNames)
        names.push_back(n);
      for (int64_t d : s.maxShape)
        bounds.push_back(d);
      tensor["dim_names"] = std::move(names);
      tensor["max_shape"] = std::move(bounds);
    }
    arr.push_back(std::move(tensor));
  }
  return arr;
}

/// Parses --input-shape and --dynamic-dim values into importer options (the importer owns
/// the syntax).
static LogicalResult parseInputShapes(mlir::sqz::OnnxImportOptions &opts) {
  for (const std::string &spec : inputShapes) {
    std::string error;
    if (!mlir::sqz::parseOnnxInputShape(spec, opts, error)) {
      llvm::errs() << "sqz-compile: error: " << error << "\n";
      return failure();
    }
  }
  for (const std::string &spec : dynamicDims) {
    std::string error;
    if (!mlir::sqz::parseOnnxDynamicDim(spec, opts, error)) {
      llvm::errs() << "sqz-compile: error: " << error << "\n";
      return failure();
    }
  }
  return success();
}

/// Physical memory in bytes (0 if unknown).
static uint64_t physicalMemory() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(size) : 0;
}

/// The lowering of --target; `device` false: the CPU whatever the target (calibration
/// builds run on the compiling machine).
static void buildLowering(OpPassManager &pm, StringRef weightsFile, bool device = true) {
  if (device && !cudaChip.empty()) {
    mlir::sqz::LowerToCUDAOptions cudaOpts;
    cudaOpts.chip = cudaChip;
    cudaOpts.weightsFile = weightsFile.str();
    cudaOpts.kernels = !noUKernels;
    cudaOpts.emulate = emulateGpu;
    cudaOpts.libdevice = libdevice.getValue();
    mlir::sqz::buildLowerToCUDAPipeline(pm, cudaOpts);
    return;
  }
  mlir::sqz::LowerToCPUOptions lowerOpts;
  lowerOpts.targetCPU = targetCPU;
  lowerOpts.weightsFile = weightsFile.str();
  lowerOpts.ukernels = !noUKernels;
  lowerOpts.ukernelFormats = std::vector<std::string>(ukernelFormats.begin(), ukernelFormats.end());
  lowerOpts.ukernelAct = ukernelAct;
  mlir::sqz::buildLowerToCPUPipeline(pm, lowerOpts);
}

/// Writes `contents` to `path` (used for the manifest).
static LogicalResult writeFile(StringRef path, StringRef contents,
                               std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    error = "cannot write '" + path.str() + "': " + ec.message();
    return failure();
  }
  os << contents;
  os.close();
  if (os.has_error()) {
    error = "write error on '" + path.str() + "'";
    return failure();
  }
  return success();
}

static int fail(const std::string &msg) {
  llvm::errs() << "sqz-compile: error: " << msg << "\n";
  return 1;
}

/// Lowers `module` (graph IR after cleanup) and writes a complete artifact into `dir`
/// (model.so, manifest.json and, unless --inline-weights, model.safetensors; for --target
/// cuda also model.ptx). `device` false: for the CPU whatever the target.
static LogicalResult emitArtifact(ModuleOp module, StringRef dir, std::string &error,
                                  bool device = true) {
  bool cuda = device && gpuArtifact();
  auto entry = module.lookupSymbol<func::FuncOp>("main");
  if (!entry) {
    error = "the module has no entry function @main";
    return failure();
  }
  auto sig = readSignature(entry);
  if (failed(sig)) {
    error = "unsupported entry signature";
    return failure();
  }
  SmallString<256> objPath(dir), soPath(dir), manifestPath(dir), weightsPath(dir);
  llvm::sys::path::append(objPath, "model.o");
  llvm::sys::path::append(soPath, "model.so");
  llvm::sys::path::append(manifestPath, "manifest.json");
  llvm::sys::path::append(weightsPath, "model.safetensors");

  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  if (failed(applyPassManagerCLOptions(pm))) {
    error = "bad pass manager options";
    return failure();
  }
  buildLowering(pm, inlineWeights ? StringRef() : StringRef(weightsPath), device);
  if (failed(pm.run(module))) {
    error = "lowering '" + inputFile + "' failed";
    return failure();
  }
  bool externalWeights = module->hasAttr("sqz.weights_file");
  // Bounds of dynamic output dims that sqz-cpu-prepare-entry derived from the input bounds.
  if (auto bounds = module->getAttrOfType<ArrayAttr>(mlir::sqz::kOutputMaxShapesAttr)) {
    for (auto [out, attr] : llvm::zip(sig->second, bounds)) {
      auto dims = dyn_cast<DenseI64ArrayAttr>(attr);
      if (!dims || dims.size() != static_cast<int64_t>(out.maxShape.size()))
        continue;
      for (auto [i, d] : llvm::enumerate(dims.asArrayRef()))
        if (out.shape[i] == -1 && out.maxShape[i] == -1)
          out.maxShape[i] = d;
    }
  }
  auto isDynamic = [](const TensorSig &t) { return llvm::is_contained(t.shape, -1); };
  bool dynamic = llvm::any_of(sig->first, isDynamic) || llvm::any_of(sig->second, isDynamic);
  if (cuda) {
    // Host code for any x86-64 with the device PTX embedded, and model.ptx.
    if (failed(mlir::sqz::emitCUDALibrary(module, dir, error)))
      return failure();
  } else {
    mlir::sqz::CPUCodegenOptions cgOpts;
    cgOpts.targetCPU = targetCPU;
    llvm::LLVMContext llvmCtx;
    std::unique_ptr<llvm::Module> llvmModule =
        mlir::sqz::translateToOptimizedLLVMIR(module, llvmCtx, cgOpts);
    if (!llvmModule) {
      error = "translation to LLVM IR failed";
      return failure();
    }
    if (failed(mlir::sqz::emitObjectFile(*llvmModule, objPath, cgOpts, error)) ||
        failed(mlir::sqz::linkSharedLibrary(objPath, soPath, error)))
      return failure();
    llvm::sys::fs::remove(objPath);
  }
  std::string hostCPU = cuda ? "x86-64" : targetCPU.getValue();

  llvm::json::Object manifest{
      {"format", "sqz-artifact"},
      {"abi_version", dynamic ? 3 : externalWeights ? 2 : 1},
      {"library", "model.so"},
      {"entry", "sqz_model_invoke"},
      {"source", llvm::sys::path::filename(inputFile).str()},
      {"target", cuda ? "cuda" : "cpu"},
      {"target_cpu", hostCPU},
      {"cpu_features", [&] {
         // The target's features, plus those of the microkernels' ISA level if it needs more.
         std::vector<std::string> features = mlir::sqz::getCPUFeatureNames(hostCPU);
         if (auto isa = module->getAttrOfType<StringAttr>(mlir::sqz::kUKernelISAAttr))
           for (const std::string &name : mlir::sqz::getUKernelISAFeatures(isa.getValue()))
             if (!llvm::is_contained(features, name))
               features.push_back(name);
         llvm::json::Array names;
         for (const std::string &name : features)
           names.push_back(name);
         return names;
       }()},
      {"inputs", toJson(sig->first)},
      {"outputs", toJson(sig->second)},
  };
  if (cuda) {
    // Every buffer of sqz_model_invoke is a device pointer (docs/CUDA.md).
    manifest["device"] = "cuda";
    manifest["gpu_arch"] = cudaChip;
    manifest["ptx"] = "model.ptx";
  }
  if (device && emulateGpu)
    manifest["emulates"] = "cuda:" + cudaChip;
  if (externalWeights) {
    // The layout the library was compiled for, read back from the file the pass wrote.
    ::sqz::runtime::MappedSafetensors weights;
    if (::sqz::runtime::Status s = weights.open(weightsPath.str().str()); !s) {
      error = s.message();
      return failure();
    }
    llvm::json::Array tensors;
    for (const ::sqz::runtime::SafetensorsEntry &e : weights.entries()) {
      llvm::json::Array shape;
      for (int64_t d : e.shape)
        shape.push_back(d);
      tensors.push_back(llvm::json::Object{{"name", e.name},
                                           {"dtype", e.dtype},
                                           {"shape", std::move(shape)},
                                           {"offset", static_cast<int64_t>(e.begin)}});
    }
    manifest["weights"] = llvm::json::Object{
        {"file", "model.safetensors"},
        {"bytes", static_cast<int64_t>(weights.dataSize())},
        {"tensors", std::move(tensors)}};
  }
  std::string text;
  llvm::raw_string_ostream(text)
      << llvm::formatv("{0:2}", llvm::json::Value(std::move(manifest))) << "\n";
  return writeFile(manifestPath, text, error);
}

/// A temporary directory beside `near` (removed by the returned guard's owner).
static LogicalResult makeTempDir(StringRef near, SmallString<256> &tmpDir, std::string &error) {
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(near + ".sqz-tmp", tmpDir)) {
    error = "cannot create a temporary directory beside '" + near.str() + "': " + ec.message();
    return failure();
  }
  return success();
}

/// The recipe's pipeline, with `stats=<statsFile>` added to every stage that takes
/// statistics and does not name a file itself.
static std::string recipePipeline(const ::sqz::compression::Recipe &recipe,
                                  StringRef statsFile) {
  std::string text;
  for (const ::sqz::compression::RecipeStage &stage : recipe.stages) {
    ::sqz::compression::RecipeStage s = stage;
    std::vector<std::string> options = ::sqz::compression::getPassOptionNames(s.passArgument());
    if (!statsFile.empty() && !s.has("stats") && llvm::is_contained(options, "stats"))
      s.options.emplace_back("stats", "\"" + statsFile.str() + "\"");
    text += (text.empty() ? "" : ",") + s.textualPipeline();
  }
  return text;
}

/// An sqz-instrument pass with the layer selection (targets, ignore) of `stage`.
static std::string instrumentFor(const ::sqz::compression::RecipeStage &stage) {
  std::string options;
  for (const auto &[key, value] : stage.options)
    if (key == "targets" || key == "ignore")
      options += (options.empty() ? "" : " ") + key + "=" + value;
  return std::string("sqz-instrument") + (options.empty() ? "" : "{" + options + "}");
}

/// The sqz-instrument passes that tap the linears each stage of `recipe` selects.
static std::string instrumentPipeline(const ::sqz::compression::Recipe &recipe) {
  std::string instrument;
  for (const ::sqz::compression::RecipeStage &stage : recipe.stages)
    if (stage.name != "instrument")
      instrument += (instrument.empty() ? "" : ",") + instrumentFor(stage);
  return instrument.empty() ? "sqz-instrument" : instrument;
}

/// Runs the calibration build of `module` tapped by the sqz-instrument passes `instrument` on
/// --calib-data and writes the statistics to `statsPath` (the build goes to `workDir`).
static LogicalResult calibrateWith(ModuleOp module, StringRef instrument, StringRef workDir,
                                   StringRef statsPath, std::string &error) {
  OwningOpRef<ModuleOp> clone(module.clone());
  std::string errorText;
  llvm::raw_string_ostream errorStream(errorText);
  // The taps first, to read which statistics each asks for before sqz-expose-taps turns them
  // into outputs.
  PassManager instrumentOnly(module.getContext(), ModuleOp::getOperationName());
  if (failed(parsePassPipeline(instrument.str(), instrumentOnly, errorStream))) {
    error = "calibration pipeline: " + errorText;
    return failure();
  }
  if (failed(instrumentOnly.run(*clone))) {
    error = "instrumenting the calibration build failed";
    return failure();
  }
  std::vector<::sqz::compression::TapRequest> taps;
  clone->walk([&](mlir::sqz::ObserveOp tap) {
    ::sqz::compression::TapRequest request;
    request.name = tap.getTap().str();
    mlir::sqz::ObserveStat stats = tap.getStats();
    request.sumsq = mlir::sqz::bitEnumContainsAny(stats, mlir::sqz::ObserveStat::SumSq);
    request.absmax = mlir::sqz::bitEnumContainsAny(stats, mlir::sqz::ObserveStat::AbsMax);
    request.xtx = mlir::sqz::bitEnumContainsAny(stats, mlir::sqz::ObserveStat::XtX);
    taps.push_back(request);
  });
  if (taps.empty()) {
    error = "the recipe selects no layers to calibrate";
    return failure();
  }
  PassManager expose(module.getContext(), ModuleOp::getOperationName());
  (void)parsePassPipeline("sqz-expose-taps", expose, errorStream);
  if (failed(expose.run(*clone))) {
    error = "building the calibration outputs failed";
    return failure();
  }
  SmallString<256> calibDir(workDir);
  llvm::sys::path::append(calibDir, "calibration-build");
  if (std::error_code ec = llvm::sys::fs::create_directories(calibDir)) {
    error = "cannot create '" + calibDir.str().str() + "': " + ec.message();
    return failure();
  }
  llvm::errs() << "sqz-compile: calibration build with " << taps.size() << " taps\n";
  if (failed(emitArtifact(*clone, calibDir, error, /*device=*/false))) {
    error = "calibration build: " + error;
    return failure();
  }
  ::sqz::compression::CalibrationData data;
  data.path = calibData;
  data.maxSamples = calibSamples;
  uint64_t limit = calibMemoryLimit > 0
                       ? static_cast<uint64_t>(calibMemoryLimit * 1073741824.0)
                       : std::max<uint64_t>(physicalMemory() / 2, uint64_t(1) << 30);
  if (llvm::Error e = ::sqz::compression::runCalibration(calibDir.str().str(), taps, data,
                                                       statsPath.str(), limit, llvm::errs())) {
    error = llvm::toString(std::move(e));
    return failure();
  }
  return success();
}

/// Runs the sqz-instrument passes `instrument` on a clone of `module` and returns the names
/// of the tapped linears in IR order.
static FailureOr<std::vector<std::string>>
tappedLayers(ModuleOp module, StringRef instrument, std::string &error) {
  OwningOpRef<ModuleOp> clone(module.clone());
  std::string errorText;
  llvm::raw_string_ostream errorStream(errorText);
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  if (failed(parsePassPipeline(instrument.str(), pm, errorStream)) || failed(pm.run(*clone))) {
    error = "selecting the layers to calibrate failed: " + errorText;
    return failure();
  }
  std::vector<std::string> names;
  clone->walk([&](mlir::sqz::ObserveOp tap) { names.push_back(tap.getTap().str()); });
  return names;
}

/// The decoder block of a layer for sequential calibration: "layers.3" for "layers.3/q" or
/// "/model/layers.3/mlp/up_proj/MatMul" (the first `<layers|layer|h|block|blocks>` followed by
/// `.N` or `/N`), or "" when the name has none.
static std::string decoderBlockOf(const std::string &name) {
  static const std::regex pattern(R"((^|[/.])(layers|layer|h|blocks?)[./](\d+))");
  std::smatch match;
  if (!std::regex_search(name, match, pattern))
    return "";
  return match[2].str() + "." + match[3].str();
}

/// A regex that matches exactly the names in `names`.
static std::string exactNamesRegex(ArrayRef<std::string> names) {
  std::string regex = "^(?:";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i)
      regex += "|";
    for (char c : names[i]) {
      if (StringRef("\\^$.|?*+()[]{}").contains(c))
        regex += '\\';
      regex += c;
    }
  }
  return regex + ")$";
}

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  // Accept MLIR's printing/debugging flags (e.g. --mlir-elide-resource-strings-if-larger,
  // --mlir-print-ir-after-all) as sqz-opt does.
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::HideUnrelatedOptions(cat);
  cl::ParseCommandLineOptions(
      argc, argv,
      "Squeeze compiler: compiles an ONNX model into a runnable artifact\n\n"
      "  sqz-compile model.onnx -o out/   writes out/model.so, out/model.safetensors and "
      "out/manifest.json\n"
      "  sqz-compile graph.mlir -o out/   the same from sqz graph IR as the importer produces it\n"
      "                                   (func.func @main over tensors; sqz.name on arguments "
      "and\n"
      "                                   results; `?` dims with sqz.dim_names/sqz.max_shape "
      "give ABI 3)\n");

  if (target != "cpu") {
    std::string error;
    cudaChip = mlir::sqz::parseCUDATarget(target, error);
    if (cudaChip.empty())
      return fail(error);
  }
  if (gpuArtifact()) {
    // The libdevice the pipeline would use (given, $SQZ_LIBDEVICE or a toolkit's), checked
    // here and passed on by path.
    std::string path = mlir::sqz::findLibdevice(libdevice);
    if (!path.empty() && !llvm::sys::fs::exists(path))
      return fail("libdevice '" + path + "' does not exist (--libdevice or $SQZ_LIBDEVICE: a "
                  "CUDA toolkit's nvvm/libdevice/libdevice.10.bc, or none)");
    if (StringRef(path).find_first_of("\\\"{}") != StringRef::npos)
      return fail("libdevice '" + path + "': a path with \\, \", { or } is not supported");
    libdevice = path.empty() ? "none" : path;
  }
  if (emulateGpu && cudaChip.empty())
    return fail("--emulate-gpu needs --target cuda:<arch> (it runs that target's generated "
                "kernels on the CPU)");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  mlir::sqz::registerSqzDialects(registry);
  mlir::sqz::registerCUDATranslations(registry);
  MLIRContext ctx(registry);
  // The pipelines name upstream passes textually, so they must be registered.
  registerAllPasses();
  mlir::sqz::registerAllSqzPasses();
  mlir::sqz::registerCUDAPipelines();

  std::optional<::sqz::compression::Recipe> recipe;
  if (!recipeFile.empty()) {
    llvm::Expected<::sqz::compression::Recipe> parsed = ::sqz::compression::loadRecipe(recipeFile);
    if (!parsed)
      return fail(llvm::toString(parsed.takeError()));
    recipe = std::move(*parsed);
  } else if (!calibData.empty()) {
    return fail("--calib-data calibrates a --recipe; give one");
  } else if (calibMode == CalibMode::Sequential) {
    return fail("--calib-mode=sequential calibrates a --recipe; give one");
  } else if (!reportFile.empty()) {
    return fail("--report describes what a --recipe did; give one");
  }
  if (recipe && calibMode == CalibMode::Sequential && calibData.empty())
    return fail("--calib-mode=sequential needs --calib-data");
  if (!calibData.empty() && !llvm::sys::fs::exists(calibData))
    return fail("calibration data '" + calibData + "' does not exist");

  if (printPipeline) {
    std::string text;
    llvm::raw_string_ostream os(text);
    PassManager cleanup(&ctx, ModuleOp::getOperationName());
    mlir::sqz::buildImportCleanupPipeline(cleanup);
    cleanup.printAsTextualPipeline(os);
    if (recipe)
      os << "," << recipePipeline(*recipe, calibData.empty() ? "" : "<calibration statistics>");
    PassManager lower(&ctx, ModuleOp::getOperationName());
    buildLowering(lower, inlineWeights ? "" : "<out>/model.safetensors");
    os << ",";
    lower.printAsTextualPipeline(os);
    // One pipeline: strip the per-manager builtin.module(...) wrappers.
    std::string joined;
    for (StringRef part : {StringRef(text)}) {
      std::string t = part.str();
      size_t at;
      while ((at = t.find("builtin.module(")) != std::string::npos) {
        size_t depth = 0, end = at + 15;
        for (; end < t.size(); ++end) {
          if (t[end] == '(')
            ++depth;
          else if (t[end] == ')') {
            if (depth == 0)
              break;
            --depth;
          }
        }
        t = t.substr(0, at) + t.substr(at + 15, end - at - 15) + t.substr(end + 1);
      }
      joined = t;
    }
    llvm::outs() << "builtin.module(" << joined << ")\n";
    return 0;
  }
  if (compileTo == Phase::Artifact && outputDir.empty())
    return fail("missing -o <dir> (the artifact directory to write)");

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &ctx);

  OwningOpRef<ModuleOp> module;
  if (StringRef(inputFile).ends_with(".mlir")) {
    if (!inputShapes.empty() || !dynamicDims.empty())
      return fail("--input-shape and --dynamic-dim apply to ONNX models; graph IR gives its "
                  "shapes in its types ('?' for dynamic dims)");
    ctx.loadAllAvailableDialects();
    module = parseSourceFile<ModuleOp>(inputFile, sourceMgr,
                                       ParserConfig(&ctx));
  } else {
    mlir::sqz::OnnxImportOptions importOpts;
    if (failed(parseInputShapes(importOpts)))
      return 1;
    module = mlir::sqz::importOnnxFile(inputFile, &ctx, importOpts);
  }
  if (!module)
    return fail("could not load '" + inputFile + "'");

  if (compileTo == Phase::Import && !recipe) {
    module->print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }

  auto entry = module->lookupSymbol<func::FuncOp>("main");
  if (!entry)
    return fail("'" + inputFile + "' has no entry function @main");
  if (failed(readSignature(entry)))
    return 1;

  // Build in a temporary directory beside out/ (or in $TMPDIR when only printing), then
  // rename into place: nothing half-written is ever left in out/.
  SmallString<256> outAbs(outputDir.empty() ? "sqz-compile" : outputDir.getValue());
  if (outputDir.empty()) {
    SmallString<256> tmp;
    llvm::sys::path::system_temp_directory(/*erasedOnReboot=*/true, tmp);
    llvm::sys::path::append(tmp, "sqz-compile");
    outAbs = tmp;
  }
  llvm::sys::fs::make_absolute(outAbs);
  llvm::sys::path::remove_dots(outAbs, /*remove_dot_dot=*/true);
  StringRef parent = llvm::sys::path::parent_path(outAbs);
  if (std::error_code ec = llvm::sys::fs::create_directories(parent))
    return fail("cannot create '" + parent.str() + "': " + ec.message());
  std::string error;
  SmallString<256> tmpDir;
  if (failed(makeTempDir(outAbs, tmpDir, error)))
    return fail(error);
  llvm::scope_exit cleanup([&] { llvm::sys::fs::remove_directories(tmpDir); });

  {
    PassManager pm(&ctx, ModuleOp::getOperationName());
    if (failed(applyPassManagerCLOptions(pm)))
      return fail("bad pass manager options");
    mlir::sqz::buildImportCleanupPipeline(pm);
    if (failed(pm.run(*module)))
      return fail("cleaning up '" + inputFile + "' failed");
  }
  bool haveStats = false;
  if (recipe) {
    SmallString<256> statsPath(tmpDir);
    llvm::sys::path::append(statsPath, "calibration.safetensors");
    // One stage at a time, so the report can say which stage changed which layer.
    std::map<std::string, mlir::sqz::LayerWeight> before =
        mlir::sqz::collectLayerWeights(*module);
    std::map<std::string, mlir::sqz::LayerWeight> current = before;
    std::map<std::string, std::string> methods;
    // Runs `run` (the recipe's `stage`, possibly restricted to some layers) with the
    // statistics in `stats` (or none).
    auto runStage = [&](const ::sqz::compression::RecipeStage &stage,
                        const ::sqz::compression::RecipeStage &run,
                        StringRef stats) -> LogicalResult {
      ::sqz::compression::Recipe one;
      one.stages.push_back(run);
      PassManager pm(&ctx, ModuleOp::getOperationName());
      if (failed(applyPassManagerCLOptions(pm))) {
        error = "bad pass manager options";
        return failure();
      }
      std::string errorText;
      llvm::raw_string_ostream errorStream(errorText);
      if (failed(parsePassPipeline(recipePipeline(one, stats), pm, errorStream))) {
        error = "recipe '" + recipeFile + "': " + errorText;
        return failure();
      }
      if (failed(pm.run(*module))) {
        error = "compressing '" + inputFile + "' with recipe '" + recipeFile +
                "' failed in stage '" + run.textualPipeline() + "'";
        return failure();
      }
      std::map<std::string, mlir::sqz::LayerWeight> next = mlir::sqz::collectLayerWeights(*module);
      for (const auto &[name, layer] : next) {
        auto old = current.find(name);
        bool changed = old == current.end() || old->second.dense != layer.dense ||
                       old->second.form != layer.form;
        if (changed) {
          std::string &m = methods[name];
          // The stage and its method options (selection and statistics are not the method).
          ::sqz::compression::RecipeStage label;
          label.name = stage.name;
          for (const auto &option : stage.options)
            if (option.first != "targets" && option.first != "ignore" && option.first != "stats")
              label.options.push_back(option);
          m += (m.empty() ? "" : " + ") + label.textualPipeline().substr(4); // drop "sqz-"
        }
      }
      current = std::move(next);
      return success();
    };
    if (!calibData.empty() && calibMode == CalibMode::Sequential) {
      // Sequential calibration (docs/Compression.md): the calibrated layers are grouped into
      // decoder blocks in graph order; each block is calibrated on the model whose earlier
      // blocks every stage has already compressed, then every stage runs on that block alone.
      if (llvm::any_of(recipe->stages, [](const auto &s) { return s.name == "instrument"; }))
        return fail("--calib-mode=sequential runs the recipe block by block and does not take "
                    "an 'instrument' stage");
      FailureOr<std::vector<std::string>> order =
          tappedLayers(*module, instrumentPipeline(*recipe), error);
      if (failed(order))
        return fail(error);
      if (order->empty())
        return fail("the recipe selects no layers to calibrate");
      std::vector<std::set<std::string>> selections;
      for (const ::sqz::compression::RecipeStage &stage : recipe->stages) {
        FailureOr<std::vector<std::string>> names =
            tappedLayers(*module, instrumentFor(stage), error);
        if (failed(names))
          return fail(error);
        selections.emplace_back(names->begin(), names->end());
      }
      // A layer without a block number joins the block of the layer before it.
      std::vector<std::pair<std::string, std::vector<std::string>>> blocks;
      for (const std::string &name : *order) {
        std::string key = decoderBlockOf(name);
        if (blocks.empty() || (!key.empty() && key != blocks.back().first)) {
          auto same = llvm::find_if(blocks, [&](const auto &b) { return b.first == key; });
          if (same != blocks.end() && !key.empty()) {
            same->second.push_back(name);
            continue;
          }
          blocks.emplace_back(key, std::vector<std::string>());
        }
        blocks.back().second.push_back(name);
      }
      std::vector<std::string> parts;
      auto start = std::chrono::steady_clock::now();
      for (auto [b, block] : llvm::enumerate(blocks)) {
        auto blockStart = std::chrono::steady_clock::now();
        llvm::errs() << llvm::formatv("sqz-compile: sequential calibration: block {0}/{1} "
                                      "'{2}' ({3} layers)\n",
                                      b + 1, blocks.size(),
                                      block.first.empty() ? "-" : block.first,
                                      block.second.size());
        std::string only = "\"" + exactNamesRegex(block.second) + "\"";
        SmallString<256> blockDir(tmpDir), blockStats(tmpDir);
        llvm::sys::path::append(blockDir, "block-" + std::to_string(b));
        llvm::sys::path::append(blockStats,
                                "calibration-block-" + std::to_string(b) + ".safetensors");
        if (failed(calibrateWith(*module,
                                 "sqz-instrument{targets=" + only + " ignore=\"^$\"}",
                                 blockDir, blockStats, error)))
          return fail(error);
        llvm::sys::fs::remove_directories(blockDir);
        parts.push_back(blockStats.str().str());
        for (auto [i, stage] : llvm::enumerate(recipe->stages)) {
          std::vector<std::string> names;
          for (const std::string &name : block.second)
            if (selections[i].count(name))
              names.push_back(name);
          if (names.empty())
            continue;
          ::sqz::compression::RecipeStage restricted;
          restricted.name = stage.name;
          restricted.line = stage.line;
          for (const auto &option : stage.options)
            if (option.first != "targets" && option.first != "ignore")
              restricted.options.push_back(option);
          restricted.options.emplace_back("targets", "\"" + exactNamesRegex(names) + "\"");
          restricted.options.emplace_back("ignore", "\"^$\"");
          if (failed(runStage(stage, restricted, blockStats)))
            return fail(error);
        }
        llvm::errs() << llvm::formatv(
            "sqz-compile: block '{0}' calibrated and compressed in {1:F1} s\n",
            block.first.empty() ? "-" : block.first,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - blockStart)
                .count());
      }
      if (llvm::Error e = ::sqz::compression::mergeCalibrationFiles(parts, statsPath.str().str()))
        return fail(llvm::toString(std::move(e)));
      for (const std::string &part : parts)
        llvm::sys::fs::remove(part);
      haveStats = true;
      llvm::errs() << llvm::formatv(
          "sqz-compile: sequential calibration of {0} blocks took {1:F1} s\n", blocks.size(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    } else {
      if (!calibData.empty()) {
        if (failed(calibrateWith(*module, instrumentPipeline(*recipe), tmpDir, statsPath,
                                 error)))
          return fail(error);
        haveStats = true;
      }
      for (const ::sqz::compression::RecipeStage &stage : recipe->stages)
        if (failed(runStage(stage, stage, haveStats ? statsPath.str() : "")))
          return fail(error);
    }
    std::vector<mlir::sqz::LayerReport> report = mlir::sqz::compareLayers(
        before, current, methods, haveStats ? statsPath.str().str() : std::string());
    mlir::sqz::printReport(report, llvm::outs());
    if (!reportFile.empty()) {
      std::string text;
      llvm::raw_string_ostream(text)
          << llvm::formatv("{0:2}", mlir::sqz::reportToJson(report)) << "\n";
      SmallString<256> reportTmp(tmpDir);
      llvm::sys::path::append(reportTmp, "report.json");
      if (failed(writeFile(reportTmp, text, error)))
        return fail(error);
    }
    if (compileTo == Phase::Import) {
      module->print(llvm::outs());
      llvm::outs() << "\n";
      return 0;
    }
  }

  if (compileTo == Phase::Lower || compileTo == Phase::LLVMIR) {
    PassManager pm(&ctx, ModuleOp::getOperationName());
    if (failed(applyPassManagerCLOptions(pm)))
      return fail("bad pass manager options");
    buildLowering(pm, "");
    if (failed(pm.run(*module)))
      return fail("lowering '" + inputFile + "' failed");
    if (compileTo == Phase::Lower) {
      module->print(llvm::outs());
      llvm::outs() << "\n";
      return 0;
    }
    llvm::LLVMContext llvmCtx;
    std::unique_ptr<llvm::Module> llvmModule;
    if (gpuArtifact()) {
      llvmModule = mlir::sqz::translateCUDAHostToLLVMIR(*module, llvmCtx, error);
      if (!llvmModule)
        return fail(error);
    } else {
      mlir::sqz::CPUCodegenOptions cgOpts;
      cgOpts.targetCPU = targetCPU;
      llvmModule = mlir::sqz::translateToOptimizedLLVMIR(*module, llvmCtx, cgOpts);
    }
    if (!llvmModule)
      return 1;
    llvmModule->print(llvm::outs(), nullptr);
    return 0;
  }

  SmallString<256> artifactDir(tmpDir);
  llvm::sys::path::append(artifactDir, "artifact");
  if (std::error_code ec = llvm::sys::fs::create_directories(artifactDir))
    return fail("cannot create '" + artifactDir.str().str() + "': " + ec.message());
  size_t numInputs = 0, numOutputs = 0;
  if (auto fn = module->lookupSymbol<func::FuncOp>("main")) {
    numInputs = fn.getNumArguments();
    numOutputs = fn.getNumResults();
  }
  if (failed(emitArtifact(*module, artifactDir, error)))
    return fail(error);
  if (haveStats) {
    SmallString<256> from(tmpDir), to(artifactDir);
    llvm::sys::path::append(from, "calibration.safetensors");
    llvm::sys::path::append(to, "calibration.safetensors");
    if (std::error_code ec = llvm::sys::fs::rename(from, to))
      return fail("cannot move the calibration statistics: " + ec.message());
  }

  if (std::error_code ec = llvm::sys::fs::create_directories(outAbs))
    return fail("cannot create '" + outAbs.str().str() + "': " + ec.message());
  // Data first, the manifest last: a reader that finds a manifest finds its files. A weights
  // file or statistics of an earlier compile that this one does not write are removed.
  for (StringRef file : {"model.safetensors", "calibration.safetensors", "model.so",
                         "model.ptx", "manifest.json"}) {
    SmallString<256> from(artifactDir), to(outAbs);
    llvm::sys::path::append(from, file);
    llvm::sys::path::append(to, file);
    if (!llvm::sys::fs::exists(from)) {
      llvm::sys::fs::remove(to);
      continue;
    }
    if (std::error_code ec = llvm::sys::fs::rename(from, to))
      return fail("cannot move '" + from.str().str() + "' to '" + to.str().str() +
                  "': " + ec.message());
  }
  if (!reportFile.empty() && recipe) {
    SmallString<256> reportTmp(tmpDir);
    llvm::sys::path::append(reportTmp, "report.json");
    SmallString<256> reportAbs(reportFile.getValue());
    llvm::sys::fs::make_absolute(reportAbs);
    if (std::error_code ec =
            llvm::sys::fs::create_directories(llvm::sys::path::parent_path(reportAbs)))
      return fail("cannot create the report's directory: " + ec.message());
    if (std::error_code ec = llvm::sys::fs::copy_file(reportTmp, reportAbs))
      return fail("cannot write the report '" + reportAbs.str().str() + "': " + ec.message());
    llvm::outs() << "sqz-compile: wrote the compression report " << reportAbs << "\n";
  }
  llvm::outs() << "sqz-compile: wrote " << outAbs << "/model.so and " << outAbs
               << "/manifest.json (" << numInputs << " inputs, " << numOutputs
               << " outputs)\n";
  SmallString<256> weightsPath(outAbs);
  llvm::sys::path::append(weightsPath, "model.safetensors");
  if (llvm::sys::fs::exists(weightsPath)) {
    ::sqz::runtime::MappedSafetensors weights;
    if (::sqz::runtime::Status st = weights.open(weightsPath.str().str()); !st)
      return fail(st.message());
    llvm::outs() << "sqz-compile: weights in " << weightsPath << " ("
                 << weights.entries().size() << " tensors, " << weights.dataSize()
                 << " bytes)\n";
  }
  return 0;
}
