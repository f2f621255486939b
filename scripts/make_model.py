"""Writes a ResNet-18 image classifier as ONNX, with fixed pseudo-random weights, offline.

No pretrained weights can be downloaded where framebus is built and tested, so the model is
generated: the real ResNet-18 architecture (conv 7x7/2, max pool, 4 stages of 2 BasicBlocks with
1x1 downsample convolutions, BatchNormalization, ReLU, global average pool, Flatten, Gemm) with
He-scaled weights drawn from a seeded numpy RandomState.

Random weights alone make a classifier that answers the same class for every picture: the pooled
features share a large common component, and the last layer maps it to one winning class. So the
network is calibrated the way data-dependent initialisation does it: a forward pass over a few
seeded synthetic pictures sets each BatchNormalization's mean and variance to the statistics it
sees, and the Gemm bias removes the average logits. Different pictures then get different logits
and different top-1 classes, as with a trained network (the classes just mean nothing).

The output is byte-identical across runs: everything comes from the seed, numpy runs on one
thread, calibrated values are rounded to 4 significant digits (so that BLAS summation order cannot
show), and the protobuf carries no time stamp.

Only onnx.helper and numpy are used (Debian's python3-onnx and python3-numpy).

    scripts/make-model --out resnet18.onnx --labels labels.txt
    scripts/make-model --out tiny.onnx --labels tiny.txt --width 8 --classes 10 --input-size 64
    scripts/make-model --out zoo-style.onnx --input-name data --batch-dim N --opset 7   # as resnet50-v1-7.onnx
"""

from __future__ import annotations

import argparse
import os
import sys

# One BLAS thread: the calibration pass must sum in the same order on every run.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
from onnx import TensorProto, checker, helper, numpy_helper  # noqa: E402

# OpenCV 4.6's ONNX importer handles opset 11 fully (BatchNormalization, Gemm, Flatten).
OPSET = 11
BN_EPSILON = 1e-5
# ImageNet normalisation: what framebus::Classifier applies by default.
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
CALIBRATION_IMAGES = 8


