"""A worker written in Python for a pipeline whose other workers are C++ (`framebus worker`, or
those `framebus run` starts): it joins the frames channel's "workers" group, classifies each
frame with its own model call, and publishes records with the shared codec into the results
channel, where the C++ sink orders them with everyone else's.

    python_result_worker.py FRAMES RESULTS MODEL LABELS WORKER_ID

Prints "joined" once it is a member of the group, and "done N" (frames classified) at the end.
"""

from __future__ import annotations

import os
import sys
import time

import framebus


def main() -> None:
    frames_channel, results_channel, model, labels, worker_id = sys.argv[1:6]
    worker_id = int(worker_id)
    classifier = framebus.Classifier(model, labels, top_k=5)
    # The results producer first: a run ends once its results channel has no producer left, so
    # this worker must be one before it takes a frame whose result the sink then waits for.
    results = framebus.results_producer(results_channel)
    rx = framebus.Consumer(frames_channel, group="workers", wait=30.0)
    print("joined", flush=True)
    done = batches = 0
    with rx, results:
        for msg in rx:
            if msg.end_of_stream:
                framebus.publish_result(results, framebus.end_of_stream_result(msg.stream, msg.frame, worker_id,
                                                                               os.getpid()))
                msg.release()
                continue
            received = time.monotonic_ns()
            top = classifier.classify([msg])[0]  # any model would do: numpy, torch, cv2.dnn
            batches += 1
            framebus.publish_result(results, framebus.InferenceResult(
                stream=msg.stream, frame=msg.frame, pts_us=msg.pts, top=top, published_ns=msg.publish_time_ns,
                received_ns=received, infer_start_ns=received, infer_end_ns=time.monotonic_ns(), worker=worker_id,
                batch_size=1, batch=batches, worker_pid=os.getpid(), redelivered=msg.redelivered))
            msg.release()  # only after its result is out: a kill before this loses nothing
            done += 1
    print(f"done {done}", flush=True)


if __name__ == "__main__":
    main()
