//===- Materialize.cpp - Pack linear weights for the CPU microkernels ------===//
//
// `sqz-materialize{target=cpu}`: the target materialization of DESIGN.md. Every linear whose
// logical weight form a CPU microkernel reads (lib/Kernels/CPU/Microkernels.h) becomes an
// `sqz.packed_linear` whose blob the kernel library packed at compile time (sqz_uk_pack);
// what no kernel reads keeps the run-time dequantization path, with a remark.
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "sqz/Dialect/Sqz/IR/SqzDialect.h"

#include "CudaKernels.h"
#include "Microkernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

#include <cstring>

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZMATERIALIZE
#include "sqz/Target/CPU/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;

namespace {

/// Kernels sqz-materialize uses unless `formats` says otherwise: every format, with the 2-bit
/// ternary packing. Dense f32 included: its kernel beats the generated contractions on GEMV,
/// GEMM and whole models (docs/Codegen.md, "Microkernels", has the measurements).
constexpr const char *kDefaultFormats[] = {"f32",      "int8",     "int4",     "nf4",
                                           "ternary2", "sp24_f32", "sp24_int4"};
constexpr const char *kAllFormats[] = {"f32",       "int8",     "int4",     "nf4", "ternary2",
                                       "ternary16", "sp24_f32", "sp24_int4"};

/// The bytes of a constant operand in memory order, copied into `storage` (aligned for the
/// element type; a splat is expanded), or none when the value is not a constant or its data
/// is not available (an elided blob).
std::optional<ArrayRef<char>> getConstantBytes(Value value, std::vector<char> &storage) {
  Attribute attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  storage.clear();
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    storage.assign(blob->getData().begin(), blob->getData().end());
    return ArrayRef<char>(storage);
  }
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense || dense.getElementType().getIntOrFloatBitWidth() % 8 != 0)
    return std::nullopt;
  ArrayRef<char> raw = dense.getRawData();
  if (!dense.isSplat()) {
    storage.assign(raw.begin(), raw.end());
    return ArrayRef<char>(storage);
  }
  for (int64_t i = 0, e = dense.getNumElements(); i < e; ++i)
    storage.insert(storage.end(), raw.begin(), raw.end());
  return ArrayRef<char>(storage);
}

/// The blob key of a constant operand ("" if it is not a dense_resource).
std::string getResourceKey(Value value) {
  Attribute attr;
  if (matchPattern(value, m_Constant(&attr)))
    if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr))
      return resource.getRawHandle().getKey().str();
  return "";
}

/// One linear to pack: the logical form plus the buffers its pointers point into.
struct PackRequest {
  sqz_uk_logical logical{};
  std::string kernel;
  /// Names the blob: the key of the weight (or codes, or values) constant.
  std::string key;
  std::vector<char> storage[5];
};

/// Replaces the linear `op` by an sqz.packed_linear of `req`'s weight: the blob is `bytes` (the
/// library's size) rounded up to whole `align` units (blobs laid out one after another in the
/// weights file keep that alignment), zero-filled, then filled by `pack`; `library` names the
/// kernel library in diagnostics ("" or "CUDA "), `keySuffix` ends the blob's resource key. The
/// logical constants are erased unless something else reads them.
static LogicalResult replaceWithPacked(Operation *op, const PackRequest &req, StringRef library,
                                       int64_t bytes, int64_t align,
                                       function_ref<int(uint8_t *)> pack, StringRef keySuffix,
                                       Value input, Value bias, StringRef target) {
  if (bytes < static_cast<int64_t>(sizeof(sqz_uk_header)))
    return op->emitError() << "sqz-materialize: the " << library << "kernel library accepted the "
                           << req.kernel << " weight but reports a packed size of " << bytes
                           << " bytes";
  int64_t padded = (bytes + align - 1) / align * align;
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(padded, align, /*dataIsMutable=*/true);
  MutableArrayRef<char> data = blob.getMutableData();
  std::memset(data.data(), 0, data.size());
  if (pack(reinterpret_cast<uint8_t *>(data.data())) != 0)
    return op->emitError() << "sqz-materialize: packing the " << library << req.kernel
                           << " weight failed although the library accepted it";

  OpBuilder b(op);
  Location loc = op->getLoc();
  std::string key = (req.key.empty() ? "sqz_weight" : req.key) + keySuffix.str();
  auto blobTy = RankedTensorType::get({padded}, b.getI8Type());
  Value blobValue = arith::ConstantOp::create(
      b, loc, DenseResourceElementsAttr::get(blobTy, key, std::move(blob)));
  auto resultTy = cast<RankedTensorType>(op->getResult(0).getType());
  auto packed = PackedLinearOp::create(b, loc, resultTy, input, blobValue, bias,
                                       b.getStringAttr(req.kernel), b.getStringAttr(target));
  SmallVector<Value> operands(op->getOperands());
  op->getResult(0).replaceAllUsesWith(packed.getResult());
  op->erase();
  for (Value v : operands)
    if (Operation *def = v.getDefiningOp())
      if (v.use_empty() && isa<arith::ConstantOp>(def))
        def->erase();
  return success();
}

