//===- sqz-compile.cpp - The Squeeze compiler driver ----------------------===//
//
// A thin driver over the named pipelines: import (ONNX or sqz graph IR) → sqz-import-cleanup →
// sqz-lower-to-cpu → LLVM IR → object → out/model.so + out/manifest.json. `--compile-to` stops
// after a phase and prints its IR. Nothing half-written is left in out/: the artifact is built
// in a temporary directory beside it and renamed into place.
//
//===----------------------------------------------------------------------===//

#include "sqz/Import/OnnxImporter.h"
#include "sqz/InitAll.h"
#include "sqz/Target/CPU/Codegen.h"

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
static cl::opt<std::string> target("target", cl::desc("Compilation target"),
                                   cl::init("cpu"), cl::cat(cat));
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

namespace {
struct TensorSig {
  std::string name, dtype;
  SmallVector<int64_t> shape;
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
    if (!ranked || !ranked.hasStaticShape() || !dt) {
      fn.emitError() << kind << " '" << s.name
                     << "' must be a statically shaped tensor of a supported "
                        "dtype, got "
                     << t;
      return failure();
    }
    s.dtype = *dt;
    // The importer carries ONNX uint8 as signless i8 marked sqz.unsigned.
    if (attrs && attrs.get(sqz::kOnnxUnsignedAttr) && s.dtype == "int8")
      s.dtype = "uint8";
    if (attrs && attrs.get(sqz::kOnnxUnsignedAttr) && s.dtype == "int16")
      s.dtype = "uint16";
    s.shape.assign(ranked.getShape().begin(), ranked.getShape().end());
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
    arr.push_back(llvm::json::Object{
        {"name", s.name}, {"dtype", s.dtype}, {"shape", std::move(shape)}});
  }
  return arr;
}

/// Parses --input-shape values into importer options (the importer owns the syntax).
static LogicalResult parseInputShapes(sqz::OnnxImportOptions &opts) {
  for (const std::string &spec : inputShapes) {
    std::string error;
    if (!sqz::parseOnnxInputShape(spec, opts, error)) {
      llvm::errs() << "sqz-compile: error: " << error << "\n";
      return failure();
    }
  }
  return success();
}

static void buildPipeline(OpPassManager &pm) {
  sqz::buildImportCleanupPipeline(pm);
  sqz::LowerToCPUOptions lowerOpts;
  sqz::buildLowerToCPUPipeline(pm, lowerOpts);
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
      "  sqz-compile model.onnx -o out/   writes out/model.so and "
      "out/manifest.json\n");

  if (target != "cpu")
    return fail("unsupported --target '" + target +
                "' (this build supports: cpu)");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  sqz::registerSqzDialects(registry);
  MLIRContext ctx(registry);
  // The pipelines name upstream passes textually, so they must be registered.
  registerAllPasses();
  sqz::registerAllSqzPasses();

  if (printPipeline) {
    PassManager pm(&ctx, ModuleOp::getOperationName());
    buildPipeline(pm);
    pm.printAsTextualPipeline(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }
  if (compileTo == Phase::Artifact && outputDir.empty())
    return fail("missing -o <dir> (the artifact directory to write)");

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &ctx);

  OwningOpRef<ModuleOp> module;
  if (StringRef(inputFile).ends_with(".mlir")) {
    ctx.loadAllAvailableDialects();
    module = parseSourceFile<ModuleOp>(inputFile, sourceMgr,
                                       ParserConfig(&ctx));
  } else {
    sqz::OnnxImportOptions importOpts;
    if (failed(parseInputShapes(importOpts)))
      return 1;
    module = sqz::importOnnxFile(inputFile, &ctx, importOpts);
  }
  if (!module)
    return fail("could not load '" + inputFile + "'");

  if (compileTo == Phase::Import) {
    module->print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }

  auto entry = module->lookupSymbol<func::FuncOp>("main");
  if (!entry)
    return fail("'" + inputFile + "' has no entry function @main");
  auto sig = readSignature(entry);
  if (failed(sig))
    return 1;

  PassManager pm(&ctx, ModuleOp::getOperationName());
  if (failed(applyPassManagerCLOptions(pm)))
    return fail("bad pass manager options");
  buildPipeline(pm);
  if (failed(pm.run(*module)))
    return fail("lowering '" + inputFile + "' failed");
  if (compileTo == Phase::Lower) {
    module->print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }

  sqz::CPUCodegenOptions cgOpts;
  cgOpts.targetCPU = targetCPU;
  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule =
      sqz::translateToOptimizedLLVMIR(*module, llvmCtx, cgOpts);
  if (!llvmModule)
    return 1;
  if (compileTo == Phase::LLVMIR) {
    llvmModule->print(llvm::outs(), nullptr);
    return 0;
  }

  // Build the artifact in a temporary directory beside out/, then rename into place.
  SmallString<256> outAbs(outputDir);
  llvm::sys::fs::make_absolute(outAbs);
  llvm::sys::path::remove_dots(outAbs, /*remove_dot_dot=*/true);
  StringRef parent = llvm::sys::path::parent_path(outAbs);
  if (std::error_code ec = llvm::sys::fs::create_directories(parent))
    return fail("cannot create '" + parent.str() + "': " + ec.message());
  SmallString<256> tmpDir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(
          outAbs + ".sqz-tmp", tmpDir))
    return fail("cannot create a temporary directory beside '" +
                outAbs.str().str() + "': " + ec.message());
  auto cleanup = llvm::make_scope_exit(
      [&] { llvm::sys::fs::remove_directories(tmpDir); });

  std::string error;
  SmallString<256> objPath(tmpDir), soPath(tmpDir), manifestPath(tmpDir);
  llvm::sys::path::append(objPath, "model.o");
  llvm::sys::path::append(soPath, "model.so");
  llvm::sys::path::append(manifestPath, "manifest.json");
  if (failed(sqz::emitObjectFile(*llvmModule, objPath, cgOpts, error)) ||
      failed(sqz::linkSharedLibrary(objPath, soPath, error)))
    return fail(error);

  llvm::json::Object manifest{
      {"format", "sqz-artifact"},
      {"abi_version", 1},
      {"library", "model.so"},
      {"entry", "sqz_model_invoke"},
      {"source", llvm::sys::path::filename(inputFile).str()},
      {"target", "cpu"},
      {"target_cpu", targetCPU.getValue()},
      {"inputs", toJson(sig->first)},
      {"outputs", toJson(sig->second)},
  };
  std::string text;
  llvm::raw_string_ostream(text)
      << llvm::formatv("{0:2}", llvm::json::Value(std::move(manifest))) << "\n";
  if (failed(writeFile(manifestPath, text, error)))
    return fail(error);

  if (std::error_code ec = llvm::sys::fs::create_directories(outAbs))
    return fail("cannot create '" + outAbs.str().str() + "': " + ec.message());
  // The library first, the manifest last: a reader that finds a manifest finds its library.
  for (StringRef file : {"model.so", "manifest.json"}) {
    SmallString<256> from(tmpDir), to(outAbs);
    llvm::sys::path::append(from, file);
    llvm::sys::path::append(to, file);
    if (std::error_code ec = llvm::sys::fs::rename(from, to))
      return fail("cannot move '" + from.str().str() + "' to '" +
                  to.str().str() + "': " + ec.message());
  }
  llvm::outs() << "sqz-compile: wrote " << outAbs << "/model.so and "
               << outAbs << "/manifest.json (" << sig->first.size()
               << " inputs, " << sig->second.size() << " outputs)\n";
  return 0;
}
