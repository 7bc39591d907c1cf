//===- Passes.td - CUDA target passes ----------------------*- tablegen -*-===//
//
// The passes of the `sqz-lower-to-cuda` pipeline (docs/CUDA.md).
//
//===----------------------------------------------------------------------===//

#ifndef SQZ_TARGET_CUDA_PASSES_TD
#define SQZ_TARGET_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def SqzCUDALowerKernels : Pass<"sqz-cuda-lower-kernels", "::mlir::ModuleOp"> {
  let summary = "Launch the CUDA kernels of sqz.packed_linear ops (CUDA blobs)";
  let description = [{
    Runs on tensors, before `convert-sqz-to-linalg`. Each `sqz.packed_linear` whose `isa` is
    a GPU architecture (`sqz-materialize{target=cuda}`) becomes a launch of a wrapper
    `gpu.func @<symbol>_kernel` in the `gpu.module @sqz_cuda_kernels` (until bufferization
    and deallocation are done, a `func.call` of a private declaration of that name with the
    launch shape in `sqz.cuda_launch`; `sqz-cuda-map-to-gpu` makes it the
    `gpu.launch_func`: the deallocation pipeline refuses a launch_func), which calls
    the device function `llvm.func @<symbol>` (lib/Kernels/CUDA/CudaKernels.h; its bitcode
    is linked by `sqz-cuda-serialize`) from every thread. `<symbol>`, the grid, the block
    and the dynamic shared memory are those `sqz_cuk_plan` returns for the blob's header,
    the op's M (the product of the input's leading dims) and the architecture. With a
    dynamic M there are three launches, one per range of M with its own variant (M <= 8,
    9..127, >= 128; planned at the range's first M), each of a declaration named
    `<wrapper>_dynamic_grid` that takes grid x first: ceil(M / rows per block) computed on
    the host when M is in the range, else 0 (an empty grid: nothing runs). The arguments
    are device addresses (i64) of the blob (a private constant `memref.global` aligned to 256 bytes, externalized into the weights buffer), of x (rows
    of K with stride ldx), of the bias (0 if none) and of y (a fresh [M, N] buffer), M, ldx
    and ldy = N. A CPU blob, a dynamic last dim or a header the planner refuses is an error.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::tensor::TensorDialect", "::mlir::LLVM::LLVMDialect",
                           "::mlir::arith::ArithDialect"];
}

