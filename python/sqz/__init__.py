"""Squeeze from Python: compile ONNX models and run compiled artifacts with NumPy arrays.

    import numpy as np, sqz
    model = sqz.compile("models/mlp/mlp.onnx")          # or sqz.load("out/")
    y, = model.run(x=np.ones((4, 16), np.float32))      # outputs in manifest order
    outs = model(x=...)                                  # the same, as a dict by output name

A model compiled with dynamic dims (`--dynamic-dim`, or ONNX dim_params left free) takes any
size for them within their bounds; its outputs get the shapes the model computes from the
input shapes. `TensorInfo.shape` shows a dynamic dim as -1, `max_shape` its bound (-1: none)
and `dim_names` its name.

`compile` runs the `sqz-compile` tool (found through $SQZ_COMPILE, next to this package's build
tree, or on PATH) and loads the artifact; `load` opens an artifact directory with the runtime
(`libsqz_runtime`'s C API, see include/sqz-c/sqz.h). Every failure raises `sqz.Error` whose text
is the compiler's diagnostics or the runtime's error message.
"""

import os
import shutil
import subprocess
import tempfile

from ._runtime import ABI_VERSION, Error, Model as _Model, TensorInfo

__all__ = ["ABI_VERSION", "Error", "Module", "TensorInfo", "compile", "load", "find_compiler"]


class Module:
    """A loaded artifact. Immutable; `run` may be called from several threads at once (it
    releases the GIL while the model runs)."""

    def __init__(self, path, _tmpdir=None):
        self.path = os.fspath(path)
        self._model = _Model(self.path)
        self._tmpdir = _tmpdir  # a TemporaryDirectory that compile() made, removed with us

    @property
    def inputs(self):
        """[TensorInfo] in call order: name, dtype (NumPy name), onnx_dtype, shape (-1 for a
        dynamic dim), max_shape (static dims repeat their size; a dynamic dim's bound or -1),
        dim_names ("" when unnamed), dynamic, nbytes (0 when a dim is dynamic)."""
        return list(self._model.inputs)

    @property
    def outputs(self):
        return list(self._model.outputs)

    @property
    def dynamic(self):
        """Whether some input or output has a dynamic dim."""
        return self._model.dynamic

    @property
    def source(self):
        """The model file the artifact was compiled from (from manifest.json)."""
        return self._model.source

    def run(self, *args, **kwargs):
        """Runs the model. Inputs by position (manifest order) or by name; each must have the
        manifest's dtype and shape exactly (a dynamic dim any size within its bound, equal
        to the inputs' dims of the same name). Returns the outputs as a list of new arrays,
        for a dynamic model of the shapes it computes from the input shapes."""
        names = [t.name for t in self._model.inputs]
        if args and kwargs:
            raise Error("pass the inputs either by position or by name, not both")
        if kwargs:
            unknown = sorted(set(kwargs) - set(names))
            if unknown:
                raise Error("unknown input(s) %s; the model's inputs are %s"
                            % (", ".join(unknown), ", ".join(names)))
            missing = [n for n in names if n not in kwargs]
            if missing:
                raise Error("missing input(s) %s" % ", ".join(missing))
            args = [kwargs[n] for n in names]
        return self._model.run(list(args))

    def __call__(self, *args, **kwargs):
        """Like run(), but returns {output name: array}."""
        outs = self.run(*args, **kwargs)
        return {t.name: a for t, a in zip(self._model.outputs, outs)}

    def __repr__(self):
        dim = lambda t, i: str(t.shape[i]) if t.shape[i] >= 0 else (t.dim_names[i] or "?")
        fmt = lambda ts: ", ".join("%s: %s[%s]" % (t.name, t.dtype,
                                                   ", ".join(dim(t, i) for i in range(len(t.shape))))
                                   for t in ts)
        return "sqz.Module(%r, inputs=[%s], outputs=[%s])" % (
            self.path, fmt(self._model.inputs), fmt(self._model.outputs))


def load(path):
    """Loads the compiled artifact in directory `path` (manifest.json + model library)."""
    return Module(path)


def find_compiler():
    """The sqz-compile executable: $SQZ_COMPILE, the build tree this package was built in, or
    PATH. Raises sqz.Error when there is none."""
    env = os.environ.get("SQZ_COMPILE")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    built = os.path.join(here, "..", "..", "bin", "sqz-compile")  # <build>/python/sqz
    if os.access(built, os.X_OK):
        return os.path.normpath(built)
    found = shutil.which("sqz-compile")
    if found:
        return found
    raise Error("sqz-compile not found: set SQZ_COMPILE or put it on PATH")


def compile(model_path, output_dir=None, *, recipe=None, target="cpu", target_cpu=None,
            input_shapes=None, calib_data=None, extra_args=()):
    """Compiles an ONNX model (.onnx, .onnxtxt or .mlir) and loads the result.

    output_dir: where the artifact goes (default: a temporary directory removed when the
    returned Module is garbage collected). input_shapes: {input name: shape tuple} pinning
    dynamic dims (`--input-shape`). recipe / calib_data: a compression recipe and its
    calibration data (`--recipe`, `--calib-data`). Raises sqz.Error with the compiler's
    diagnostics on failure."""
    cmd = [find_compiler(), os.fspath(model_path), "--target", target]
    tmp = None
    if output_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="sqz-")
        output_dir = os.path.join(tmp.name, "artifact")
    cmd += ["-o", os.fspath(output_dir)]
    if target_cpu:
        cmd += ["--target-cpu", target_cpu]
    for name, shape in (input_shapes or {}).items():
        cmd += ["--input-shape", "%s=%s" % (name, "x".join(str(int(d)) for d in shape))]
    if recipe is not None:
        cmd += ["--recipe", os.fspath(recipe)]
    if calib_data is not None:
        cmd += ["--calib-data", os.fspath(calib_data)]
    cmd += list(extra_args)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        if tmp is not None:
            tmp.cleanup()
        raise Error((proc.stderr or proc.stdout).strip()
                    or "sqz-compile failed with exit status %d" % proc.returncode)
    return Module(output_dir, _tmpdir=tmp)
