"""One vocabulary: `frame`, `user_meta` and the admin calls named as in C++ and the CLI; the older
Python names still work for one release and warn with DeprecationWarning."""

import os
import site
import subprocess
import sys
import warnings

import numpy as np
import pytest

import framebus


@pytest.fixture
def name(request):
    channel = f"names.{request.node.name}.{os.getpid()}"
    yield channel
    try:
        framebus.remove_channel(channel)
    except framebus.NotFound:
        pass


def test_frame_and_user_meta_travel_without_warnings(name):
    with framebus.Producer(name, slots=4, slot_size=4096, groups=["g"]) as tx, \
            framebus.Consumer(name, group="g") as rx:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tx.send(np.arange(4, dtype=np.uint8), stream=3, frame=41, user_meta=b"cam")
            buf = tx.loan(4)
            buf[:] = 7
            buf.publish(stream=3, frame=42, user_meta=b"loan")
            first, second = rx.receive(5.0), rx.receive(5.0)
            assert (first.stream, first.frame, first.user_meta) == (3, 41, b"cam")
            assert (second.frame, second.user_meta) == (42, b"loan")
            assert "frame=41" in repr(first)


def test_old_keywords_and_attributes_warn_and_still_work(name):
    with framebus.Producer(name, slots=4, slot_size=4096, groups=["g"]) as tx, \
            framebus.Consumer(name, group="g") as rx:
        with pytest.warns(DeprecationWarning, match="frame_id= is deprecated: use frame="):
            tx.send(np.zeros(4, np.uint8), frame_id=5)
        with pytest.warns(DeprecationWarning, match="meta= is deprecated: use user_meta="):
            tx.send(np.zeros(4, np.uint8), frame=6, meta=b"old")
        with pytest.warns(DeprecationWarning, match="frame_id= is deprecated"):
            tx.loan(4).publish(frame_id=7)
        got = [rx.receive(5.0) for _ in range(3)]
        with pytest.warns(DeprecationWarning, match="Message.frame_id is deprecated: use Message.frame"):
            assert [m.frame_id for m in got] == [5, 6, 7]
        with pytest.warns(DeprecationWarning, match="Message.meta is deprecated: use Message.user_meta"):
            assert got[1].meta == b"old"
        assert [m.frame for m in got] == [5, 6, 7]


def test_one_field_given_under_both_names_is_refused(name):
    with framebus.Producer(name, slots=4, slot_size=4096) as tx:
        with pytest.raises(framebus.InvalidArgument, match="frame= .frame_id= is its deprecated name"):
            tx.send(np.zeros(4, np.uint8), frame=1, frame_id=2)
        with pytest.raises(framebus.InvalidArgument, match="user_meta="):
            tx.send(np.zeros(4, np.uint8), user_meta=b"a", meta=b"b")


def test_admin_calls_have_the_library_names_and_the_old_ones_warn(name):
    with framebus.Producer(name, slots=4, slot_size=4096):
        assert any(c["name"] == name for c in framebus.list_channels())
        assert framebus.inspect_channel(name)["name"] == name
        with pytest.warns(DeprecationWarning, match=r"framebus.channels\(\) is deprecated: use framebus.list_channels\(\)"):
            assert any(c["name"] == name for c in framebus.channels())
        with pytest.warns(DeprecationWarning, match=r"use framebus.inspect_channel\(\)"):
            assert framebus.inspect(name)["name"] == name
        with pytest.warns(DeprecationWarning, match=r"use framebus.collect_garbage\(\)"):
            assert name not in framebus.gc()
        assert name not in framebus.collect_garbage()
        framebus.remove_channel(name)
        with pytest.raises(framebus.NotFound):
            framebus.inspect_channel(name)
        with pytest.warns(DeprecationWarning, match=r"use framebus.remove_channel\(\)"), pytest.raises(framebus.NotFound):
            framebus.remove(name)


def test_every_exported_name_is_in_the_stub():
    stub = os.path.join(os.path.dirname(framebus.__file__), "__init__.pyi")
    text = open(stub).read()
    missing = [n for n in framebus.__all__ if f"def {n}(" not in text and f"class {n}" not in text
               and f"{n} =" not in text and f"{n}:" not in text]
    assert not missing, f"__init__.pyi lacks {missing}"


def test_the_examples_type_check_against_the_stub_under_mypy_strict(tmp_path):
    """__init__.pyi describes the package as the examples use it: mypy --strict finds nothing in
    examples/python checked against it (the stub of the package imported here)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(framebus.__file__)))
    env = dict(os.environ, PYTHONPATH=package_parent, MYPYPATH=package_parent)
    if package_parent in site.getsitepackages() + [site.getusersitepackages()]:
        del env["MYPYPATH"]  # mypy refuses site-packages there, and finds an installed framebus anyway
    command = [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports",
               "--cache-dir", str(tmp_path / "mypy-cache"), "examples/python"]
    proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(command)} failed:\n{proc.stdout}{proc.stderr}"
