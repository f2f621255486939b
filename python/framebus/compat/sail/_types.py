"""sail's data types for ``framebus.compat.sail``: enums, Handle, PaddingAtrr, bm_image, BMImage,
Tensor, and the link between sail pixel formats and framebus image formats.

The types live in one module per part (``_base``, ``_pixels``, ``_image``, ``_tensor``); this
module gathers them so the rest of the package imports them from one place.
"""

from __future__ import annotations

from ._base import *  # noqa: F401,F403
from ._base import __all__ as _base_all
from ._image import BMImage, bm_image
from ._pixels import from_framebus_format, to_framebus_format
from ._tensor import Tensor

__all__ = [*_base_all, "bm_image", "BMImage", "Tensor"]
