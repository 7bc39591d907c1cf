//===- ExternalizeWeights.cpp - Large constants into the weights file -----===//
//
// `sqz-cpu-externalize-weights` runs after bufferization. It moves every large constant
// `memref.global` the entry function reads into the artifact's safetensors weights file (see
// lib/Runtime/Safetensors.h) and gives the entry one more argument, the base of that file's
// data section (memref<N x i8>, N its size); each `memref.get_global` of a moved global becomes
// a `memref.view` of that argument at the tensor's offset. The layout is the one the writer
// produces (planSafetensorsLayout), so the offsets compiled into the code and the file agree.
// The module gets `sqz.weights_file = "<file name>"`, which makes `sqz-cpu-emit-c-abi` declare
// ABI version 2 (one buffer more after the outputs).
//
//===----------------------------------------------------------------------===//

#include "sqz/Target/CPU/Passes.h"

#include "Runtime/Safetensors.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Path.h"

namespace mlir::sqz {
#define GEN_PASS_DEF_SQZCPUEXTERNALIZEWEIGHTS
#include "sqz/Target/CPU/Passes.h.inc"
} // namespace mlir::sqz

using namespace mlir;
using namespace mlir::sqz;
namespace rt = ::sqz::runtime;

/// The safetensors dtype of `type`, or "" when it has none (i1, i4, index...).
static std::string getSafetensorsDType(Type type) {
  if (type.isF32())
    return "F32";
  if (type.isF16())
    return "F16";
  if (type.isBF16())
    return "BF16";
  if (type.isF64())
    return "F64";
  if (auto intType = dyn_cast<IntegerType>(type)) {
    // Signless integers: the importer keeps signedness in the ops, not the type, so the
    // name only needs the width; I* is the conventional spelling.
    switch (intType.getWidth()) {
    case 8:
      return "I8";
    case 16:
      return "I16";
    case 32:
      return "I32";
    case 64:
      return "I64";
    default:
      return "";
    }
  }
  return "";
}

/// The bytes of a constant's value in memory order, or none if they are not directly
/// available (e.g. a splat, whose memory form is larger than its storage).
static std::optional<ArrayRef<char>> getRawBytes(Attribute value) {
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    return blob->getData();
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    if (dense.isSplat())
      return std::nullopt;
    return dense.getRawData();
  }
  return std::nullopt;
}

namespace {
struct Candidate {
  mutable memref::GlobalOp global;
  std::string name;
  std::string dtype;
  ArrayRef<char> bytes;
};

struct SqzCPUExternalizeWeightsPass
    : public mlir::sqz::impl::SqzCPUExternalizeWeightsBase<SqzCPUExternalizeWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (weightsFile.empty())
      return;
    ModuleOp module = getOperation();
    auto fn = module.lookupSymbol<func::FuncOp>(entry);
    if (!fn) {
      module.emitError() << "entry function '" << entry << "' not found";
      return signalPassFailure();
    }

    // Globals read only by the entry function, large enough, with plain bytes.
    SymbolTableCollection symbols;
    SymbolUserMap users(symbols, module);
    std::vector<Candidate> candidates;
    llvm::StringSet<llvm::MallocAllocator> names;
    for (auto global : module.getOps<memref::GlobalOp>()) {
      if (!global.getConstant() || !global.getInitialValue())
        continue;
      MemRefType type = global.getType();
      if (!type.hasStaticShape() || !type.getLayout().isIdentity())
        continue;
      std::string dtype = getSafetensorsDType(type.getElementType());
      if (dtype.empty())
        continue;
      std::optional<ArrayRef<char>> bytes = getRawBytes(*global.getInitialValue());
      size_t expected = type.getNumElements() * rt::safetensorsDTypeSize(dtype);
      if (!bytes || bytes->size() != expected || expected < static_cast<size_t>(minBytes))
        continue;
      bool onlyEntry = llvm::all_of(users.getUsers(global), [&](Operation *user) {
        return isa<memref::GetGlobalOp>(user) && user->getParentOfType<func::FuncOp>() == fn;
      });
      if (!onlyEntry)
        continue;
      // Name: the resource key (the ONNX initializer it came from) when there is one.
      std::string name = global.getSymName().str();
      if (auto resource = dyn_cast<DenseResourceElementsAttr>(*global.getInitialValue()))
        name = resource.getRawHandle().getKey().str();
      std::string unique = name;
      for (int i = 1; !names.insert(unique).second; ++i)
        unique = name + "#" + std::to_string(i);
      candidates.push_back({global, unique, dtype, *bytes});
    }
    if (candidates.empty())
      return;

