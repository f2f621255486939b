"""framebus.compat.sail: sophon-sail's Python API on the CPU, on framebus.

Port a script by changing its import::

    # import sophon.sail as sail
    from framebus.compat import sail

and, for ``sail.Engine``, the model path (``.onnx`` instead of ``.bmodel``). Every call, its sail
meaning, what framebus does and each deliberate difference: ``docs/sail.md``.
"""

from ._types import *  # noqa: F401,F403  Handle, IOMode, Format, ImgDtype, Dtype, BMImage, bm_image, Tensor
from ._bmcv import *  # noqa: F401,F403  Bmcv
from ._decoder import *  # noqa: F401,F403  Decoder, MultiDecoder
from ._engine import *  # noqa: F401,F403  Engine
from ._ipc import IPC, channel_name  # noqa: F401
