"""framebus: zero-copy shared-memory channels for video frames and tensors between processes.

    import framebus
    with framebus.Producer("cams", slots=16, slot_size="8MiB") as tx:
        tx.send(frame, stream=0, frame=i)
    with framebus.Consumer("cams", group="infer", wait=5.0) as rx:
        for msg in rx:
            img = msg.array            # read-only NumPy view, no copy
"""

from ._errors import (AlreadyExists, Closed, Corrupt, EndOfChannel, Error, InvalidArgument, InvalidName,
                      LimitReached, LingerExpired, LingerExpiredWarning, NotFound, PayloadTooLarge,
                      PermissionDenied, ProducerDied, SystemFailure, Timeout, VersionMismatch)
from . import _core
from ._classifier import Classifier
from ._decoder import MultiDecoder, probe
from ._endpoints import (Consumer, LoanArray, Message, Producer, channels, collect_garbage, gc, inspect, inspect_channel,
                         list_channels, remove, remove_channel, remove_group)
from ._pipeline import (InferenceResult, ResultSink, SinkEntry, StreamTally, Worker, WorkerStats, decode_result, encode_result,
                        encoded_result_size, end_of_stream_result, publish_result, results_producer)
from ._run import Pipeline, RunReport
from ._sizes import parse_size

__version__ = _core.__version__

__all__ = [
    "Classifier", "MultiDecoder", "probe", "Producer", "Consumer", "Message", "LoanArray", "list_channels", "inspect_channel", "remove_channel", "remove_group",
    "collect_garbage", "parse_size", "channels", "inspect", "remove", "gc",
    "Error", "InvalidArgument", "InvalidName", "PayloadTooLarge", "NotFound", "AlreadyExists",
    "PermissionDenied", "Corrupt", "VersionMismatch", "Timeout", "LimitReached", "Closed", "SystemFailure",
    "EndOfChannel", "ProducerDied", "LingerExpired", "LingerExpiredWarning",
    "InferenceResult", "encode_result", "decode_result", "encoded_result_size", "end_of_stream_result",
    "ResultSink", "SinkEntry", "StreamTally", "Worker", "WorkerStats", "publish_result", "results_producer",
    "Pipeline", "RunReport",
]
