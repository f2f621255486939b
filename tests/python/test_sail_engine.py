"""sail.Engine of framebus.compat.sail: every call on the generated classifier and on a small
two-input, two-output graph written here with onnx.helper, both process forms, and the errors."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

import framebus
from framebus.compat import sail
from media import TINY, make_model

pytestmark = pytest.mark.skipif(not hasattr(framebus._core, "_Model"), reason="built without the classifier")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> pathlib.Path:
    """The build tree's tiny classifier (ctest's fixture writes it), else one generated here."""
    build = os.environ.get("FRAMEBUS_BUILD_DIR")
    if build:
        model = pathlib.Path(build) / "tests" / "classify_models" / "tiny.onnx"
        if model.exists():
            return model
    root = tmp_path_factory.mktemp("models")
    make_model(root / "tiny.onnx", root / "tiny.txt", *TINY)
    return root / "tiny.onnx"


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> pathlib.Path:
    """pair.onnx, graph "pairs": x, y [n, 3] float32 -> sum = x + y, prod = x * y * [1, 2, 3]."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    vi = helper.make_tensor_value_info
    w = helper.make_tensor("w", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "y"], ["sum"]), helper.make_node("Mul", ["x", "y"], ["xy"]),
         helper.make_node("Mul", ["xy", "w"], ["prod"])],
        "pairs", [vi("x", TensorProto.FLOAT, ["n", 3]), vi("y", TensorProto.FLOAT, ["n", 3])],
        [vi("sum", TensorProto.FLOAT, ["n", 3]), vi("prod", TensorProto.FLOAT, ["n", 3])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    path = tmp_path_factory.mktemp("pair") / "pair.onnx"
    onnx.save(model, str(path))
    return path


def xy(n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return x, np.full((n, 3), 2.0, np.float32) - x


def test_every_constructor_loads_one_graph_named_after_the_file(tiny, pair):
    engine = sail.Engine(0)
    assert engine.get_graph_names() == []
    assert engine.load(str(tiny)) is True
    assert engine.load(pair) is True  # a second model adds a graph, as in sail
    assert engine.get_graph_names() == ["tiny", "pair"]
    assert engine.get_device_id() == 0
    assert isinstance(engine.get_handle(), sail.Handle)

    assert sail.Engine(str(tiny), 0, sail.IOMode.SYSIO).get_graph_names() == ["tiny"]
    data = pair.read_bytes()
    # From bytes the graph takes the ONNX graph's own name.
    assert sail.Engine(data, len(data), 0, sail.IOMode.SYSI).get_graph_names() == ["pairs"]
    from_bytes = sail.Engine(1)
    assert from_bytes.load(data, len(data)) is True
    assert from_bytes.get_graph_names() == ["pairs"]

    handle = sail.Handle(0)
    engine = sail.Engine(handle)
    assert engine.get_handle() is handle
    assert engine.get_graph_names() == []
    assert sail.Engine(str(pair), handle, sail.IOMode.SYSO).get_handle() is handle


def test_the_get_calls_describe_the_classifier(tiny):
    engine = sail.Engine(str(tiny), 0, sail.IOMode.SYSIO)
    graph = engine.get_graph_names()[0]
    assert engine.get_input_names(graph) == ["input"]
    assert engine.get_output_names(graph) == ["logits"]
    # The batch is dynamic: 1 in the max shapes; the output's size comes from a run on zeros.
    assert engine.get_max_input_shapes(graph) == {"input": [1, 3, 64, 64]}
    assert engine.get_input_shape(graph, "input") == [1, 3, 64, 64]
    assert engine.get_max_output_shapes(graph) == {"logits": [1, 10]}
    assert engine.get_output_shape(graph, "logits") == [1, 10]
    assert engine.get_input_dtype(graph, "input") == sail.Dtype.BM_FLOAT32
    assert engine.get_output_dtype(graph, "logits") == sail.Dtype.BM_FLOAT32
    assert engine.get_input_scale(graph, "input") == 1.0
    assert engine.get_output_scale(graph, "logits") == 1.0
    assert engine.graph_is_dynamic(graph) is True
    engine.set_io_mode(graph, sail.IOMode.SYSIO)


def test_process_with_arrays_gives_opencvs_answer(tiny):
    cv2 = pytest.importorskip("cv2")
    engine = sail.Engine(str(tiny), 0, sail.IOMode.SYSIO)
    graph = engine.get_graph_names()[0]
    batch = np.random.RandomState(5).uniform(-2, 2, (3, 3, 64, 64)).astype(np.float32)
    out = engine.process(graph, {"input": batch})
    assert list(out) == ["logits"]
    assert out["logits"].dtype == np.float32 and out["logits"].shape == (3, 10)
    assert engine.get_input_shape(graph, "input") == [3, 3, 64, 64]  # the last run's shapes, as sail
    assert engine.get_output_shape(graph, "logits") == [3, 10]

    net = cv2.dnn.readNetFromONNX(str(tiny))
    net.setInput(batch)
    np.testing.assert_allclose(out["logits"], net.forward(), rtol=1e-5, atol=1e-5)
    # float64 is converted to the model's float32, as sail converts; keyword names are sail's.
    again = engine.process(graph_name=graph, input_tensors={"input": batch.astype(np.float64)}, core_list=[0])
    np.testing.assert_allclose(again["logits"], out["logits"], rtol=1e-6, atol=1e-6)


def test_process_with_arrays_runs_several_inputs_and_outputs(pair):
    engine = sail.Engine(str(pair), 0, sail.IOMode.SYSIO)
    assert engine.get_input_names("pair") == ["x", "y"]
    assert engine.get_output_names("pair") == ["sum", "prod"]
    assert engine.get_max_output_shapes("pair") == {"sum": [1, 3], "prod": [1, 3]}
    x, y = xy(2)
    out = engine.process("pair", {"y": y, "x": x})
    assert list(out) == ["sum", "prod"]
    # x = [[0, 1, 2], [3, 4, 5]], y = 2 - x: x + y = 2; x * y * [1, 2, 3] by hand.
    np.testing.assert_array_equal(out["sum"], np.full((2, 3), 2.0, np.float32))
    np.testing.assert_array_equal(out["prod"], np.array([[0, 2, 0], [-3, -16, -45]], np.float32))


def test_process_with_tensors_writes_the_output_tensors(pair):
    engine = sail.Engine(str(pair), 0, sail.IOMode.SYSIO)
    handle = engine.get_handle()
    x, y = xy(1)
    inputs = engine.create_input_tensors_map("pair")
    assert sorted(inputs) == ["x", "y"] and inputs["x"].shape() == [1, 3]
    inputs["x"].update_data(x)
    inputs["y"].update_data(y)
    outputs = engine.create_output_tensors_map("pair")
    assert sorted(outputs) == ["prod", "sum"] and outputs["sum"].dtype() == sail.Dtype.BM_FLOAT32
    assert engine.process("pair", inputs, outputs) is None
    np.testing.assert_array_equal(outputs["sum"].asnumpy(), np.full((1, 3), 2.0, np.float32))
    np.testing.assert_array_equal(outputs["prod"].asnumpy(), np.array([[0, 2, 0]], np.float32))

    # A bigger batch: output Tensors take the output's shape; keyword names are sail's.
    x, y = xy(3)
    out_sum = sail.Tensor(handle, [1, 3], sail.Dtype.BM_FLOAT32, True, True)
    out_int = sail.Tensor(handle, [1, 3], sail.Dtype.BM_INT32, True, True)
    engine.process(graph_name="pair", input={"x": sail.Tensor(handle, x), "y": sail.Tensor(handle, y)},
                   output={"sum": out_sum, "prod": out_int}, core_list=[])
    assert out_sum.shape() == [3, 3]
    np.testing.assert_array_equal(out_sum.asnumpy(), np.full((3, 3), 2.0, np.float32))
    expected = (x * y * np.array([1, 2, 3], np.float32)).astype(np.int32)
    np.testing.assert_array_equal(out_int.asnumpy(), expected)  # converted into the Tensor's type


def test_process_with_input_shapes_uses_the_leading_part_of_each_tensor(pair):
    engine = sail.Engine(str(pair), 0, sail.IOMode.SYSIO)
    handle = sail.Handle(0)
    x, y = xy(4)
    inputs = {"x": sail.Tensor(handle, x), "y": sail.Tensor(handle, y)}
    outputs = {"sum": sail.Tensor(handle, [4, 3], sail.Dtype.BM_FLOAT32, True, True)}
    engine.process("pair", inputs, {"x": [2, 3], "y": [2, 3]}, outputs)
    assert outputs["sum"].shape() == [2, 3]
    np.testing.assert_array_equal(outputs["sum"].asnumpy(), (x + y)[:2])
    assert engine.get_input_shape("pair", "x") == [2, 3]
    assert engine.get_output_shape("pair", "prod") == [2, 3]

    with pytest.raises(framebus.InvalidArgument, match=r"input tensor 'x'.*\[5, 3\].*12"):
        engine.process("pair", inputs, {"x": [5, 3], "y": [5, 3]}, outputs)


def test_a_wrong_graph_or_tensor_name_lists_the_valid_ones(pair):
    engine = sail.Engine(str(pair), 0, sail.IOMode.SYSIO)
    x, y = xy(1)
    for call in (lambda: engine.get_input_names("pairs"), lambda: engine.process("pairs", {"x": x, "y": y}),
                 lambda: engine.set_io_mode("nope", sail.IOMode.SYSI), lambda: engine.graph_is_dynamic("nope")):
        with pytest.raises(framebus.InvalidArgument, match=r"no graph named '(pairs|nope)' \(graphs: pair\)"):
            call()
    with pytest.raises(framebus.InvalidArgument, match=r"no input tensor 'z' \(its inputs: x, y\)"):
        engine.process("pair", {"x": x, "z": y})
    with pytest.raises(framebus.InvalidArgument, match=r"no input tensor 'sum'"):
        engine.get_input_shape("pair", "sum")
    with pytest.raises(framebus.InvalidArgument, match=r"no output tensor 'x' \(its outputs: sum, prod\)"):
        engine.get_output_dtype("pair", "x")
    handle = sail.Handle(0)
    inputs = {"x": sail.Tensor(handle, x), "y": sail.Tensor(handle, y)}
    with pytest.raises(framebus.InvalidArgument, match=r"no output tensor 'total'"):
        engine.process("pair", inputs, {"total": sail.Tensor(handle, x)})
    with pytest.raises(framebus.InvalidArgument, match="no model is loaded"):
        sail.Engine(0).get_input_names("pair")


def test_a_wrong_shape_or_a_missing_input_says_what_is_expected(pair, tiny):
    engine = sail.Engine(str(pair), 0, sail.IOMode.SYSIO)
    x, y = xy(2)
    with pytest.raises(framebus.InvalidArgument, match=r"input 'y': shape \[2, 4\] given, \[\?, 3\] expected"):
        engine.process("pair", {"x": x, "y": np.zeros((2, 4), np.float32)})
    with pytest.raises(framebus.InvalidArgument, match=r"input 'y' is missing"):
        engine.process("pair", {"x": x})
    classifier = sail.Engine(str(tiny), 0, sail.IOMode.SYSIO)
    with pytest.raises(framebus.InvalidArgument, match=r"input 'input': shape \[1, 3, 32, 32\] given, "
                                                       r"\[\?, 3, 64, 64\] expected"):
        classifier.process("tiny", {"input": np.zeros((1, 3, 32, 32), np.float32)})
    with pytest.raises(TypeError, match="process"):
        engine.process("pair")


def test_a_missing_file_a_bmodel_or_a_wrong_size_is_refused(tmp_path, pair):
    with pytest.raises(FileNotFoundError, match="nothing.onnx"):
        sail.Engine(str(tmp_path / "nothing.onnx"), 0, sail.IOMode.SYSIO)
    with pytest.raises(framebus.NotFound):
        sail.Engine(0).load(str(tmp_path / "nothing.onnx"))
    with pytest.raises(framebus.InvalidArgument, match="export the model to ONNX"):
        sail.Engine(str(tmp_path / "yolov5s.bmodel"), 0, sail.IOMode.SYSI)
    data = pair.read_bytes()
    with pytest.raises(framebus.InvalidArgument, match="bmodel_size"):
        sail.Engine(data, len(data) - 1, 0, sail.IOMode.SYSI)
    (tmp_path / "text.onnx").write_text("not a model\n")
    with pytest.raises(framebus.Corrupt, match="text.onnx"):
        sail.Engine(str(tmp_path / "text.onnx"), 0, sail.IOMode.SYSI)
    engine = sail.Engine(str(pair), 0, sail.IOMode.SYSI)
    with pytest.raises(framebus.InvalidArgument, match="'pair' is already loaded"):
        engine.load(str(pair))
