# lit configuration of the Squeeze regression suite.
#
# SQZ_VERIFY_ROUNDTRIP=1 re-runs every sqz-opt invocation with --verify-roundtrip (print,
# re-parse and compare both the textual and the bytecode form after the pipeline). Only the
# tests that call sqz-opt run in that mode: the others would run unchanged.
#
# Run it on the build tree (`lit build/test`, `ninja -C build check-sqz`, ctest) or on the
# source tree (`lit test/`), which finds the build tree in $SQZ_BUILD_DIR or build/.

import os

def _configure():
    import lit.formats
    from lit.llvm import llvm_config
    from lit.llvm.subst import ToolSubst

    roundtrip = os.environ.get("SQZ_VERIFY_ROUNDTRIP", "0") not in ("", "0")
    config.name = "Squeeze"
    if roundtrip:
        import sys
        sys.path.insert(0, os.path.join(config.sqz_src_root, "test"))
        from roundtrip_format import RoundtripShTest
        config.test_format = RoundtripShTest(not llvm_config.use_lit_shell)
    else:
        config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
    config.suffixes = [".mlir", ".onnxtxt", ".test"]
    config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
    config.test_source_root = os.path.dirname(__file__)
    config.test_exec_root = os.path.join(config.sqz_obj_root, "test")

    # FileCheck variables defined in a CHECK-LABEL block stay local to it.
    config.environment["FILECHECK_OPTS"] = "--enable-var-scope --dump-input=fail"

    config.substitutions.append(("%PATH%", config.environment["PATH"]))
    config.substitutions.append(("%sqz_src_root", config.sqz_src_root))
    config.substitutions.append(("%sqz_obj_root", config.sqz_obj_root))
    config.substitutions.append(("%python", config.python3))

    shared = os.path.normpath(os.path.join(config.sqz_src_root, "..", "shared"))
    config.substitutions.append(("%shared", shared))
    if os.path.isdir(shared):
        config.available_features.add("shared")

    llvm_config.with_system_environment(["HOME", "TMPDIR"])
    llvm_config.use_default_substitutions()

    sqz_opt_extra = []
    if roundtrip:
        sqz_opt_extra.append("--verify-roundtrip")
        config.available_features.add("verify-roundtrip")

    tool_dirs = [config.sqz_tools_dir, config.llvm_tools_dir]
    tools = [
        ToolSubst("sqz-opt", extra_args=sqz_opt_extra, unresolved="fatal"),
        ToolSubst("sqz-translate", unresolved="fatal"),
        ToolSubst("sqz-compile", unresolved="fatal"),
        ToolSubst("sqz-run", unresolved="fatal"),
    ]
    llvm_config.add_tool_substitutions(tools, tool_dirs)
    llvm_config.with_environment("PATH", config.sqz_tools_dir, append_path=True)
    llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

    # Python with Debian's numpy/onnx/torch (never the pyenv interpreter).
    try:
        import subprocess
        subprocess.run([config.python3, "-c", "import numpy, onnx"], check=True,
                       capture_output=True)
        config.available_features.add("python-onnx")
    except Exception:
        pass

    # mlir-runner with its utility libraries (LLVM's lib next to its bin): tests that run
    # lowered code in-process, e.g. the generated GPU kernels emulated on the host.
    llvm_lib = os.path.join(os.path.dirname(config.llvm_tools_dir), "lib")
    runner_libs = [os.path.join(llvm_lib, "libmlir_%s.so" % n)
                   for n in ("runner_utils", "c_runner_utils")]
    if os.access(os.path.join(config.llvm_tools_dir, "mlir-runner"), os.X_OK) and all(
            os.path.exists(lib) for lib in runner_libs):
        config.available_features.add("mlir-runner")
        config.substitutions.append(("%mlir_runner_libs", "-shared-libs=" + ",".join(runner_libs)))

    # CUDA (docs/CUDA.md): `ptxas` when the CUDA toolkit's assembler exists (checks of the
    # generated PTX); `cuda-driver` when the CUDA driver library is installed and a GPU's
    # device node exists (tests that run on a GPU).
    ptxas = os.environ.get("SQZ_PTXAS", "/usr/local/cuda/bin/ptxas")
    if os.access(ptxas, os.X_OK):
        config.available_features.add("ptxas")
        config.substitutions.append(("%ptxas", ptxas))
    # `libdevice` when a CUDA toolkit's libdevice bitcode exists (f64 math functions on the
    # GPU; sqz-compile finds it the same way).
    libdevice = os.environ.get("SQZ_LIBDEVICE", "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc")
    if os.path.isfile(libdevice):
        config.available_features.add("libdevice")
        config.substitutions.append(("%libdevice", libdevice))
    # valgrind (memcheck), when installed: tests that check for reads of freed memory.
    import shutil
    if shutil.which("valgrind"):
        config.available_features.add("valgrind")
    import ctypes.util
    import glob
    if ctypes.util.find_library("cuda") and glob.glob("/dev/nvidia[0-9]*"):
        config.available_features.add("cuda-driver")
    elif os.environ.get("SQZ_LIT_REQUIRE_CUDA_DRIVER"):
        # ctest lit-gpu: its probe found a GPU, so the GPU tests must not be skipped.
        lit_config.fatal("SQZ_LIT_REQUIRE_CUDA_DRIVER is set but no CUDA driver library "
                         "(libcuda) or /dev/nvidia* device was found")


if hasattr(config, "sqz_obj_root"):
    _configure()
else:
    # Run on the source tree: load the build tree's site configuration, which sets the paths
    # and loads this file again.
    _build = os.environ.get(
        "SQZ_BUILD_DIR",
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    _site = os.path.join(_build, "test", "lit.site.cfg.py")
    if not os.path.exists(_site):
        lit_config.fatal("no %s: build first (scripts/build.sh)" % _site)
    lit_config.load_config(config, _site)
