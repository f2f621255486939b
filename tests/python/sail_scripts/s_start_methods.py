"""sail.IPC objects made in the parent and passed to multiprocessing.Process children, under one
start method: a decoding child sends through the parent's sender IPC, two inference children
receive through the parent's receiver IPC (each frame to one of them).

argv: model.onnx pipe_path start_method video. Prints common.report lines, then "done".
"""
import multiprocessing as mp
import sys

from framebus.compat import sail

from common import STOP, ResNet, report

RECEIVERS = 2


def decode(ipc, video):
    handle = sail.Handle(0)
    decoder = sail.Decoder(video, True, 0)
    frame_id = 0
    img = sail.BMImage()
    while decoder.read(handle, img) == 0:
        ipc.sendBMImage(img, 0, frame_id)
        frame_id += 1
    stop = sail.BMImage(handle, 2, 2, sail.Format.FORMAT_BGR_PACKED, sail.ImgDtype.DATA_TYPE_EXT_1N_BYTE)
    for _ in range(RECEIVERS):
        ipc.sendBMImage(stop, 0, STOP)
    decoder.release()


def receive(model_path, ipc):
    net = ResNet(model_path)
    while True:
        bmimg, channel_id, frame_id = ipc.receiveBMImage()
        if frame_id == STOP:
            break
        report(channel_id, frame_id, bmimg, net(bmimg))


if __name__ == "__main__":
    model_path, pipe_path, method, video = sys.argv[1:5]
    ctx = mp.get_context(method)
    sender = sail.IPC(True, pipe_path, "/tmp/final", False, 8)
    receiver = sail.IPC(False, pipe_path, "/tmp/final", True, 4)
    workers = [ctx.Process(target=receive, args=(model_path, receiver)) for _ in range(RECEIVERS)]
    workers.append(ctx.Process(target=decode, args=(sender, video)))
    for p in workers:
        p.start()
    for p in workers:
        p.join()
    if any(p.exitcode != 0 for p in workers):
        sys.exit(f"a process failed: {[p.exitcode for p in workers]}")
    print("done", flush=True)
