"""sail's data types for ``framebus.compat.sail``: enums, Handle, PaddingAtrr, bm_image, BMImage,
the BMImageArrayND batches, Tensor, the link between sail pixel formats and framebus image
formats, and sail's module-level functions.

The types live in one module per part (``_base``, ``_pixels``, ``_image``, ``_image_array``,
``_tensor``, ``_module``); this module gathers them so the rest of the package imports them from
one place (and the package star-imports its ``__all__``).
"""

from __future__ import annotations

from ._base import *  # noqa: F401,F403
from ._base import __all__ as _base_all
from ._image import BMImage, bm_image
from ._image_array import *  # noqa: F401,F403  BMImageArray2D ... BMImageArray256D
from ._image_array import __all__ as _array_all
from ._module import *  # noqa: F401,F403  get_available_tpu_num, set_print_flag, LogLevel, ...
from ._module import __all__ as _module_all
from ._pixels import from_framebus_format, to_framebus_format
from ._tensor import Tensor

__all__ = [*_base_all, "bm_image", "BMImage", "Tensor", *_array_all, *_module_all]
