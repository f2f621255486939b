"""sail.Engine on the CPU: ONNX models run by framebus's Model (OpenCV DNN).

sail's Engine loads compiled ``.bmodel`` files onto a Sophon TPU; this one loads ``.onnx`` files
and keeps sail's calls, argument names, defaults and return values. Each model is one graph, named
after its file (``resnet18.onnx`` is graph ``"resnet18"``; a model loaded from bytes takes the name
the ONNX graph gives itself, or ``"model"``). Every tensor lives in system memory, so the IOMode is
recorded but changes nothing.
"""

from __future__ import annotations

import math
import os
import pathlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ... import _core
from ..._errors import Closed, Error, InvalidArgument
from . import _types

__all__ = ["Engine"]

# The sail Dtype (by name) of each element type an ONNX graph may declare. sail has no 64-bit or
# boolean Dtype: those report the nearest one it has.
_DTYPE_NAMES = {
    "float32": "BM_FLOAT32", "float16": "BM_FLOAT16", "float64": "BM_FLOAT32",
    "int8": "BM_INT8", "uint8": "BM_UINT8", "int16": "BM_INT16", "uint16": "BM_UINT16",
    "int32": "BM_INT32", "uint32": "BM_UINT32", "int64": "BM_INT32", "uint64": "BM_UINT32", "bool": "BM_UINT8",
}
# A sail Dtype's NumPy element type for values written into a Tensor of it (a BFLOAT16 Tensor
# holds raw bits: see _tensor_data).
_NUMPY_OF = {
    "BM_FLOAT32": np.float32, "BM_FLOAT16": np.float16, "BM_INT8": np.int8, "BM_UINT8": np.uint8,
    "BM_INT16": np.int16, "BM_UINT16": np.uint16, "BM_INT32": np.int32, "BM_UINT32": np.uint32,
}


def _sail_dtype(dtype: Optional[np.dtype]) -> Any:
    return getattr(_types.Dtype, _DTYPE_NAMES.get(np.dtype(dtype).name if dtype is not None else "float32",
                                                  "BM_FLOAT32"))


def _cast(values: np.ndarray, dtype: Any) -> np.ndarray:
    """``values`` as a C-contiguous array of ``dtype``: rounded and saturated into an integer type."""
    target = np.dtype(dtype)
    values = np.asarray(values)
    if target.kind in "iu" and values.dtype.kind == "f":
        limits = np.iinfo(target)
        values = np.clip(np.rint(values), limits.min, limits.max)
    return np.ascontiguousarray(values, dtype=target)


def _tensor_values(tensor: Any) -> np.ndarray:
    """A Tensor's values: FLOAT16 and BFLOAT16 Tensors hold raw bits, read here as numbers."""
    data = np.asarray(tensor.asnumpy())
    kind = tensor.dtype().name
    if kind == "BM_FLOAT16":
        return data.view(np.float16)
    if kind == "BM_BFLOAT16":
        return (data.astype(np.uint32) << np.uint32(16)).view(np.float32)
    return data


def _tensor_data(values: np.ndarray, dtype: Any) -> np.ndarray:
    """``values`` as update_data takes them for a Tensor of sail Dtype ``dtype``."""
    if dtype.name == "BM_BFLOAT16":  # the upper 16 bits of the float32, rounded to nearest even
        bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
        return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return _cast(values, _NUMPY_OF.get(dtype.name, np.float32))


