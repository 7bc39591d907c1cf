"""The sqz Python package: compile, load, run, metadata, errors, threads.

Run from ctest (`ctest -R python-package`), which sets PYTHONPATH to <build>/python and
SQZ_COMPILE to the built compiler.
"""

import os
import threading

import numpy as np
import pytest

import sqz

SOURCE = os.environ.get("SQZ_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
MLP = os.path.join(SOURCE, "models", "mlp", "mlp.onnx")
STORIES = os.path.join(SOURCE, "models", "stories260K", "stories260K_opset17.onnx")


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp") / "artifact"
    return sqz.compile(MLP, out)


def test_metadata(mlp):
    assert [t.name for t in mlp.inputs] == ["x"]
    assert [t.name for t in mlp.outputs] == ["y"]
    x, = mlp.inputs
    assert x.dtype == "float32" and x.shape == (4, 16) and x.nbytes == 4 * 16 * 4
    assert mlp.outputs[0].shape == (4, 8)
    assert mlp.source.endswith("mlp.onnx")
    assert "x: float32[4, 16]" in repr(mlp)


def test_run_matches_reference(mlp):
    x = np.load(os.path.join(SOURCE, "models", "mlp", "x.npy"))
    want = np.load(os.path.join(SOURCE, "models", "mlp", "y.npy"))
    y, = mlp.run(x)
    assert y.dtype == np.float32 and y.shape == (4, 8)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    # By name, and as a dict.
    np.testing.assert_array_equal(mlp.run(x=x)[0], y)
    np.testing.assert_array_equal(mlp(x=x)["y"], y)


def test_non_contiguous_input_is_made_dense(mlp):
    x = np.load(os.path.join(SOURCE, "models", "mlp", "x.npy"))
    strided = np.asfortranarray(x)
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(mlp.run(strided)[0], mlp.run(x)[0])


def test_load_reuses_artifact(mlp):
    again = sqz.load(mlp.path)
    x = np.ones((4, 16), np.float32)
    np.testing.assert_array_equal(again.run(x)[0], mlp.run(x)[0])


def test_wrong_dtype_shape_and_names(mlp):
    with pytest.raises(sqz.Error, match=r"input 'x' must have dtype float32, got float64"):
        mlp.run(np.ones((4, 16)))
    with pytest.raises(sqz.Error, match=r"input 'x' must have shape \(4, 16\), got \(4, 15\)"):
        mlp.run(np.ones((4, 15), np.float32))
    with pytest.raises(sqz.Error, match="takes 1 inputs, got 2"):
        mlp.run(np.ones((4, 16), np.float32), np.ones((4, 16), np.float32))
    with pytest.raises(sqz.Error, match="unknown input"):
        mlp.run(z=np.ones((4, 16), np.float32))
    with pytest.raises(sqz.Error, match="takes 1 inputs, got 0"):
        mlp.run()
    with pytest.raises(sqz.Error, match="either by position or by name"):
        mlp.run(np.ones((4, 16), np.float32), x=np.ones((4, 16), np.float32))
    assert issubclass(sqz.Error, RuntimeError)


def test_load_errors(tmp_path):
    with pytest.raises(sqz.Error, match="manifest.json"):
        sqz.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{ not json")
    with pytest.raises(sqz.Error):
        sqz.load(tmp_path)


def test_compile_error_carries_diagnostics(tmp_path):
    bad = tmp_path / "bad.onnxtxt"
    bad.write_text('<ir_version: 8, opset_import: ["" : 17]>\n'
                   'g (float[4] x) => (float[4] y)\n{\n  y = StringNormalizer(x)\n}\n')
    with pytest.raises(sqz.Error, match="unsupported ONNX op 'StringNormalizer'"):
        sqz.compile(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_concurrent_runs(mlp):
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((4, 16)).astype(np.float32) for _ in range(8)]
    want = [mlp.run(x)[0] for x in xs]
    got = [None] * len(xs)

    def work(i):
        for _ in range(20):
            got[i] = mlp.run(xs[i])[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.skipif(not os.path.exists(STORIES), reason="bundled stories260K missing")
def test_stories260k_golden_logits(tmp_path):
    golden = os.path.join(SOURCE, "models", "stories260K", "golden")
    ids = np.load(os.path.join(golden, "prompt_ids.npy"))
    want = np.load(os.path.join(golden, "prompt_logits.npy"))
    model = sqz.compile(STORIES, tmp_path / "stories",
                        input_shapes={"input_ids": ids.shape})
    logits, = model.run(input_ids=ids)
    assert np.abs(logits - want).max() <= 1e-4


def _test_library(name):
    """A stand-in model library the runtime unit tests build (unittests/Runtime), next to this
    package's build tree, or None."""
    here = os.path.dirname(os.path.abspath(sqz.__file__))  # <build>/python/sqz
    path = os.path.join(here, "..", "..", "unittests", "Runtime", "lib%s.so" % name)
    return os.path.normpath(path) if os.path.exists(path) else None


DYNAMIC_LIBRARY = _test_library("SqzTestModelDynamic")


@pytest.fixture
def dynamic(tmp_path):
    """The ABI 3 stand-in (unittests/Runtime/TestModelDynamic.c): y = x + k, cat = concat(past, x)
    on dim 1, with x [batch <= 4, seq <= 8] and past [batch, past]."""
    (tmp_path / "model.so").symlink_to(DYNAMIC_LIBRARY)
    (tmp_path / "manifest.json").write_text("""{
      "format": "sqz-artifact", "abi_version": 3, "library": "model.so",
      "entry": "sqz_model_invoke",
      "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, -1],
                  "dim_names": ["batch", "seq"], "max_shape": [4, 8]},
                 {"name": "past", "dtype": "float32", "shape": [-1, -1],
                  "dim_names": ["batch", "past"]},
                 {"name": "k", "dtype": "int32", "shape": []}],
      "outputs": [{"name": "y", "dtype": "float32", "shape": [-1, -1],
                   "dim_names": ["batch", "seq"]},
                  {"name": "cat", "dtype": "float32", "shape": [-1, -1]}]}""")
    return sqz.load(tmp_path)


@pytest.mark.skipif(DYNAMIC_LIBRARY is None, reason="runtime test libraries not built")
def test_dynamic_metadata(dynamic):
    assert dynamic.dynamic
    x, past, k = dynamic.inputs
    assert x.shape == (-1, -1) and x.max_shape == (4, 8) and x.dim_names == ("batch", "seq")
    assert x.dynamic and x.nbytes == 0
    assert past.max_shape == (-1, -1)
    assert not k.dynamic and k.nbytes == 4 and k.shape == ()
    assert dynamic.outputs[1].dim_names == ("", "")
    assert "x: float32[batch, seq]" in repr(dynamic)
    assert "cat: float32[?, ?]" in repr(dynamic)


@pytest.mark.skipif(DYNAMIC_LIBRARY is None, reason="runtime test libraries not built")
def test_dynamic_run(dynamic):
    k = np.array(3, np.int32)
    for batch, seq, plen in [(2, 3, 4), (1, 8, 0), (3, 0, 2), (0, 5, 1)]:
        x = np.arange(batch * seq, dtype=np.float32).reshape(batch, seq)
        past = -np.arange(batch * plen, dtype=np.float32).reshape(batch, plen)
        y, cat = dynamic.run(x=x, past=past, k=k)
        assert y.shape == (batch, seq) and cat.shape == (batch, plen + seq)
        np.testing.assert_array_equal(y, x + 3)
        np.testing.assert_array_equal(cat, np.concatenate([past, x], axis=1))
    with pytest.raises(sqz.Error, match=r"input 'x' dim 1 \('seq'\) is 9, above its bound 8"):
        dynamic.run(np.zeros((1, 9), np.float32), np.zeros((1, 0), np.float32), k)
    with pytest.raises(sqz.Error, match=r"input 'past' dim 0 \('batch'\) is 2, but input 'x' "
                                        r"dim 0 of the same name is 1"):
        dynamic.run(np.zeros((1, 2), np.float32), np.zeros((2, 1), np.float32), k)
    with pytest.raises(sqz.Error, match=r"input 'x' must have shape \(batch, seq\), got \(4,\)"):
        dynamic.run(np.zeros(4, np.float32), np.zeros((1, 1), np.float32), k)