    // Globals aligned beyond their element size (the microkernels' packed blobs: 64 bytes)
    // keep that alignment in the file. The writer lays tensors out by decreasing element size
    // and in the given order within one size (Safetensors.h), after a 64-byte-aligned data
    // start: so the aligned globals go first within their size and get a padding tensor of
    // their dtype in front where the running offset is not yet a multiple of their alignment.
    auto elementBytes = [](const Candidate &c) { return rt::safetensorsDTypeSize(c.dtype); };
    auto alignmentOf = [](const Candidate &c) -> uint64_t {
      std::optional<uint64_t> a = c.global.getAlignment();
      return a ? *a : 1;
    };
    std::stable_sort(candidates.begin(), candidates.end(),
                     [&](const Candidate &a, const Candidate &b) {
                       if (elementBytes(a) != elementBytes(b))
                         return elementBytes(a) > elementBytes(b);
                       return alignmentOf(a) > elementBytes(a) && alignmentOf(b) <= elementBytes(b);
                     });
    std::vector<std::string> padNames;
    std::vector<std::vector<char>> padBytes;
    std::vector<rt::SafetensorsTensor> tensors;
    uint64_t running = 0;
    for (const Candidate &c : candidates) {
      uint64_t align = alignmentOf(c), eltBytes = elementBytes(c);
      if (align > eltBytes && running % align != 0) {
        uint64_t pad = align - running % align; // a multiple of eltBytes: both are powers of 2
        rt::SafetensorsTensor t;
        for (int i = 0;; ++i) {
          t.entry.name = "__sqz_pad__#" + std::to_string(i);
          if (names.insert(t.entry.name).second)
            break;
        }
        t.entry.dtype = c.dtype;
        t.entry.shape = {static_cast<int64_t>(pad / eltBytes)};
        padBytes.emplace_back(pad, 0);
        t.bytes = padBytes.back().data();
        tensors.push_back(std::move(t));
        running += pad;
      }
      rt::SafetensorsTensor t;
      t.entry.name = c.name;
      t.entry.dtype = c.dtype;
      ArrayRef<int64_t> shape = c.global.getType().getShape();
      t.entry.shape.assign(shape.begin(), shape.end());
      t.bytes = c.bytes.data();
      tensors.push_back(std::move(t));
      running += c.bytes.size();
    }
    std::vector<rt::SafetensorsEntry> layout;
    if (rt::Status s = rt::writeSafetensors(
            weightsFile, std::move(tensors), {{"format", "sqz-weights"}, {"entry", entry}},
            &layout);
        !s) {
      module.emitError() << s.message();
      return signalPassFailure();
    }
    llvm::StringMap<uint64_t> offsets;
    uint64_t total = 0;
    for (const rt::SafetensorsEntry &e : layout) {
      offsets[e.name] = e.begin;
      total = std::max(total, e.end);
    }
    for (const Candidate &c : candidates)
      if (offsets.lookup(c.name) % alignmentOf(c) != 0) {
        module.emitError() << "weights file: '" << c.name << "' was placed at offset "
                           << offsets.lookup(c.name) << ", not a multiple of its alignment "
                           << alignmentOf(c);
        return signalPassFailure();
      }

    // The new entry argument, after the outputs.
    MLIRContext *ctx = &getContext();
    auto baseType = MemRefType::get({static_cast<int64_t>(total)}, IntegerType::get(ctx, 8));
    unsigned argIndex = fn.getNumArguments();
    if (failed(fn.insertArgument(argIndex, baseType,
                                 DictionaryAttr::get(ctx, {NamedAttribute(
                                                              StringAttr::get(ctx, "sqz.name"),
                                                              StringAttr::get(ctx, "__weights__"))}),
                                 fn.getLoc()))) {
      fn.emitError() << "cannot add the weights argument";
      return signalPassFailure();
    }
    Value base = fn.getArgument(argIndex);
    for (const Candidate &c : candidates) {
      uint64_t offset = offsets.lookup(c.name);
      for (Operation *user : llvm::to_vector(users.getUsers(c.global))) {
        auto get = cast<memref::GetGlobalOp>(user);
        OpBuilder b(get);
        Value off = arith::ConstantIndexOp::create(b, get.getLoc(), offset);
        Value view = memref::ViewOp::create(b, get.getLoc(), get.getType(), base, off,
                                            ValueRange());
        get.replaceAllUsesWith(view);
        get.erase();
      }
      c.global.erase();
    }
    module->setAttr("sqz.weights_file",
                    StringAttr::get(ctx, llvm::sys::path::filename(weightsFile)));
  }
};
} // namespace