def SqzCUDAMapToGPU : Pass<"sqz-cuda-map-to-gpu", "::mlir::func::FuncOp"> {
  let summary = "Map every linalg op and memref.copy on buffers onto a gpu.launch";
  let description = [{
    Runs after bufferization, on the host function. The CUDA kernels' launches that
    `sqz-cuda-lower-kernels` left as marked calls (`sqz.cuda_launch`) become
    `gpu.launch_func`s of their wrappers. Each linalg op (and each
    `memref.copy`, as a copy) becomes one `gpu.launch`. A dynamic loop size (ABI 3 models)
    is computed on the host from the buffers' dims (`memref.dim`) before the launch, with
    the grid derived from it; the kernel reads it as a value from above (an argument after
    outlining), and a size of 0 gives an empty grid. For choosing the kernel below, a
    dynamic size counts as 1024:

    * A reduction whose payload combines the output with one associative operation
      (`arith.addf`, `mulf`, `maximumf`, `minimumf`, `maxnumf`, `minnumf`, `addi`, `muli`,
      `maxsi`, `minsi`, `maxui`, `minui`, `andi`, `ori`, `xori`) on f32 or i32 and whose
      reduction space has at least `min-block-reduce` points (softmax and norm row sums and
      maxima, matmul dot products) gets **one block per output element**: the block's
      threads (the next power of two of the reduction size, between 32 and
      `max-block-size`) stride over the reduction space, each folding its part into a
      partial value, then `gpu.all_reduce` (warp shuffles plus a shared-memory exchange
      between warps) combines them, and thread 0 folds the total into the output.
    * A contraction of that kind with `addf` (a matmul, batch matmul or convolution: two
      inputs, the added value computed from one element of each, a parallel dim `m` only
      the first input indexes and a dim `n` only the second does) whose `m` and `n` are
      both at least `min-shared-tile` gets **64x64 block tiles staged in shared memory**:
      a block of 256 threads, each a 4x4 register tile of the block's tile, loops over the
      reduction space 16 points at a time; per step its threads copy the 16 points of the
      block's 64 rows of the first input and 64 columns of the second into two shared
      tiles (consecutive threads on consecutive elements of the input's innermost dim),
      `gpu.barrier`, each thread adds the step's products from shared memory in order,
      `gpu.barrier`. Out-of-range rows, columns and points are clamped for the copies and
      never used.
    * Another contraction of that kind, with `m` and `n` at least 4, with at
      least `min-tiled-threads` 4x4 tiles of (m, n), or with fewer than `min-block-reduce`
      reduction points, gets **one 4x4 register tile per thread**: the thread's rows and
      columns are strided by the tile counts (neighbouring threads read neighbouring
      elements), it loads 4 elements of each input per reduction point and accumulates 16
      outputs from their initial values in the sequential order.
    * Any other op gets **one thread per output element** (point of the parallel loops),
      `block-size` threads a block: the thread loads its inputs, runs the payload (over
      the reduction loops sequentially, if any) and stores its outputs.

    Inputs are read with `memref.load` at the indexing maps' positions and `linalg.index`
    becomes the loop index, so any payload (gathers included) works unchanged. After
    mapping, a loop or store left on the host that returns nothing and allocates nothing (a scatter's sequential loop, whose updates apply in
    order) runs on a single GPU thread (a 1x1 launch); a host `memref.load` whose value only
    kernels use (a scalar a payload captures, e.g. OneHot's on/off values) moves into each of
    those kernels, unless something from the load through the last of them may change the
    buffer (a write, an allocation, unknown effects, its address taken; a deallocation in
    between moves after the last kernel); anything else left on the host that would read or
    write memory is an error: every buffer lives on the device.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads of a block of the one-thread-per-element kernels">,
    Option<"maxBlockSize", "max-block-size", "int64_t", /*default=*/"256",
           "Most threads of a block-reduction kernel">,
    Option<"minBlockReduce", "min-block-reduce", "int64_t", /*default=*/"16",
           "Smallest reduction size reduced by a whole block (smaller ones: one thread)">,
    Option<"minTiledThreads", "min-tiled-threads", "int64_t", /*default=*/"2048",
           "Fewest 4x4 register tiles for which a contraction gets a tile per thread "
           "(fewer: a block per output element)">,
    Option<"minSharedTile", "min-shared-tile", "int64_t", /*default=*/"32",
           "Shortest m and n for which a contraction gets 64x64 block tiles staged in "
           "shared memory">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::scf::SCFDialect",
                           "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::linalg::LinalgDialect"];
}

def SqzCUDAExpandMath : Pass<"sqz-cuda-expand-math"> {
  let summary = "Expand math functions into arithmetic so that device code needs no libdevice";
  let description = [{
    Rewrites the math functions the NVPTX backend has no instruction for into polynomial
    approximations and arithmetic (MLIR's math expansions; the table is in docs/CUDA.md):
    `exp`, `expm1`, `log`, `log2`, `log1p`, `tanh`, `erf`, `erfc`, `sin`, `cos`, `atan`,
    `atan2`, `asin`, `acos`, `cbrt` by polynomials; `tan`, `sinh`, `cosh`, `asinh`,
    `acosh`, `atanh`, `exp2`, `powf`, `fpowi`, `ipowi`, `rsqrt`, `round`, `roundeven`
    into other ops, `log10` into `log`; f16/bf16 operands are computed in f32. `sqrt`, `floor`,
    `ceil` and `trunc` become NVVM intrinsics (`llvm.nvvm.sqrt.rn.f`, ...: `sqrt.rn.f32`,
    `cvt.rmi`...), `absf` and `copysign` sign-bit masks and `arith.remf` `x - trunc(x/y)*y`
    (`convert-gpu-to-nvvm` would turn all of them into libdevice calls); the rest (`fma`,
    `minimumf`, ...) becomes LLVM intrinsics the backend selects. Scalar f64 functions get
    f64 code of their own (lib/Target/CUDA/MathF64.cpp): exp and log (and what expands into
    them) always; `tanh`, `sin`, `cos`, `erf`, `erfc`, `atan`, `atan2`, `asin`, `acos`,
    `expm1`, `log1p` and `cbrt` unless `libdevice-functions` is set: then they stay, for
    libdevice (`sqz-cuda-libdevice-calls`, `sqz-cuda-serialize{libdevice=...}`) or,
    emulated, the host's libm. A function left that has no code (`sincos`, f64 vectors) is
    an error naming it.
  }];
  let options = [
    Option<"libdeviceFunctions", "libdevice-functions", "bool", /*default=*/"false",
           "Leave the f64 functions libdevice has (tanh, sin, erf...) for libdevice or the "
           "host's libm instead of expanding them">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect", "::mlir::LLVM::LLVMDialect"];
}

def SqzCUDALibdeviceCalls : Pass<"sqz-cuda-libdevice-calls", "::mlir::gpu::GPUModuleOp"> {
  let summary = "The math functions sqz-cuda-expand-math left (f64 tanh, sin, erf...) as libdevice calls";
  let description = [{
    In a gpu.module after `sqz-cuda-expand-math{libdevice-functions}`: each math op left on
    f64 (but `fma`, an instruction) becomes a call of its libdevice function (`__nv_tanh`,
    `__nv_sin`, ...; MLIR's libdevice patterns), which `sqz-cuda-serialize{libdevice=...}`
    links. Runs before `convert-math-to-llvm`, which would turn some of them into LLVM
    intrinsics the NVPTX backend cannot select, and leaves every other op alone (f32 `fma`
    stays an intrinsic instead of `__nv_fmaf`). A math op the patterns have no libdevice
    function for is an error naming it.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def SqzCUDAEmulateLaunches : Pass<"sqz-cuda-emulate-launches", "::mlir::func::FuncOp"> {
  let summary = "Run each gpu.launch on the host as loops (checks generated kernels without a GPU)";
  let description = [{
    For checking the kernels `sqz-cuda-map-to-gpu` generates without a GPU (the lit tests
    and `sqz-compile --emulate-gpu`): each `gpu.launch` becomes loops over its blocks (z
    outermost). The body is split at its `gpu.barrier` and `gpu.all_reduce` ops, and each
    piece runs for every thread of the block (x fastest) before the next one starts, which
    is what a GPU computes for a kernel without data races between synchronization points.
    An `scf.for` that contains a synchronization (a shared-memory tiled kernel's loop over
    its depth tiles) must have bounds that are the same for every thread: it runs on the
    host around its pieces, its iteration values kept per thread. A scalar a thread computes
    in one piece and uses in a later one is kept in a per-thread buffer; `gpu.all_reduce`
    folds the threads' values in thread order (a GPU uses a tree: float results may differ
    in rounding); workgroup attributions become host buffers; the NVVM intrinsics
    `sqz-cuda-expand-math` emits (`sqrt.rn`, `floor`, `ceil`, `trunc`) become the host's
    math ops (the same IEEE results). A synchronization in a branch or in a loop whose
    bounds depend on the thread, a custom `gpu.all_reduce` region, subgroup operations,
    clusters, dynamic shared memory and asynchronous launches are errors.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::math::MathDialect"];
}

def SqzCUDADeviceMemory : Pass<"sqz-cuda-device-memory", "::mlir::func::FuncOp"> {
  let summary = "Allocate the host function's buffers on the device";
  let description = [{
    After `sqz-cuda-map-to-gpu`: every `memref.alloc` / `memref.dealloc` of the host
    function becomes a synchronous `gpu.alloc` / `gpu.dealloc`; `gpu-async-region` (after
    outlining, in `sqz-lower-to-cuda`) queues them with the launches on the call's one stream,
    and `gpu-to-llvm` turns them into mgpuMemAlloc / mgpuMemFree calls on that stream. Constant globals read by a kernel (`memref.get_global`, with the
    view ops over it) are moved into the `gpu.launch` body, so that outlining copies the
    global into the device module.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::memref::MemRefDialect"];
}

def SqzCUDAMergeKernelModules : Pass<"sqz-cuda-merge-kernel-modules", "::mlir::ModuleOp"> {
  let summary = "Merge the outlined gpu.modules into one (one PTX module per model)";
  let description = [{
    `gpu-kernel-outlining` puts each kernel in its own `gpu.module`. This pass moves every
    kernel and global into the first module (symbols with the same name are copies of one
    global and are kept once), erases the others and updates the `gpu.launch_func`
    references, so that the model embeds, loads and ships one PTX module.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}


def SqzCUDASerialize : Pass<"sqz-cuda-serialize", "::mlir::ModuleOp"> {
  let summary = "Compile the NVVM-dialect gpu.module to PTX with LLVM's NVPTX backend";
  let description = [{
    Replaces each `gpu.module` (lowered to the NVVM and LLVM dialects) with a `gpu.binary`
    holding one `#gpu.object` in assembly format: the module translated to LLVM IR, linked
    with the NVPTX bitcode of the CUDA kernels it calls (`sqz_cuk_*` declarations; only the
    functions needed, internalized), optimized at `opt-level` and compiled to PTX by the
    NVPTX backend for `chip` with `features` (the PTX ISA version). Unlike the upstream
    `gpu-module-to-binary`, it never looks for a CUDA toolkit: the `__nv_*` functions the
    module calls (f64 functions `sqz-cuda-expand-math` has no code for) come from the
    libdevice bitcode named by `libdevice` (only those, internalized; NVVMReflect resolves
    its `__nvvm_reflect` queries: no flush to zero), if one is given; a call of a function
    the module does not define is an error that names it. The host side loads the PTX with
    `mgpuModuleLoadJIT` (gpu-to-llvm and the gpu.binary translation).
  }];
  let options = [
    Option<"libdevice", "libdevice", "std::string", /*default=*/"\"\"",
           "libdevice bitcode (libdevice.10.bc of a CUDA toolkit) for the __nv_* functions "
           "the device code calls (empty: none)">,
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_80\"", "GPU architecture (sm_80, sm_90, sm_90a)">,
    Option<"features", "features", "std::string", /*default=*/"\"\"", "NVPTX features (default: the PTX version for chip)">,
    Option<"optLevel", "opt-level", "int64_t", /*default=*/"3", "LLVM optimization level of the device code">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

#endif // SQZ_TARGET_CUDA_PASSES_TD