def _names(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"


class _Graph:
    """One loaded model: its tensors as the ONNX file declares them, and sail's shape records."""

    def __init__(self, name: str, model: Any) -> None:
        self.name = name
        self.model = model
        self.io_mode: Any = None
        self.inputs: Dict[str, Tuple[Optional[List[int]], Optional[np.dtype]]] = {
            n: (dims, dtype) for n, dims, dtype in model.inputs}
        self.outputs: Dict[str, Tuple[Optional[List[int]], Optional[np.dtype]]] = {
            n: (dims, dtype) for n, dims, dtype in model.outputs}
        # sail's max shapes: fixed dimensions as declared, a dynamic one as 1.
        self.max_input_shapes = {n: [d if d >= 0 else 1 for d in dims or []] for n, (dims, _) in self.inputs.items()}
        self.max_output_shapes = {n: [d if d >= 0 else 1 for d in dims or []] for n, (dims, _) in self.outputs.items()}
        if any(dims is None or min(dims, default=0) < 0 for dims, _ in self.outputs.values()):
            self._learn_output_shapes()
        # The shapes of the last run (sail's input_shapes_ / output_shapes_), the max ones before.
        self.input_shapes = {n: list(s) for n, s in self.max_input_shapes.items()}
        self.output_shapes = {n: list(s) for n, s in self.max_output_shapes.items()}

    def _learn_output_shapes(self) -> None:
        # Dynamic output sizes follow from the inputs: one run on zeros of the max input shapes.
        feeds = {n: np.zeros(self.max_input_shapes[n], dtype=dtype or np.float32)
                 for n, (_, dtype) in self.inputs.items()}
        try:
            result = self.model.run(feeds)
        except Error:
            return  # the model needs other sizes than 1: the declared shapes stay
        for n, value in result.items():
            self.max_output_shapes[n] = list(value.shape)

    def check_input(self, tensor: str) -> Tuple[Optional[List[int]], Optional[np.dtype]]:
        if tensor not in self.inputs:
            raise InvalidArgument(f"graph '{self.name}' has no input tensor '{tensor}' "
                                  f"(its inputs: {_names(list(self.inputs))})")
        return self.inputs[tensor]

    def check_output(self, tensor: str) -> Tuple[Optional[List[int]], Optional[np.dtype]]:
        if tensor not in self.outputs:
            raise InvalidArgument(f"graph '{self.name}' has no output tensor '{tensor}' "
                                  f"(its outputs: {_names(list(self.outputs))})")
        return self.outputs[tensor]

    def run(self, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        result = self.model.run(feeds)  # the GIL is released while the graph runs
        self.input_shapes.update({n: list(a.shape) for n, a in feeds.items()})
        self.output_shapes.update({n: list(a.shape) for n, a in result.items()})
        return result


def _is_tensor(value: Any) -> bool:
    return not isinstance(value, np.ndarray) and hasattr(value, "asnumpy") and hasattr(value, "update_data")


class Engine:
    """sail.Engine: loads ONNX models and runs them on named tensors (CPU, OpenCV DNN).

    Constructors, as sail's::

        Engine(tpu_id)
        Engine(handle)
        Engine(bmodel_path, tpu_id, mode)
        Engine(bmodel_bytes, bmodel_size, tpu_id, mode)

    ``bmodel_path`` names an ``.onnx`` file (a ``.bmodel`` is refused with a hint to export the
    model to ONNX); ``tpu_id`` may also be a Handle. A missing file raises framebus.NotFound
    (a FileNotFoundError), a file that is no ONNX model framebus.Corrupt, a wrong argument
    framebus.InvalidArgument (a ValueError).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not hasattr(_core, "_Model"):
            raise Closed("this framebus was built without the classifier module (OpenCV): Engine needs it")
        self._graphs: Dict[str, _Graph] = {}
        self._handle: Any = None
        self._tpu_id = 0
        self._mode: Any = None  # recorded only: every tensor is in system memory
        form = _bind_init(args, kwargs)
        device = form.get("tpu_id", form.get("handle", 0))
        if isinstance(device, (int, np.integer)) and not isinstance(device, bool):
            self._tpu_id = int(device)
        elif isinstance(device, _types.Handle):
            self._handle = device
            self._tpu_id = int(device.get_device_id())
        else:
            raise InvalidArgument(f"Engine(): tpu_id must be an int or a Handle, not {type(device).__name__}")
        self._mode = form.get("mode")
        if "bmodel_path" in form:
            self.load(form["bmodel_path"])
        elif "bmodel_bytes" in form:
            self.load(form["bmodel_bytes"], form["bmodel_size"])

    # --- loading -------------------------------------------------------------------------------

    def load(self, *args: Any, **kwargs: Any) -> bool:
        """``load(bmodel_path)`` or ``load(bmodel_bytes, bmodel_size)``: adds the model's graph.

        Returns True. Unlike sail, which logs and returns False, a model that cannot be loaded
        raises (NotFound, Corrupt or InvalidArgument, naming the file and why).
        """
        if len(args) + len(kwargs) == 1:
            form = _bind(("bmodel_path",), args, kwargs)
        else:
            form = _bind(("bmodel_bytes", "bmodel_size"), args, kwargs)
        if form is None:
            raise TypeError("load() takes (bmodel_path) or (bmodel_bytes, bmodel_size)")
        if "bmodel_path" in form:
            path = os.fspath(form["bmodel_path"])
            if pathlib.Path(path).suffix.lower() == ".bmodel":
                raise InvalidArgument(f"'{path}' is a bmodel, compiled for a Sophon TPU; framebus runs ONNX models "
                                      f"on the CPU: export the model to ONNX (for instance with torch.onnx.export) "
                                      f"and load the .onnx file")
            model = _core._Model(path)
            name = pathlib.Path(path).stem
        else:
            data = bytes(form["bmodel_bytes"])
            if int(form["bmodel_size"]) != len(data):
                raise InvalidArgument(f"bmodel_size is {int(form['bmodel_size'])} but bmodel_bytes holds "
                                      f"{len(data)} bytes")
            model = _core._Model("<bytes>", data)
            name = model.graph_name or "model"
        if name in self._graphs:
            raise InvalidArgument(f"a graph named '{name}' is already loaded (graphs: {_names(list(self._graphs))})")
        self._graphs[name] = _Graph(name, model)
        return True

    # --- the device ----------------------------------------------------------------------------

    def get_handle(self) -> Any:
        """The Handle of the engine's device (made from tpu_id when none was given)."""
        if self._handle is None:
            self._handle = _types.Handle(self._tpu_id)
        return self._handle

    def get_device_id(self) -> int:
        """The tpu_id the engine was made with (no device is used: everything runs on the CPU)."""
        return self._tpu_id

    # --- graphs and tensors ----------------------------------------------------------------------

    def _graph(self, graph_name: str) -> _Graph:
        graph = self._graphs.get(graph_name)
        if graph is None:
            if not self._graphs:
                raise InvalidArgument(f"no graph named '{graph_name}': no model is loaded (call load() first)")
            raise InvalidArgument(f"no graph named '{graph_name}' (graphs: {_names(list(self._graphs))})")
        return graph

    def get_graph_names(self) -> List[str]:
        """The loaded graphs, one per model, in load order: each named after its model's file."""
        return list(self._graphs)

    def set_io_mode(self, graph_name: str, mode: Any) -> None:
        """Records the IOMode of a graph; every tensor is in system memory here, so it changes nothing."""
        self._graph(graph_name).io_mode = mode

    def graph_is_dynamic(self, graph_name: str) -> bool:
        """True when an input of the graph has a dynamic dimension (or no declared shape)."""
        return any(dims is None or any(d < 0 for d in dims) for dims, _ in self._graph(graph_name).inputs.values())

    def get_input_names(self, graph_name: str) -> List[str]:
        """The graph's input tensors (weights excluded), in the ONNX graph's order."""
        return list(self._graph(graph_name).inputs)

    def get_output_names(self, graph_name: str) -> List[str]:
        """The graph's output tensors, in the ONNX graph's order."""
        return list(self._graph(graph_name).outputs)

    def get_max_input_shapes(self, graph_name: str) -> Dict[str, List[int]]:
        """{input: shape}: the declared shapes, a dynamic dimension given as 1."""
        return {n: list(s) for n, s in self._graph(graph_name).max_input_shapes.items()}

    def get_input_shape(self, graph_name: str, tensor_name: str) -> List[int]:
        """The input's shape in the last process() call; its max shape before any."""
        graph = self._graph(graph_name)
        graph.check_input(tensor_name)
        return list(graph.input_shapes[tensor_name])

    def get_max_output_shapes(self, graph_name: str) -> Dict[str, List[int]]:
        """{output: shape} for the max input shapes (a dynamic size learnt from one run on zeros)."""
        return {n: list(s) for n, s in self._graph(graph_name).max_output_shapes.items()}

    def get_output_shape(self, graph_name: str, tensor_name: str) -> List[int]:
        """The output's shape in the last process() call; its max shape before any."""
        graph = self._graph(graph_name)
        graph.check_output(tensor_name)
        return list(graph.output_shapes[tensor_name])

    def get_input_dtype(self, graph_name: str, tensor_name: str) -> Any:
        """The input's sail Dtype (64-bit and boolean types report the nearest sail has)."""
        return _sail_dtype(self._graph(graph_name).check_input(tensor_name)[1])

    def get_output_dtype(self, graph_name: str, tensor_name: str) -> Any:
        """The output's sail Dtype (64-bit and boolean types report the nearest sail has)."""
        return _sail_dtype(self._graph(graph_name).check_output(tensor_name)[1])

    def get_input_scale(self, graph_name: str, tensor_name: str) -> float:
        """1.0: ONNX tensors carry their values unscaled."""
        self._graph(graph_name).check_input(tensor_name)
        return 1.0

    def get_output_scale(self, graph_name: str, tensor_name: str) -> float:
        """1.0: ONNX tensors carry their values unscaled."""
        self._graph(graph_name).check_output(tensor_name)
        return 1.0

    def create_input_tensors_map(self, graph_name: str, create_mode: int = -1) -> Dict[str, Any]:
        """{input: Tensor} of each input's current shape and Dtype, in system memory."""
        graph = self._graph(graph_name)
        return {n: _types.Tensor(self.get_handle(), list(graph.input_shapes[n]), _sail_dtype(dtype), True, True)
                for n, (_, dtype) in graph.inputs.items()}

    def create_output_tensors_map(self, graph_name: str, create_mode: int = -1) -> Dict[str, Any]:
        """{output: Tensor} of each output's max shape and Dtype, in system memory."""
        graph = self._graph(graph_name)
        return {n: _types.Tensor(self.get_handle(), list(graph.max_output_shapes[n]), _sail_dtype(dtype), True, True)
                for n, (_, dtype) in graph.outputs.items()}

    # --- inference -----------------------------------------------------------------------------

    def process(self, graph_name: str, *args: Any, **kwargs: Any) -> Optional[Dict[str, np.ndarray]]:
        """Runs a graph; sail's three forms::

            process(graph_name, input_tensors, core_list=[]) -> {name: numpy.ndarray}
            process(graph_name, input, output, core_list=[])
            process(graph_name, input, input_shapes, output, core_list=[])

        The first takes {input: array} (converted to each input's type, as sail converts) and
        returns {output: float32 array}, as sail does. The others read {input: Tensor} and write
        each output into {output: Tensor} (its update_data), reshaped to the output's shape;
        ``input_shapes`` ({input: shape}) says how much of each input Tensor to use. ``core_list``
        is accepted and ignored (OpenCV chooses its threads).
        """
        graph = self._graph(graph_name)
        form = _bind(("input", "output", "core_list"), args, kwargs, optional=1)
        if form is not None and _tensor_maps(form["input"], form["output"]):
            self._process_tensors(graph, form["input"], None, form["output"])
            return None
        form = _bind(("input", "input_shapes", "output", "core_list"), args, kwargs, optional=1)
        if form is not None and _tensor_maps(form["input"], form["output"]) and isinstance(form["input_shapes"], Mapping):
            self._process_tensors(graph, form["input"], form["input_shapes"], form["output"])
            return None
        form = _bind(("input_tensors", "core_list"), args, kwargs, optional=1)
        if form is not None and isinstance(form["input_tensors"], Mapping):
            return self._process_arrays(graph, form["input_tensors"])
        raise TypeError("process() takes (graph_name, input_tensors: {name: numpy.ndarray}, core_list=[]), "
                        "(graph_name, input: {name: Tensor}, output: {name: Tensor}, core_list=[]) or "
                        "(graph_name, input, input_shapes: {name: list}, output, core_list=[])")

    def _process_arrays(self, graph: _Graph, input_tensors: Mapping[str, Any]) -> Dict[str, np.ndarray]:
        feeds = {}
        for name, value in input_tensors.items():
            _, dtype = graph.check_input(name)
            if _is_tensor(value):
                value = _tensor_values(value)
            feeds[name] = _cast(value, dtype or np.float32)
        return {n: a.astype(np.float32, copy=False) for n, a in graph.run(feeds).items()}

    def _process_tensors(self, graph: _Graph, inputs: Mapping[str, Any], input_shapes: Optional[Mapping[str, Any]],
                         outputs: Mapping[str, Any]) -> None:
        for name in outputs:
            graph.check_output(name)
        for name in input_shapes or {}:
            graph.check_input(name)
        feeds = {}
        for name, tensor in inputs.items():
            _, dtype = graph.check_input(name)
            data = _tensor_values(tensor)
            if input_shapes is not None and name in input_shapes:
                shape = [int(d) for d in input_shapes[name]]
                count = math.prod(shape)
                if min(shape, default=0) < 0 or count > data.size:
                    raise InvalidArgument(f"input tensor '{name}' of graph '{graph.name}': input_shapes gives "
                                          f"{shape} ({count} elements), the Tensor holds {data.size} "
                                          f"(shape {list(data.shape)})")
                data = data.reshape(-1)[:count].reshape(shape)
            feeds[name] = _cast(data, dtype or np.float32)
        result = graph.run(feeds)
        for name, tensor in outputs.items():
            value = _tensor_data(result[name], tensor.dtype())
            if list(tensor.shape()) != list(value.shape) and hasattr(tensor, "reshape"):
                tensor.reshape(list(value.shape))
            tensor.update_data(value)

    def __repr__(self) -> str:
        return f"Engine(tpu_id={self._tpu_id}, graphs={list(self._graphs)})"


def _tensor_maps(inputs: Any, outputs: Any) -> bool:
    return (isinstance(inputs, Mapping) and isinstance(outputs, Mapping)
            and all(_is_tensor(t) for t in inputs.values()) and all(_is_tensor(t) for t in outputs.values()))


def _bind(names: Sequence[str], args: Sequence[Any], kwargs: Mapping[str, Any],
          optional: int = 0) -> Optional[Dict[str, Any]]:
    """args and kwargs as `names` (the last `optional` of them may be left out); None if they do not fit."""
    if len(args) > len(names) or any(k not in names for k in kwargs):
        return None
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key in bound:
            return None
        bound[key] = value
    if any(n not in bound for n in names[:len(names) - optional]):
        return None
    return bound


def _bind_init(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Dict[str, Any]:
    first = args[0] if args else next(iter(kwargs.values()), None)
    if isinstance(first, (bytes, bytearray, memoryview)):
        form = _bind(("bmodel_bytes", "bmodel_size", "tpu_id", "mode"), args, kwargs, optional=1)
    elif isinstance(first, (str, os.PathLike)):
        form = _bind(("bmodel_path", "tpu_id", "mode"), args, kwargs, optional=1)
    elif "handle" in kwargs or isinstance(first, _types.Handle):
        form = _bind(("handle",), args, kwargs)
    else:
        form = _bind(("tpu_id",), args, kwargs)
    if form is None:
        raise TypeError("Engine() takes (tpu_id), (handle), (bmodel_path, tpu_id, mode) or "
                        "(bmodel_bytes, bmodel_size, tpu_id, mode)")
    return form