struct SqzMaterializePass : public mlir::sqz::impl::SqzMaterializeBase<SqzMaterializePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (target == "cuda") {
      if (failed(runCUDA(module)))
        signalPassFailure();
      return;
    }
    if (target != "cpu") {
      module.emitError() << "sqz-materialize: unknown target '" << target
                         << "' (expected cpu or cuda)";
      return signalPassFailure();
    }
    resolvedISA = isaName == "native" ? getUKernelISA("native") : std::string(isaName);
    if (PackedLinearOp::getISALevel(resolvedISA) < 0) {
      module.emitError() << "sqz-materialize: unknown isa '" << isaName
                         << "' (expected native, generic, avx2, avx512 or avx512vnni)";
      return signalPassFailure();
    }
    if (act != "auto" && act != "f32" && act != "int8") {
      module.emitError() << "sqz-materialize: unknown act '" << act
                         << "' (expected auto, f32 or int8)";
      return signalPassFailure();
    }
    // auto: int8 activations where that path is the faster one (the VNNI kernels; without
    // VNNI the int8 path is the portable scalar code). docs/performance.md has the numbers.
    actInt8 = act == "int8" ||
              (act == "auto" && PackedLinearOp::getISALevel(resolvedISA) >= SQZ_UK_ISA_AVX512VNNI);
    enabled.clear();
    if (formats.empty()) {
      for (const char *f : kDefaultFormats)
        enabled.insert(f);
    }
    for (const std::string &f : formats) {
      if (!llvm::is_contained(kAllFormats, StringRef(f))) {
        InFlightDiagnostic d = module.emitError()
                               << "sqz-materialize: unknown format '" << f
                               << "' in formats (expected ";
        llvm::interleaveComma(kAllFormats, d);
        d << ")";
        return signalPassFailure();
      }
      enabled.insert(f);
    }

    SmallVector<Operation *> linears;
    module.walk([&](Operation *op) {
      if (isa<LinearOp, QuantLinearOp, SparseLinearOp>(op))
        linears.push_back(op);
      else if (isa<OutlierLinearOp>(op))
        op->emitRemark() << "stays on the run-time dequantization path: there is no "
                            "microkernel for the LLM.int8() outlier form";
    });
    for (Operation *op : linears)
      if (failed(materialize(op)))
        return signalPassFailure();
  }

  /// Rewrites `op` into an sqz.packed_linear when a kernel reads its form; success also when
  /// it stays (with a remark for a compressed linear).
  LogicalResult materialize(Operation *op) {
    PackRequest req;
    std::string why;
    Value input = op->getOperand(0), bias;
    auto resultTy = cast<RankedTensorType>(op->getResult(0).getType());
    bool compressed = !isa<LinearOp>(op);
    auto stay = [&](const Twine &reason) {
      if (compressed)
        op->emitRemark() << "stays on the run-time dequantization path: " << reason;
      return success();
    };
    if (!cast<RankedTensorType>(input.getType()).getElementType().isF32() ||
        !resultTy.getElementType().isF32())
      return stay("the microkernels take f32 activations");

    sqz_uk_logical &w = req.logical;
    std::vector<char> *storage = req.storage;
    auto bytesOf = [&](Value v, int slot) -> const char * {
      std::optional<ArrayRef<char>> bytes = getConstantBytes(v, storage[slot]);
      return bytes ? bytes->data() : nullptr;
    };
    if (auto linear = dyn_cast<LinearOp>(op)) {
      if (!enabled.count("f32"))
        return success();
      bias = linear.getBias();
      w.format = SQZ_UK_F32;
      w.N = linear.getOutFeatures();
      w.K = linear.getInFeatures();
      // The f32 kernel reads panels of SQZ_UK_N_STEP (64) columns, padding N up to a multiple
      // of it: a weight that would grow by more than 1/8 (a narrow output such as a
      // classifier of a few classes) keeps the generated code and its smaller weight.
      int64_t paddedN = (w.N + SQZ_UK_N_STEP - 1) / SQZ_UK_N_STEP * SQZ_UK_N_STEP;
      if (paddedN * 8 > w.N * 9)
        return success();
      w.group = w.K;
      w.weights = reinterpret_cast<const float *>(bytesOf(linear.getWeight(), 0));
      if (!w.weights)
        return stay("the weight's data is not available");
      req.kernel = "f32";
      req.key = getResourceKey(linear.getWeight());
    } else if (auto quant = dyn_cast<QuantLinearOp>(op)) {
      bias = quant.getBias();
      QuantAttr q = quant.getQuant();
      switch (q.getFormat()) {
      case QuantFormat::Int8:
        req.kernel = "int8";
        w.format = SQZ_UK_INT8;
        break;
      case QuantFormat::Int4:
        req.kernel = "int4";
        w.format = SQZ_UK_INT4;
        break;
      case QuantFormat::NF4:
        req.kernel = "nf4";
        w.format = SQZ_UK_NF4;
        break;
      case QuantFormat::Ternary:
        req.kernel = enabled.count("ternary2") || !enabled.count("ternary16") ? "ternary2"
                                                                              : "ternary16";
        w.format = req.kernel == "ternary2" ? SQZ_UK_TERNARY2 : SQZ_UK_TERNARY16;
        break;
      case QuantFormat::Int3:
      case QuantFormat::Int2:
        return stay(Twine("there is no ") + stringifyQuantFormat(q.getFormat()) +
                    " microkernel");
      }
      if (!enabled.count(req.kernel))
        return stay("format '" + req.kernel + "' is not in sqz-materialize's formats");
      w.asymmetric = !q.getSymmetric();
      // The packer keeps the fp32 path for weights the int8 path does not take.
      w.act_int8 = actInt8 && (w.format == SQZ_UK_INT8 || w.format == SQZ_UK_INT4 ||
                               w.format == SQZ_UK_NF4);
      w.N = quant.getOutFeatures();
      w.K = quant.getInFeatures();
      w.group = quant.getGroupSize();
      w.codes = reinterpret_cast<const uint8_t *>(bytesOf(quant.getCodes(), 0));
      w.scales = reinterpret_cast<const float *>(bytesOf(quant.getScales(), 1));
      if (quant.getZeros())
        w.zeros = reinterpret_cast<const uint8_t *>(bytesOf(quant.getZeros(), 2));
      if (!w.codes || !w.scales || (quant.getZeros() && !w.zeros))
        return stay("the codes' data is not available");
      req.key = getResourceKey(quant.getCodes());
    } else {
      auto sparse = cast<SparseLinearOp>(op);
      bias = sparse.getBias();
      SparsityAttr s = sparse.getSparsity();
      if (s.getN() != 2 || s.getM() != 4)
        return stay(Twine("there is no ") + Twine(s.getN()) + ":" + Twine(s.getM()) +
                    " sparse microkernel (2:4 only)");
      w.N = sparse.getOutFeatures();
      w.K = sparse.getInFeatures();
      if (w.K % 4 != 0)
        return stay("the 2:4 kernels need the input features (" + Twine(w.K) +
                    ") to be a multiple of 4 (no dense tail)");
      w.indices = reinterpret_cast<const uint8_t *>(bytesOf(sparse.getIndices(), 0));
      if (std::optional<QuantAttr> q = sparse.getQuant()) {
        if (q->getFormat() != QuantFormat::Int4)
          return stay(Twine("there is no 2:4 ") + stringifyQuantFormat(q->getFormat()) +
                      " microkernel (2:4 with int4 values only)");
        req.kernel = "sp24_int4";
        w.format = SQZ_UK_SP24_INT4;
        w.asymmetric = !q->getSymmetric();
        w.group = sparse.getGroupSize();
        w.codes = reinterpret_cast<const uint8_t *>(bytesOf(sparse.getValues(), 1));
        w.scales = reinterpret_cast<const float *>(bytesOf(sparse.getScales(), 2));
        if (sparse.getZeros())
          w.zeros = reinterpret_cast<const uint8_t *>(bytesOf(sparse.getZeros(), 3));
        if (!w.codes || !w.scales || (sparse.getZeros() && !w.zeros))
          return stay("the codes' data is not available");
      } else {
        if (!sparse.getValues().getType().getElementType().isF32())
          return stay("the 2:4 kernel takes f32 values");
        req.kernel = "sp24_f32";
        w.format = SQZ_UK_SP24_F32;
        w.group = w.K;
        w.values = reinterpret_cast<const float *>(bytesOf(sparse.getValues(), 1));
        if (!w.values)
          return stay("the values' data is not available");
      }
      if (!w.indices)
        return stay("the indices' data is not available");
      if (!enabled.count(req.kernel))
        return stay("format '" + req.kernel + "' is not in sqz-materialize's formats");
      req.key = getResourceKey(sparse.getValues());
    }

    char error[512] = {0};
    if (!sqz_uk_can_pack(&w, error, sizeof(error)))
      return stay(Twine("the ") + req.kernel + " kernel cannot take it: " + error);
    // 64-byte units: the CPU kernels' cache lines.
    return replaceWithPacked(
        op, req, "", sqz_uk_packed_bytes(&w), 64,
        [&](uint8_t *out) { return sqz_uk_pack(&w, out); }, "." + req.kernel, input, bias,
        resolvedISA);
  }

  //===--------------------------------------------------------------------===//
  // target=cuda: the CUDA kernels (lib/Kernels/CUDA/CudaKernels.h, sqz_cuk_pack).
  //===--------------------------------------------------------------------===//

  LogicalResult runCUDA(ModuleOp module) {
    if (PackedLinearOp::getCUDAArch(arch) < 0)
      return module.emitError() << "sqz-materialize: unknown arch '" << arch
                                << "' for target cuda (expected sm_80, sm_90 or sm_90a)";
    constexpr const char *kCUDAFormats[] = {"f16",      "int8",      "int4", "nf4",
                                            "ternary2", "sp24_f16", "sp24_int4"};
    enabled.clear();
    if (formats.empty())
      for (const char *f : kCUDAFormats)
        enabled.insert(f);
    for (const std::string &f : formats) {
      if (!llvm::is_contained(kCUDAFormats, StringRef(f))) {
        InFlightDiagnostic d = module.emitError()
                               << "sqz-materialize: unknown CUDA format '" << f
                               << "' in formats (expected ";
        llvm::interleaveComma(kCUDAFormats, d);
        return d << ")";
      }
      enabled.insert(f);
    }
    SmallVector<Operation *> linears;
    module.walk([&](Operation *op) {
      if (isa<LinearOp, QuantLinearOp, SparseLinearOp>(op))
        linears.push_back(op);
      else if (isa<OutlierLinearOp>(op))
        op->emitRemark() << "stays on the run-time dequantization path: there is no CUDA "
                            "kernel for the LLM.int8() outlier form";
    });
    for (Operation *op : linears)
      if (failed(materializeCUDA(op)))
        return failure();
    return success();
  }

  /// The logical form (sqz_uk_logical) of `op` for the CUDA packer, or a reason in `why`.
  bool getCUDALogical(Operation *op, PackRequest &req, Value &bias, std::string &why) {
    sqz_uk_logical &w = req.logical;
    auto bytesOf = [&](Value v, int slot) -> const char * {
      std::optional<ArrayRef<char>> bytes = getConstantBytes(v, req.storage[slot]);
      return bytes ? bytes->data() : nullptr;
    };
    if (auto linear = dyn_cast<LinearOp>(op)) {
      bias = linear.getBias();
      w.format = SQZ_UK_F32;
      w.N = linear.getOutFeatures();
      w.K = linear.getInFeatures();
      w.group = w.K;
      w.weights = reinterpret_cast<const float *>(bytesOf(linear.getWeight(), 0));
      req.key = getResourceKey(linear.getWeight());
      if (!w.weights)
        why = "the weight's data is not available";
      return w.weights != nullptr;
    }
    if (auto quant = dyn_cast<QuantLinearOp>(op)) {
      bias = quant.getBias();
      QuantAttr q = quant.getQuant();
      switch (q.getFormat()) {
      case QuantFormat::Int8:
        w.format = SQZ_UK_INT8;
        break;
      case QuantFormat::Int4:
        w.format = SQZ_UK_INT4;
        break;
      case QuantFormat::NF4:
        w.format = SQZ_UK_NF4;
        break;
      case QuantFormat::Ternary:
        w.format = SQZ_UK_TERNARY2;
        break;
      case QuantFormat::Int3:
      case QuantFormat::Int2:
        why = ("there is no " + stringifyQuantFormat(q.getFormat()) + " CUDA kernel").str();
        return false;
      }
      w.asymmetric = !q.getSymmetric();
      w.N = quant.getOutFeatures();
      w.K = quant.getInFeatures();
      w.group = quant.getGroupSize();
      w.codes = reinterpret_cast<const uint8_t *>(bytesOf(quant.getCodes(), 0));
      w.scales = reinterpret_cast<const float *>(bytesOf(quant.getScales(), 1));
      if (quant.getZeros())
        w.zeros = reinterpret_cast<const uint8_t *>(bytesOf(quant.getZeros(), 2));
      req.key = getResourceKey(quant.getCodes());
      if (!w.codes || !w.scales || (quant.getZeros() && !w.zeros)) {
        why = "the codes' data is not available";
        return false;
      }
      return true;
    }
    auto sparse = cast<SparseLinearOp>(op);
    bias = sparse.getBias();
    SparsityAttr s = sparse.getSparsity();
    if (s.getN() != 2 || s.getM() != 4) {
      why = ("there is no " + Twine(s.getN()) + ":" + Twine(s.getM()) +
             " sparse CUDA kernel (2:4 only)")
                .str();
      return false;
    }
    w.N = sparse.getOutFeatures();
    w.K = sparse.getInFeatures();
    w.indices = reinterpret_cast<const uint8_t *>(bytesOf(sparse.getIndices(), 0));
    req.key = getResourceKey(sparse.getValues());
    if (std::optional<QuantAttr> q = sparse.getQuant()) {
      if (q->getFormat() != QuantFormat::Int4) {
        why = ("there is no 2:4 " + stringifyQuantFormat(q->getFormat()) +
               " CUDA kernel (2:4 with int4 values only)")
                  .str();
        return false;
      }
      w.format = SQZ_UK_SP24_INT4;
      w.asymmetric = !q->getSymmetric();
      w.group = sparse.getGroupSize();
      w.codes = reinterpret_cast<const uint8_t *>(bytesOf(sparse.getValues(), 1));
      w.scales = reinterpret_cast<const float *>(bytesOf(sparse.getScales(), 2));
      if (sparse.getZeros())
        w.zeros = reinterpret_cast<const uint8_t *>(bytesOf(sparse.getZeros(), 3));
      if (!w.codes || !w.scales || (sparse.getZeros() && !w.zeros)) {
        why = "the codes' data is not available";
        return false;
      }
    } else {
      if (!sparse.getValues().getType().getElementType().isF32()) {
        why = "the 2:4 kernel takes f32 values";
        return false;
      }
      w.format = SQZ_UK_SP24_F32;
      w.group = w.K;
      w.values = reinterpret_cast<const float *>(bytesOf(sparse.getValues(), 1));
      if (!w.values) {
        why = "the values' data is not available";
        return false;
      }
    }
    if (!w.indices) {
      why = "the indices' data is not available";
      return false;
    }
    return true;
  }

  /// `op` as an sqz.packed_linear of a CUDA blob when sqz_cuk_can_pack takes it; success
  /// also when it stays (with a remark for a compressed linear).
  LogicalResult materializeCUDA(Operation *op) {
    bool compressed = !isa<LinearOp>(op);
    auto stay = [&](const Twine &reason) {
      if (compressed)
        op->emitRemark() << "stays on the run-time dequantization path: " << reason;
      else
        op->emitRemark() << "stays on the generated code: " << reason;
      return success();
    };
    Value input = op->getOperand(0);
    auto resultTy = cast<RankedTensorType>(op->getResult(0).getType());
    if (!cast<RankedTensorType>(input.getType()).getElementType().isF32() ||
        !resultTy.getElementType().isF32())
      return compressed ? stay("the CUDA kernels take f32 activations") : success();
    PackRequest req;
    Value bias;
    std::string why;
    if (!getCUDALogical(op, req, bias, why))
      return stay(why);
    const sqz_uk_logical &w = req.logical;
    int32_t format = sqz_cuk_format_of(&w);
    const char *name = sqz_cuk_format_name(format);
    if (!name)
      return stay("there is no CUDA kernel for these weights");
    req.kernel = name;
    if (!enabled.count(req.kernel))
      return compressed ? stay("format '" + req.kernel + "' is not in sqz-materialize's formats")
                        : success();
    char error[512] = {0};
    if (!sqz_cuk_can_pack(&w, error, sizeof(error)))
      return stay(Twine("the CUDA ") + req.kernel + " kernel cannot take it: " + error);
    // 256-byte units: the kernels want their blob 256-byte aligned in device memory
    // (CudaKernels.h).
    return replaceWithPacked(
        op, req, "CUDA ", sqz_cuk_packed_bytes(&w), 256,
        [&](uint8_t *out) { return sqz_cuk_pack(&w, out); }, ".cuda_" + req.kernel, input, bias,
        arch);
  }

  std::string resolvedISA;
  bool actInt8 = false;
  llvm::StringSet<> enabled;
};

} // namespace
