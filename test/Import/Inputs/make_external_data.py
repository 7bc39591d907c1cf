"""Writes ONNX models whose tensors live in external data files, for the importer's tests.

    make_external_data.py OUT

OUT/model/ (the folder the models are in):
  external.onnx + external.onnx.data   valid: y = Relu(Reshape(x, shape) @ w1 + b) @ w2; w1
      (128 KiB) stays mapped, b, w2 and the Reshape shape are small external tensors (copied into
      the model); each tensor sits 16 bytes after the previous one; x.npy / y.npy: reference
  sub/nested.onnx                      valid, data in a sub-folder-relative file 'data/w.bin'
  bad_absolute.onnx      location is an absolute path
  bad_dotdot.onnx        location 'sub/../../outside.data' (a '..' component)
  bad_symlink.onnx       location 'link.data', a symbolic link to ../outside.data
  bad_missing.onnx       location 'missing.data' does not exist
  bad_beyond.onnx        offset + length past the end of the file
  bad_offset.onnx        offset past the end of the file
  bad_length.onnx        length (and the size of the file) not matching the shape x dtype
  bad_nolength.onnx      no length; the rest of the file after offset does not match
  bad_nolocation.onnx    no location entry
OUT/outside.data         a file outside the model's folder
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

out = sys.argv[1]
model_dir = os.path.join(out, "model")
os.makedirs(os.path.join(model_dir, "sub", "data"), exist_ok=True)
rng = np.random.default_rng(7)


def make_model(initializers, nodes, inputs, outputs):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def external(array, name, location, offset=None, length=None):
    """A TensorProto of `array` that points at `location` (the caller writes the bytes)."""
    tensor = numpy_helper.from_array(array, name)
    set_external_data(tensor, location, offset, length)
    tensor.ClearField("raw_data")
    return tensor


# --- The valid model: w1 [32, 1024] f32 = 128 KiB stays mapped; w2, b, shape are copied in.
x = rng.standard_normal((2, 4, 32), dtype=np.float32)
shape = np.array([8, 32], dtype=np.int64)
w1 = (rng.standard_normal((32, 1024), dtype=np.float32) / 8).astype(np.float32)
b = rng.standard_normal((1024,), dtype=np.float32)
w2 = (rng.standard_normal((1024, 8), dtype=np.float32) / 32).astype(np.float32)
h = x.reshape(8, 32).astype(np.float64) @ w1 + b
y = (np.maximum(h, 0) @ w2).astype(np.float32)
np.save(os.path.join(model_dir, "x.npy"), x)
np.save(os.path.join(model_dir, "y.npy"), y)

blobs = [("shape", shape), ("w1", w1), ("b", b), ("w2", w2)]
data = b""
tensors = []
for name, array in blobs:
    # 16 bytes of padding in front of each tensor: offsets are not 0.
    data += b"\0" * 16
    tensors.append(external(array, name, "external.onnx.data", len(data), array.nbytes))
    data += array.tobytes()
with open(os.path.join(model_dir, "external.onnx.data"), "wb") as f:
    f.write(data)
nodes = [
    helper.make_node("Reshape", ["x", "shape"], ["x2"], name="/reshape"),
    helper.make_node("MatMul", ["x2", "w1"], ["h"], name="/fc1/MatMul"),
    helper.make_node("Add", ["h", "b"], ["hb"], name="/fc1/Add"),
    helper.make_node("Relu", ["hb"], ["r"], name="/relu"),
    helper.make_node("MatMul", ["r", "w2"], ["y"], name="/fc2/MatMul"),
]
io = ([helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 32])],
      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 8])])
valid = make_model(tensors, nodes, *io)
onnx.save_model(valid, os.path.join(model_dir, "external.onnx"))

# --- Error models: one MatMul with w [16, 8] f32 (512 bytes) in various bad files.
w = np.arange(128, dtype=np.float32).reshape(16, 8)
with open(os.path.join(model_dir, "w.data"), "wb") as f:
    f.write(w.tobytes())
with open(os.path.join(out, "outside.data"), "wb") as f:
    f.write(w.tobytes())
link = os.path.join(model_dir, "link.data")
if os.path.lexists(link):
    os.remove(link)
os.symlink(os.path.join("..", "outside.data"), link)


def save_single(file_name, tensor):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="/fc/MatMul")]
    io = ([helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])])
    onnx.save_model(make_model([tensor], nodes, *io), os.path.join(model_dir, file_name))


# Data in a sub-folder of the model's folder (relative to the model file's own folder).
with open(os.path.join(model_dir, "sub", "data", "w.bin"), "wb") as f:
    f.write(w.tobytes())
nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="/fc/MatMul")]
io = ([helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])])
onnx.save_model(make_model([external(w, "w", "data/w.bin")], nodes, *io),
                os.path.join(model_dir, "sub", "nested.onnx"))

save_single("bad_absolute.onnx", external(w, "w", os.path.abspath(os.path.join(out, "outside.data"))))
save_single("bad_dotdot.onnx", external(w, "w", "sub/../../outside.data"))
save_single("bad_symlink.onnx", external(w, "w", "link.data"))
save_single("bad_missing.onnx", external(w, "w", "missing.data"))
save_single("bad_beyond.onnx", external(w, "w", "w.data", 256, 512))
save_single("bad_offset.onnx", external(w, "w", "w.data", 1000, 512))
save_single("bad_length.onnx", external(w, "w", "w.data", 0, 256))
save_single("bad_nolength.onnx", external(w, "w", "w.data", 4))
nolocation = numpy_helper.from_array(w, "w")
nolocation.ClearField("raw_data")
nolocation.data_location = TensorProto.EXTERNAL
entry = nolocation.external_data.add()
entry.key, entry.value = "offset", "0"
save_single("bad_nolocation.onnx", nolocation)
