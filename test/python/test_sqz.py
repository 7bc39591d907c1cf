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