def round_sig(values: np.ndarray, digits: int = 4) -> np.ndarray:
    """Rounds to `digits` significant digits, so tiny summation-order differences vanish."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros_like(values)
    nonzero = values != 0
    exponent = np.floor(np.log10(np.abs(values[nonzero])))
    scale = 10.0 ** (digits - 1 - exponent)
    out[nonzero] = np.round(values[nonzero] * scale) / scale
    return out


# ---- numpy reference of the operators (NCHW, float64), used for the calibration pass ----------

def conv2d(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    n, c, h, wd = x.shape
    k_out, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    # im2col: (n, oh, ow, c*kh*kw) built one kernel offset at a time.
    cols = np.empty((n, oh, ow, c, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, :, i, j] = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride].transpose(0, 2, 3, 1)
    out = cols.reshape(n * oh * ow, c * kh * kw) @ w.reshape(k_out, -1).T
    return out.reshape(n, oh, ow, k_out).transpose(0, 3, 1, 2)


def max_pool(x: np.ndarray, k: int = 3, stride: int = 2, pad: int = 1) -> np.ndarray:
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    out = np.full((n, c, oh, ow), -np.inf)
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride])
    return out


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


# ---- the model --------------------------------------------------------------------------------

class Builder:
    """Collects nodes and initializers, and runs the calibration forward pass alongside."""

    def __init__(self, rng: np.random.RandomState) -> None:
        self.rng = rng
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def add_init(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def conv(self, x: str, xv: np.ndarray, c_out: int, k: int, stride: int, pad: int, tag: str):
        c_in = xv.shape[1]
        # He (Kaiming) normal: keeps the activation variance through ReLU layers.
        w = self.rng.normal(0.0, np.sqrt(2.0 / (c_in * k * k)), (c_out, c_in, k, k)).astype(np.float32)
        w_name = self.add_init(f"{tag}.weight", w)
        out = self.name(tag)
        self.nodes.append(helper.make_node("Conv", [x, w_name], [out], name=out, kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[pad, pad, pad, pad]))
        return out, conv2d(xv, w.astype(np.float64), stride, pad)

    def batch_norm(self, x: str, xv: np.ndarray, tag: str):
        c = xv.shape[1]
        # The running statistics are those of the calibration pictures; scale and shift are drawn
        # around 1 and 0 (never equal across channels, so no exporter would fold them to Identity).
        mean = round_sig(xv.mean(axis=(0, 2, 3)))
        var = round_sig(xv.var(axis=(0, 2, 3)) + 1e-3)
        gamma = round_sig(self.rng.uniform(0.6, 1.4, c))
        beta = round_sig(self.rng.normal(0.0, 0.2, c))
        names = [self.add_init(f"{tag}.{part}", v) for part, v in
                 (("scale", gamma), ("bias", beta), ("mean", mean), ("var", var))]
        out = self.name(tag)
        self.nodes.append(helper.make_node("BatchNormalization", [x, *names], [out], name=out, epsilon=BN_EPSILON))
        f32 = lambda v: v.astype(np.float32).astype(np.float64)[None, :, None, None]  # noqa: E731
        yv = (xv - f32(mean)) / np.sqrt(f32(var) + BN_EPSILON) * f32(gamma) + f32(beta)
        return out, yv

    def relu(self, x: str, xv: np.ndarray):
        out = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [x], [out], name=out))
        return out, relu(xv)

    def add(self, a: str, av: np.ndarray, b: str, bv: np.ndarray):
        out = self.name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [out], name=out))
        return out, av + bv

    def basic_block(self, x: str, xv: np.ndarray, c_out: int, stride: int, tag: str):
        y, yv = self.conv(x, xv, c_out, 3, stride, 1, f"{tag}.conv1")
        y, yv = self.batch_norm(y, yv, f"{tag}.bn1")
        y, yv = self.relu(y, yv)
        y, yv = self.conv(y, yv, c_out, 3, 1, 1, f"{tag}.conv2")
        y, yv = self.batch_norm(y, yv, f"{tag}.bn2")
        shortcut, sv = x, xv
        if stride != 1 or xv.shape[1] != c_out:
            shortcut, sv = self.conv(x, xv, c_out, 1, stride, 0, f"{tag}.downsample.0")
            shortcut, sv = self.batch_norm(shortcut, sv, f"{tag}.downsample.1")
        y, yv = self.add(y, yv, shortcut, sv)
        return self.relu(y, yv)


def calibration_images(rng: np.random.RandomState, size: int) -> np.ndarray:
    """Seeded synthetic pictures in [0, 1], varied so that the statistics cover what frames look
    like: smooth colour fields with gradients and shapes (like photographs), the same with strong
    noise, stripes, and plain noise. A network calibrated on smooth pictures only would give huge
    logits (and softmax scores of exactly 1) to anything sharper."""
    images = np.empty((CALIBRATION_IMAGES, 3, size, size))
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    for n in range(CALIBRATION_IMAGES):
        kind = n % 4
        if kind == 3:
            images[n] = rng.uniform(0.0, 1.0, (3, size, size))
            continue
        coarse = rng.uniform(0.0, 1.0, (3, 4, 4))
        # Bilinear upsampling of the coarse grid: a smooth colour field.
        gy = yy * 3
        gx = xx * 3
        y0 = np.minimum(gy.astype(int), 2)
        x0 = np.minimum(gx.astype(int), 2)
        fy = gy - y0
        fx = gx - x0
        field = (coarse[:, y0, x0] * (1 - fy) * (1 - fx) + coarse[:, y0 + 1, x0] * fy * (1 - fx)
                 + coarse[:, y0, x0 + 1] * (1 - fy) * fx + coarse[:, y0 + 1, x0 + 1] * fy * fx)
        angle = rng.uniform(0, 2 * np.pi)
        gradient = 0.5 + 0.5 * np.cos(angle) * (xx - 0.5) + 0.5 * np.sin(angle) * (yy - 0.5)
        image = 0.6 * field + 0.4 * gradient[None]
        if kind == 2:
            period = rng.uniform(0.02, 0.2)
            image = 0.5 * image + 0.5 * (np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) > 0)
        for _ in range(3):
            cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.3)
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            image[:, mask] = rng.uniform(0.0, 1.0, (3, 1))
        image += rng.normal(0.0, 0.02 if kind == 0 else 0.15, image.shape)
        images[n] = np.clip(image, 0.0, 1.0)
    return (images - MEAN[None, :, None, None]) / STD[None, :, None, None]


def build(classes: int, width: int, input_size: int, seed: int, input_name: str = "input", batch_dim: str = "batch",
          opset: int = OPSET):
    rng = np.random.RandomState(seed)
    b = Builder(rng)
    xv = calibration_images(rng, input_size)

    x, xv = b.conv(input_name, xv, width, 7, 2, 3, "conv1")
    x, xv = b.batch_norm(x, xv, "bn1")
    x, xv = b.relu(x, xv)
    pooled = b.name("maxpool")
    b.nodes.append(helper.make_node("MaxPool", [x], [pooled], name=pooled, kernel_shape=[3, 3], strides=[2, 2],
                                    pads=[1, 1, 1, 1]))
    x, xv = pooled, max_pool(xv)
    for stage, (mult, stride) in enumerate(((1, 1), (2, 2), (4, 2), (8, 2)), start=1):
        for block in range(2):
            x, xv = b.basic_block(x, xv, width * mult, stride if block == 0 else 1, f"layer{stage}.{block}")

    gap = b.name("avgpool")
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], [gap], name=gap))
    flat = b.name("flatten")
    b.nodes.append(helper.make_node("Flatten", [gap], [flat], name=flat, axis=1))
    features = xv.mean(axis=(2, 3))

    fc_w = rng.normal(0.0, np.sqrt(1.0 / features.shape[1]), (classes, features.shape[1]))
    # Logits relative to the calibration average (the common component would pick one class for
    # every picture), scaled to a spread of about 2 so that softmax scores are not all ~1/classes.
    logits = features @ fc_w.T
    spread = float(np.std(logits - logits.mean(axis=0))) or 1.0
    fc_w = round_sig(fc_w * (2.0 / spread))
    fc_b = round_sig(-(features @ fc_w.T).mean(axis=0))
    b.add_init("fc.weight", fc_w)
    b.add_init("fc.bias", fc_b)
    b.nodes.append(helper.make_node("Gemm", [flat, "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1))

    inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch_dim, 3, input_size, input_size])]
    ir_version = 7  # what onnx 1.12 writes for opset 11-13; OpenCV 4.6 reads it
    if opset != OPSET:
        ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    if ir_version < 4:
        # IR 3 (opset 7 and 8, as in the model zoo's older files) lists every weight as an input too.
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, t.dims) for t in b.initializers]
    graph = helper.make_graph(
        b.nodes, f"resnet18_w{width}_c{classes}_s{input_size}", inputs,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch_dim, classes])],
        b.initializers)
    model = helper.make_model(graph, producer_name="framebus make_model", producer_version="1",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    model.doc_string = (f"ResNet-18 architecture, base width {width}, {classes} classes, input {input_size}x"
                        f"{input_size}, seed {seed}: fixed pseudo-random weights (not trained).")
    checker.check_model(model)
    return model


SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "si", "pe", "da", "fu", "gi", "ho", "ja", "ku", "le",
             "mo", "ni", "ob", "pa", "qui", "ra", "se", "tu", "ul", "va", "wi", "xe", "yo", "za"]


def labels(classes: int, seed: int) -> list[str]:
    """ImageNet-style names ("word, word"), unique, fixed by the seed."""
    rng = np.random.RandomState(seed + 1)
    seen: set[str] = set()
    out = []

    def word() -> str:
        return "".join(SYLLABLES[i] for i in rng.randint(0, len(SYLLABLES), rng.randint(2, 4)))

    for index in range(classes):
        name = f"{word()}, {word()} {word()}"
        if name in seen:
            name = f"{name} {index}"
        seen.add(name)
        out.append(name)
    return out


def write_atomically(path: str, data: bytes) -> None:
    """Parallel test fixtures may read the file: they see the old one or the new one, whole."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--labels", help="also write a label file: one class name per line")
    parser.add_argument("--classes", type=int, default=1000, help="number of classes (default 1000)")
    parser.add_argument("--width", type=int, default=64, help="base channel width (default 64 = ResNet-18)")
    parser.add_argument("--input-size", type=int, default=224, help="input height and width (default 224)")
    parser.add_argument("--seed", type=int, default=18, help="seed of the weights (default 18)")
    # Other exporters' conventions, e.g. the model zoo's resnet50-v1-7.onnx: --input-name data
    # --batch-dim N --opset 7. The weights and the predictions stay the same.
    parser.add_argument("--input-name", default="input", help="name of the graph input (default input)")
    parser.add_argument("--batch-dim", default="batch", help="symbolic name of the batch dimension (default batch)")
    parser.add_argument("--opset", type=int, default=OPSET, choices=range(7, 14), metavar="7..13",
                        help=f"ONNX operator set (default {OPSET}); 7 and 8 also list the weights as inputs (IR 3)")
    args = parser.parse_args(argv)
    if args.classes < 1 or args.width < 1 or args.input_size < 32 or args.seed < 0:
        parser.error("--classes and --width must be >= 1, --input-size >= 32, --seed >= 0")
    if not args.input_name or not args.batch_dim or args.input_name == "logits":
        parser.error("--input-name and --batch-dim must be non-empty, and the input cannot be named logits")

    model = build(args.classes, args.width, args.input_size, args.seed, args.input_name, args.batch_dim, args.opset)
    write_atomically(args.out, model.SerializeToString())
    if args.labels:
        write_atomically(args.labels, "".join(f"{name}\n" for name in labels(args.classes, args.seed)).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
