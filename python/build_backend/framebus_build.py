"""PEP 517 backend for framebus: builds framebus._core with the project's CMake and packs a wheel.

Only the standard library is used, so ``pip install --no-build-isolation .`` works offline.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAME = "framebus"
VERSION = "0.1.0"


def _tag() -> str:
    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{py}-{py}-{platform}"


def _metadata() -> str:
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
            "Summary: Zero-copy shared-memory channels for video frames and tensors between processes\n"
            "Requires-Python: >=3.9\nRequires-Dist: numpy\n")


def _build_package(build_dir: pathlib.Path) -> pathlib.Path:
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir), *generator, "-DCMAKE_BUILD_TYPE=Release",
                    "-DFRAMEBUS_BUILD_TESTS=OFF", "-DFRAMEBUS_BUILD_BENCH=OFF", "-DFRAMEBUS_BUILD_TOOLS=OFF",
                    "-DFRAMEBUS_BUILD_EXAMPLES=OFF", f"-DPython3_EXECUTABLE={sys.executable}"], check=True)
    subprocess.run(["cmake", "--build", str(build_dir), "--target", "framebus_python", "--parallel"], check=True)
    return build_dir / "python" / NAME


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with tempfile.TemporaryDirectory(prefix="framebus-wheel-") as tmp:
        package = _build_package(pathlib.Path(tmp) / "build")
        wheel_name = f"{NAME}-{VERSION}-{_tag()}.whl"
        dist_info = f"{NAME}-{VERSION}.dist-info"
        records = []
        with zipfile.ZipFile(pathlib.Path(wheel_directory) / wheel_name, "w", zipfile.ZIP_DEFLATED) as wheel:
            for path in sorted(package.rglob("*")):
                if path.is_dir() or "__pycache__" in path.parts:
                    continue
                arcname = f"{NAME}/{path.relative_to(package).as_posix()}"
                data = path.read_bytes()
                wheel.writestr(arcname, data)
                records.append(_record_line(arcname, data))
            extra = {
                f"{dist_info}/METADATA": _metadata().encode(),
                f"{dist_info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: framebus_build\nRoot-Is-Purelib: false\n"
                                        f"Tag: {_tag()}\n").encode(),
                f"{dist_info}/top_level.txt": f"{NAME}\n".encode(),
            }
            for arcname, data in extra.items():
                wheel.writestr(arcname, data)
                records.append(_record_line(arcname, data))
            records.append(f"{dist_info}/RECORD,,")
            wheel.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    name = f"{NAME}-{VERSION}"
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files"], check=True, capture_output=True, text=True).stdout.split()
    archive = pathlib.Path(sdist_directory) / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for rel in files:
            tar.add(ROOT / rel, arcname=f"{name}/{rel}")
        info = tarfile.TarInfo(f"{name}/PKG-INFO")
        data = _metadata().encode()
        info.size = len(data)
        tar.addfile(info, fileobj=__import__("io").BytesIO(data))
    return archive.name
