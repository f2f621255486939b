"""framebus.Classifier on the tiny generated ResNet-18 (width 8, 10 classes, 64x64)."""

from __future__ import annotations

import hashlib
import os
import pathlib
import pickle
import threading
import time

import numpy as np
import pytest

import framebus
from media import TINY, make_model

pytestmark = pytest.mark.skipif(not hasattr(framebus._core, "_Classifier"), reason="built without the classifier")



@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """The build tree's tiny model (ctest's fixture writes it), else one generated here."""
    build = os.environ.get("FRAMEBUS_BUILD_DIR")
    if build:
        model = pathlib.Path(build) / "tests" / "classify_models" / "tiny.onnx"
        if model.exists():
            return model, model.with_suffix(".txt")
    root = tmp_path_factory.mktemp("models")
    make_model(root / "tiny.onnx", root / "tiny.txt", *TINY)
    return root / "tiny.onnx", root / "tiny.txt"


def picture(seed: int, height: int = 90, width: int = 120) -> np.ndarray:
    """A BGR picture that differs with the seed: gradients, a few blocks, noise."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([(xx * rng.uniform(0.5, 3) + yy * rng.uniform(0, 1)) % 256,
                    (yy * rng.uniform(0.5, 3)) % 256,
                    (xx * yy * rng.uniform(0.01, 0.1)) % 256], axis=-1)
    for _ in range(3):
        y, x = rng.randint(0, height - 10), rng.randint(0, width - 10)
        img[y:y + rng.randint(5, 40), x:x + rng.randint(5, 40)] = rng.randint(0, 256, 3)
    img += rng.randint(0, 20, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_the_generator_writes_the_same_bytes_every_time(tmp_path):
    make_model(tmp_path / "a.onnx", tmp_path / "a.txt", *TINY)
    make_model(tmp_path / "b.onnx", tmp_path / "b.txt", *TINY)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "a.onnx") == digest(tmp_path / "b.onnx")
    assert digest(tmp_path / "a.txt") == digest(tmp_path / "b.txt")
    make_model(tmp_path / "c.onnx", tmp_path / "c.txt", *TINY, "--seed", "3")
    assert digest(tmp_path / "a.onnx") != digest(tmp_path / "c.onnx")


def test_loads_the_model_and_its_labels(tiny):
    model, labels = tiny
    c = framebus.Classifier(model, labels)
    assert c.classes == 10
    assert c.input_size == (64, 64)
    assert c.labels == labels.read_text().splitlines()
    assert "10 classes" in repr(c)
    assert framebus.Classifier(str(model)).labels == []


def test_results_are_sorted_probability_tuples(tiny):
    c = framebus.Classifier(tiny[0], top_k=3)
    results = c.classify([picture(i) for i in range(5)])
    assert len(results) == 5
    for result in results:
        assert len(result) == 3
        assert all(isinstance(cls, int) and isinstance(score, float) for cls, score in result)
        scores = [score for _, score in result]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert len({cls for cls, _ in result}) == 3
    every = framebus.Classifier(tiny[0], top_k=100).classify([picture(0)])[0]
    assert len(every) == 10
    assert sum(score for _, score in every) == pytest.approx(1.0, abs=1e-4)


def test_a_picture_gets_the_same_answer_alone_and_in_a_batch(tiny):
    c = framebus.Classifier(tiny[0], top_k=10, max_batch=3)
    pictures = [picture(i) for i in range(7)]
    batched = c.classify(pictures)
    for i, pic in enumerate(pictures):
        alone = c.classify([pic])[0]
        assert [cls for cls, _ in alone][:1] == [cls for cls, _ in batched[i]][:1]
        assert np.allclose(sorted(s for _, s in alone), sorted(s for _, s in batched[i]), atol=1e-4)


def test_different_pictures_get_different_answers(tiny):
    results = framebus.Classifier(tiny[0]).classify([picture(i) for i in range(12)])
    assert len({r[0][0] for r in results}) >= 2
    assert len({round(r[0][1], 6) for r in results}) >= 11


def test_gray_strided_and_stacked_arrays(tiny):
    c = framebus.Classifier(tiny[0], top_k=10)
    pic = picture(1, 128, 160)
    view = pic[::2, ::2]  # not contiguous: copied once before classification
    assert not view.flags.c_contiguous
    a, b = c.classify([view, np.ascontiguousarray(view)])
    assert a == b
    gray = pic[:, :, 1]  # a strided gray view
    g1, g2 = c.classify([gray, np.ascontiguousarray(gray)])
    assert g1 == g2
    stacked = np.stack([picture(2, 64, 64), picture(3, 64, 64)])
    assert c.classify(stacked) == c.classify(list(stacked))
    with pytest.raises(framebus.InvalidArgument, match="not one array of shape"):
        c.classify(pic)


def test_unpickled_arrays_are_classified_like_the_originals(tiny):
    # An array that came through a multiprocessing queue has a dtype object of its own.
    c = framebus.Classifier(tiny[0], top_k=10)
    pictures = [picture(i) for i in range(2)]
    copies = pickle.loads(pickle.dumps(pictures))
    assert copies[0].dtype is not pictures[0].dtype
    assert c.classify(copies) == c.classify(pictures)


def test_messages_are_classified_in_place(tiny, name):
    c = framebus.Classifier(tiny[0], top_k=10)
    pictures = [picture(i, 72, 96) for i in range(3)]
    with framebus.Producer(name, slots=8, slot_size="1MiB", linger=0) as tx, \
            framebus.Consumer(name, group="infer") as rx:
        for i, pic in enumerate(pictures):
            tx.send(pic, stream=0, frame=i, format="bgr24")
        tx.send(b"not a picture", stream=0, frame=3)
        messages = [rx.receive(10.0) for _ in range(4)]
        assert all(m is not None for m in messages)
        assert c.classify(messages[:3]) == c.classify(pictures)
        # Messages and arrays can be mixed; a message that is no image is named by its index.
        assert c.classify([pictures[0], messages[1]]) == c.classify(pictures[:2])
        with pytest.raises(framebus.InvalidArgument, match=r"image 1: message \(stream 0, frame 3\) is not an image"):
            c.classify([messages[0], messages[3]])
        messages[0].release()
        with pytest.raises(framebus.Closed):
            c.classify([messages[0]])
        for m in messages:
            m.release()


def test_bad_pictures_are_named_by_index(tiny):
    c = framebus.Classifier(tiny[0])
    with pytest.raises(framebus.InvalidArgument, match="image 1: dtype float32"):
        c.classify([picture(0), picture(1).astype(np.float32)])
    with pytest.raises(ValueError, match="image 0: shape 10 x 10 x 4"):
        c.classify([np.zeros((10, 10, 4), np.uint8)])
    with pytest.raises(framebus.InvalidArgument, match="image 2: a str"):
        c.classify([picture(0), picture(1), "picture.jpg"])
    with pytest.raises(framebus.InvalidArgument, match="image 0: empty picture"):
        c.classify([np.zeros((0, 10, 3), np.uint8)])


def test_model_and_option_errors(tiny, tmp_path):
    model, _ = tiny
    with pytest.raises(framebus.NotFound, match="does not exist") as missing:
        framebus.Classifier(tmp_path / "none.onnx")
    assert isinstance(missing.value, FileNotFoundError)
    text = tmp_path / "text.onnx"
    text.write_text("hello, I am not a model\n")
    with pytest.raises(framebus.Corrupt, match=f"model '{text}' is not a valid ONNX file"):
        framebus.Classifier(text)
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(model.read_bytes()[:5000])
    with pytest.raises(framebus.Corrupt, match="truncated"):
        framebus.Classifier(truncated)
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    with pytest.raises(framebus.InvalidArgument, match="has 2 names, model .* has 10 classes"):
        framebus.Classifier(model, labels)
    with pytest.raises(framebus.InvalidArgument, match="unknown inference backend 'nope'"):
        framebus.Classifier(model, backend="nope")
    with pytest.raises(framebus.InvalidArgument, match="takes input width 64"):
        framebus.Classifier(model, input_size=32)
    with pytest.raises(framebus.InvalidArgument):
        framebus.Classifier(model, std=(0.2, 0.0, 0.2))


def test_the_gil_is_released_while_the_model_runs(tiny):
    c = framebus.Classifier(tiny[0], max_batch=64)
    frames = [picture(i, 1080, 1920) for i in range(4)]
    pictures = [frames[i % 4] for i in range(300)]  # work enough to measure, little memory
    c.classify(pictures[:2])  # warm up
    # Enough work to see a stall clearly, however fast the machine: grow it until one call lasts.
    while True:
        started = time.perf_counter()
        c.classify(pictures)
        alone = time.perf_counter() - started
        if alone > 0.2 or len(pictures) >= 4800:
            break
        pictures = pictures * 2
    assert alone > 0.05, "too fast to tell"

    done = threading.Event()
    worker = threading.Thread(target=lambda: (c.classify(pictures), done.set()))
    ticks = []
    worker.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
        time.sleep(0.001)  # not synchronisation: the tick rate of this thread is what is measured
    worker.join(60)
    gaps = np.diff(ticks) if len(ticks) > 1 else np.array([alone])
    # Holding the GIL would stop this thread for the whole run; released, it keeps ticking.
    assert len(ticks) > 5
    assert gaps.max() < max(alone / 2, 0.01), (gaps.max(), alone)
