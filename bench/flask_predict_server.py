#!/usr/bin/python3
"""Flask + PyTorch half of the serving benchmark (bench/run_serving.sh).

The seeds' stack serving the model digitpipe ships: POST /api/predict takes the gateway's body
({"image": "data:image/png;base64,..."}, or raw image/png | image/jpeg bytes), decodes it with
Pillow, prepares it the way plugins/infer/src/preprocess.cpp does (numpy, same steps and
constants), and reads it with models/digitpipe-mnist.safetensors rebuilt as a torch.nn.Module
from the architecture stored in the file's own metadata. The reply has the gateway's shape
(web/API.md): found, digit, label, confidence, probabilities, input, model, latency_ms.

Usage:
  flask_predict_server.py [--port 5000] [--server werkzeug|waitress] [--threads 4]
                          [--optimize] [--torch-threads 2]
      werkzeug: app.run(threaded=True), Flask's development server, as the seeds run it;
      waitress: waitress.serve(app, threads=N), a production WSGI server (python3-waitress);
      --optimize: TorchScript optimize_for_inference (oneDNN convolutions) instead of eager.
  flask_predict_server.py --selfcheck [--count 1000]
      the rebuilt model on the first COUNT MNIST test images (raw IDX, pixel / 255, as
      `digitpipe eval` feeds them): accuracy >= 99%, and agreement with the evaluation our
      engine stored in the model file (its most confident mistakes: same digit, confidence
      within 0.02, as that evaluation ran in bf16; with --count 10000 the whole confusion
      matrix must be identical).
  flask_predict_server.py --compare-samples SAMPLES.json
      torch against our infer stage's fp32 replies (a saved GET /api/sample_predictions).
  flask_predict_server.py --profile IMAGE.png [--repeat 200] [--optimize] [--torch-threads 2]
      mean time of each step of one request (decode, preprocess, forward, reply JSON)
      outside any HTTP server, and the reply.

Needs Debian's python3-torch, python3-flask, python3-pil, python3-yaml, python3-numpy (and
python3-waitress for --server waitress); run with /usr/bin/python3.
"""
import argparse
import base64
import binascii
import hashlib
import io
import json
import math
import os
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import yaml
    from PIL import Image, ImageOps
    from torch import nn
except ImportError:
    # A pyenv or venv python3 often shadows Debian's interpreter, the one that sees
    # python3-torch: retry there once rather than fail.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath(
            "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    sys.exit("flask_predict_server: needs python3-torch python3-numpy python3-yaml python3-pil")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(REPO, "models", "digitpipe-mnist.safetensors")
DEFAULT_DATA = os.path.join(REPO, "data", "mnist")
THREADS = 2  # shared/FACTS.md: Debian's torch starts with 1 thread; peers get 2

# ---- the model file ---------------------------------------------------------------------------


def read_safetensors(path):
    """(tensors {name: float32 ndarray}, metadata {str: str}, sha256 of the file).

    Layout (plugins/nn/include/digitpipe/nn/safetensors.hpp): 8-byte little-endian header
    length, JSON header, then the little-endian row-major data, tensor by tensor."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + length].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = memoryview(raw)[8 + length:]
    expected = metadata.get("data_sha256")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise ValueError(f"{path}: data checksum mismatch")
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        shape = entry["shape"]
        if end - begin != 4 * math.prod(shape):
            raise ValueError(f"{path}: tensor {name}: {end - begin} bytes for shape {shape}")
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape).copy()
    return tensors, metadata, hashlib.sha256(raw).hexdigest()


def build_model(architecture_yaml, tensors):
    """torch.nn.Sequential for a digitpipe spec (plugins/nn/include/digitpipe/nn/spec.hpp),
    its parameters taken from `tensors` ("<layer name>.<role>", layer names defaulting to
    "<kind>_<index>"). Every tensor must be used, with its exact shape."""
    spec = yaml.safe_load(architecture_yaml)
    shape = list(spec["input"])  # C, H, W of one image; [K] after flatten/dense
    modules = []
    used = set()

    def take(name, expected_shape):
        if name not in tensors:
            raise ValueError(f"model file has no tensor {name}")
        value = tensors[name]
        if list(value.shape) != list(expected_shape):
            raise ValueError(f"tensor {name} is {list(value.shape)}, expected {expected_shape}")
        used.add(name)
        return torch.from_numpy(value)

    for index, layer in enumerate(spec["layers"]):
        kind = layer["type"]
        name = layer.get("name") or f"{kind}_{index}"
        if kind == "conv2d":
            filters, k = layer["filters"], layer.get("kernel_size", 3)
            stride = layer.get("stride", 1)
            padding = layer.get("padding", "same")
            c, h, w = shape
            if padding == "same":  # Keras/TensorFlow: odd padding goes right/bottom
                out_h, out_w = -(-h // stride), -(-w // stride)
                pad_h = max((out_h - 1) * stride + k - h, 0)
                pad_w = max((out_w - 1) * stride + k - w, 0)
                pads = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
            else:
                p = 0 if padding == "valid" else int(padding)
                pads = (p, p, p, p)
            use_bias = layer.get("use_bias", True)
            if pads[0] == pads[1] == pads[2] == pads[3]:
                conv = nn.Conv2d(c, filters, k, stride=stride, padding=pads[0], bias=use_bias)
            else:
                modules.append(nn.ZeroPad2d(pads))
                conv = nn.Conv2d(c, filters, k, stride=stride, padding=0, bias=use_bias)
            conv.weight.data.copy_(take(f"{name}.weights", [filters, c, k, k]))  # OIHW
            if use_bias:
                conv.bias.data.copy_(take(f"{name}.bias", [filters]))
            modules.append(conv)
            shape = [filters, (h + pads[2] + pads[3] - k) // stride + 1,
                     (w + pads[0] + pads[1] - k) // stride + 1]
        elif kind == "batch_norm":
            channels = shape[0]
            eps = float(layer.get("epsilon", 1e-3))
            bn = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(channels, eps=eps)
            bn.weight.data.copy_(take(f"{name}.scale", [channels]))
            bn.bias.data.copy_(take(f"{name}.shift", [channels]))
            bn.running_mean.copy_(take(f"{name}.running_mean", [channels]))
            bn.running_var.copy_(take(f"{name}.running_var", [channels]))
            modules.append(bn)
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "max_pool":
            pool = layer.get("pool_size", 2)
            stride = layer.get("stride", 0) or pool
            modules.append(nn.MaxPool2d(pool, stride=stride))
            shape = [shape[0], (shape[1] - pool) // stride + 1, (shape[2] - pool) // stride + 1]
        elif kind == "dropout":
            modules.append(nn.Dropout(layer.get("rate", 0.5)))  # identity in eval()
        elif kind == "global_avg_pool":
            modules.append(nn.AdaptiveAvgPool2d(1))
            shape = [shape[0], 1, 1]
        elif kind == "flatten":
            modules.append(nn.Flatten())  # C, H, W order, as digitpipe's flatten
            shape = [math.prod(shape)]
        elif kind == "dense":
            if len(shape) != 1:  # N x K x 1 x 1 is accepted by digitpipe's dense
                modules.append(nn.Flatten())
                shape = [math.prod(shape)]
            units, use_bias = layer["units"], layer.get("use_bias", True)
            dense = nn.Linear(shape[0], units, bias=use_bias)
            dense.weight.data.copy_(take(f"{name}.weights", [units, shape[0]]))  # out x in
            if use_bias:
                dense.bias.data.copy_(take(f"{name}.bias", [units]))
            modules.append(dense)
            shape = [units]
        else:
            raise ValueError(f"layer {index}: unknown type {kind}")
    unused = sorted(set(tensors) - used)
    if unused:
        raise ValueError(f"model file has tensors the architecture does not use: {unused}")
    model = nn.Sequential(*modules)
    model.eval()
    return model, spec


class Predictor:
    """optimize: torch.jit.optimize_for_inference (TorchScript, frozen, convolutions through
    oneDNN). Eager mode is what the seeds run; Debian's torch 1.13 then sends a batch of one
    through its slow im2col + reference-BLAS convolution for every layer whose input is below
    20,480 values (all but one here): about 15 ms a forward on this machine, against about
    1 ms optimised (1 thread, idle machine)."""

    def __init__(self, path=DEFAULT_MODEL, optimize=False):
        tensors, self.metadata, self.sha256 = read_safetensors(path)
        self.model, self.spec = build_model(self.metadata["architecture"], tensors)
        self.class_names = json.loads(self.metadata.get("class_names", "null")) or [
            str(i) for i in range(10)]
        if optimize:
            self.model = torch.jit.optimize_for_inference(torch.jit.script(self.model))
            for _ in range(3):  # TorchScript's profiling runs specialise on the first calls
                self.forward(np.zeros((1, 1, MNIST_SIDE, MNIST_SIDE), dtype=np.float32))

    def forward(self, batch):
        """batch: float32 ndarray N x 1 x 28 x 28 -> probabilities N x classes (float32)."""
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(batch))
            return torch.softmax(logits, dim=1).numpy()


# ---- preprocessing: plugins/infer/src/preprocess.cpp in numpy ----------------------------------

MNIST_SIDE = 28
DIGIT_BOX = 20
CENTRE_OF_MASS = 14.0
MIN_CONTRAST = np.float32(0.1)
NOISE_FLOOR = np.float32(0.2)
HALF_OPAQUE = 0.5
LIGHT_BACKGROUND = 0.5
BORDER_DIVISOR = 64


def decode(data):
    """Image bytes -> uint8 H x W x C, C in 1..4 (grey, grey+alpha, RGB, RGBA) as libpng's
    simplified API gives them to our decoder; JPEG EXIF orientation applied."""
    image = Image.open(io.BytesIO(data))
    if image.format not in ("PNG", "JPEG"):
        raise ValueError(f"image: not a PNG or JPEG ({image.format})")
    if image.format == "JPEG":
        image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in mode or "transparency" in image.info
                              else ("L" if mode in ("1", "I", "I;16", "F") else "RGB"))
    samples = np.asarray(image, dtype=np.uint8)
    return samples[:, :, None] if samples.ndim == 2 else samples


def lround(x):
    """C's lround: halves away from zero (numpy rounds them to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def border_mask(height, width):
    ring = min(1 + min(width, height) // BORDER_DIVISOR, min(width, height))
    mask = np.zeros((height, width), dtype=bool)
    mask[:ring, :] = mask[-ring:, :] = True
    mask[:, :ring] = mask[:, -ring:] = True
    return mask


def lower_median(levels):
    """Lower median of 8-bit levels (the histogram median of preprocess.cpp), as a fraction."""
    counts = np.cumsum(np.bincount(levels, minlength=256))
    return int(np.searchsorted(2 * counts, counts[-1])) / np.float32(255.0)


def extract_ink(samples):
    """Ink in [0, 1] (float32 H x W), or None when there is none."""
    height, width, channels = samples.shape
    border = border_mask(height, width)
    has_alpha = channels in (2, 4)
    alpha = samples[:, :, -1].astype(np.float32) / np.float32(255.0) if has_alpha else None
    ink = None
    if has_alpha and lower_median(samples[:, :, -1][border]) < HALF_OPAQUE:
        ink = alpha.copy()  # transparent background: ink = opacity, colour ignored
    if ink is None:
        f = samples.astype(np.float32)
        if channels < 3:
            luma = f[:, :, 0] / np.float32(255.0)
        else:
            luma = (np.float32(0.299) * f[:, :, 0] + np.float32(0.587) * f[:, :, 1] +
                    np.float32(0.114) * f[:, :, 2]) / np.float32(255.0)
        opaque_border = border if alpha is None else border & (alpha >= HALF_OPAQUE)
        if opaque_border.any():
            levels = np.clip(np.floor(luma[opaque_border] * 255.0 + 0.5), 0, 255).astype(np.int64)
            background = np.float32(lower_median(levels))
        else:
            background = np.float32(1.0)
        if alpha is not None:  # composited over the background
            luma = alpha * luma + (np.float32(1.0) - alpha) * background
        ink = background - luma if background >= LIGHT_BACKGROUND else luma - background
        ink = np.maximum(ink, np.float32(0.0))
    contrast = ink.max()
    if contrast < MIN_CONTRAST:
        return None
    relative = ink / contrast
    return np.where(relative <= NOISE_FLOOR, np.float32(0.0),
                    (relative - NOISE_FLOOR) / (np.float32(1.0) - NOISE_FLOOR)).astype(np.float32)


def resample_matrix(src, dst):
    """dst x src weights: box filter (area overlap) when shrinking, bilinear with edge
    clamping when enlarging; preprocess.cpp's make_taps."""
    m = np.zeros((dst, src), dtype=np.float32)
    ratio = src / dst
    for i in range(dst):
        if dst <= src:
            begin, end = i * ratio, (i + 1) * ratio
            last = min(src - 1, math.ceil(end) - 1)
            for k in range(math.floor(begin), last + 1):
                overlap = min(end, k + 1.0) - max(begin, float(k))
                if overlap > 0.0:
                    m[i, k] += np.float32(overlap / ratio)
        else:
            centre = (i + 0.5) * ratio - 0.5
            floor = math.floor(centre)
            fraction = np.float32(centre - floor)
            m[i, min(max(floor, 0), src - 1)] += np.float32(1.0) - fraction
            m[i, min(max(floor + 1, 0), src - 1)] += fraction
    return m


def preprocess(samples):
    """uint8 H x W x C -> uint8 28 x 28 (0 background, 255 ink), or None: no digit."""
    ink = extract_ink(samples)
    if ink is None:
        return None
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = ink[y0:y1, x0:x1]
    box_h, box_w = crop.shape
    scale = DIGIT_BOX / max(box_w, box_h)
    width = DIGIT_BOX if box_w >= box_h else max(1, lround(box_w * scale))
    height = DIGIT_BOX if box_h >= box_w else max(1, lround(box_h * scale))
    digit = resample_matrix(box_h, height) @ (crop @ resample_matrix(box_w, width).T)
    digit = digit / digit.max()
    mass = float(digit.sum(dtype=np.float64))
    ys, xs = np.indices(digit.shape)
    com_x = float((digit * xs).sum(dtype=np.float64)) / mass
    com_y = float((digit * ys).sum(dtype=np.float64)) / mass
    off_x = min(max(lround(CENTRE_OF_MASS - com_x), 0), MNIST_SIDE - width)
    off_y = min(max(lround(CENTRE_OF_MASS - com_y), 0), MNIST_SIDE - height)
    out = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.uint8)
    out[off_y:off_y + height, off_x:off_x + width] = np.floor(
        np.clip(digit, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return out


# ---- the request ------------------------------------------------------------------------------


class BadRequest(Exception):
    pass


def image_bytes(content_type, body):
    """The image bytes of a predict body (JSON data URL or plain base64; raw PNG/JPEG)."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type in ("image/png", "image/jpeg"):
        return body
    if content_type != "application/json":
        raise BadRequest("unsupported_media_type")
    try:
        text = json.loads(body)["image"]
        if text.startswith("data:"):
            text = text[text.index(",") + 1:]
        return base64.b64decode(text, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise BadRequest(f"invalid_argument: {e}") from e


def predict_reply(predictor, data):
    """The reply dict for image bytes (the gateway's shape, latency_ms added by the caller)."""
    try:
        samples = decode(data)
    except Exception as e:  # Pillow raises many kinds for bad bytes
        raise BadRequest(f"invalid_argument: image: {e}") from e
    digit28 = preprocess(samples)
    if digit28 is None:
        return {"found": False, "message": "no digit found: blank or uniform image",
                "digit": None, "label": None, "confidence": None, "probabilities": None,
                "input": [0] * (MNIST_SIDE * MNIST_SIDE), "model": predictor.sha256}
    batch = (digit28.astype(np.float32) / np.float32(255.0)).reshape(1, 1, MNIST_SIDE, MNIST_SIDE)
    probabilities = predictor.forward(batch)[0]
    best = int(probabilities.argmax())
    return {"found": True, "digit": best, "label": predictor.class_names[best],
            "confidence": float(probabilities[best]),
            "probabilities": [float(p) for p in probabilities],
            "input": digit28.reshape(-1).tolist(), "model": predictor.sha256}


def create_app(model_path=DEFAULT_MODEL, optimize=False, threads=THREADS):
    from flask import Flask, jsonify, request

    torch.set_num_threads(threads)
    predictor = Predictor(model_path, optimize)
    app = Flask("digitpipe-flask-baseline")

    @app.post("/api/predict")
    def predict():
        start = time.perf_counter()
        try:
            reply = predict_reply(predictor, image_bytes(request.content_type,
                                                         request.get_data()))
        except BadRequest as e:
            code, _, message = str(e).partition(": ")
            return jsonify({"error": {"code": code, "message": message}}), (
                415 if code == "unsupported_media_type" else 400)
        reply["latency_ms"] = round((time.perf_counter() - start) * 1000.0, 3)
        return jsonify(reply)

    @app.get("/readyz")
    def readyz():
        return jsonify({"ready": True, "model": predictor.sha256})

    return app


# ---- checks -----------------------------------------------------------------------------------


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    magic, count = struct.unpack_from(">II", raw, 0)
    dims = magic & 0xFF
    shape = struct.unpack_from(">" + "I" * dims, raw, 4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


# The evaluation stored in the model file was computed by the trainer in its training
# precision (bf16 for this model), so its confidences differ from fp32 ones by up to ~1e-2.
BF16_TOLERANCE = 0.02
# Our fp32 serving against torch fp32: different kernels, same arithmetic.
FP32_TOLERANCE = 1e-4


def selfcheck(model_path, data_dir, count):
    torch.set_num_threads(THREADS)
    predictor = Predictor(model_path)
    images = read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte"))[:count]
    labels = read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte"))[:count].astype(np.int64)
    count = len(labels)
    start = time.perf_counter()
    probabilities = np.concatenate([
        predictor.forward((images[i:i + 128].astype(np.float32) / np.float32(255.0))
                          .reshape(-1, 1, MNIST_SIDE, MNIST_SIDE))
        for i in range(0, count, 128)])
    seconds = time.perf_counter() - start
    predicted = probabilities.argmax(axis=1)
    correct = int((predicted == labels).sum())
    accuracy = correct / count
    parameters = sum(p.numel() for p in predictor.model.parameters()) + sum(
        b.numel() for n, b in predictor.model.named_buffers() if n.endswith(("_mean", "_var")))
    print(f"selfcheck: model {os.path.basename(model_path)} sha256 {predictor.sha256[:12]}, "
          f"architecture '{predictor.spec['name']}', {parameters} parameters, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads")
    print(f"selfcheck: first {count} MNIST test images: {correct} correct, accuracy "
          f"{accuracy:.4f} ({count / seconds:.0f} images/s in batches of 128)")
    ok = accuracy >= 0.99
    # What our engine measured on the same images (stored in the file by the trainer).
    evaluation = json.loads(predictor.metadata.get("evaluation", "null") or "null")
    if evaluation:
        checked = 0
        for wrong in evaluation.get("most_confident_wrong", []):
            i = wrong["index"]
            if i >= count:
                continue
            checked += 1
            p = probabilities[i]
            same = int(predicted[i]) == wrong["predicted"]
            close = abs(float(p[wrong["predicted"]]) - wrong["confidence"]) < BF16_TOLERANCE
            print(f"selfcheck: image {i}: ours {wrong['predicted']} ({wrong['confidence']:.4f}), "
                  f"torch {int(predicted[i])} ({float(p[int(predicted[i])]):.4f})"
                  f"{'' if same and close else '  MISMATCH'}")
            ok &= same and close
        if count == evaluation.get("count"):
            confusion = np.zeros((10, 10), dtype=np.int64)
            np.add.at(confusion, (labels, predicted), 1)
            same = confusion.tolist() == evaluation["confusion"]
            print(f"selfcheck: all {count} images: torch {correct} correct, digitpipe "
                  f"{evaluation['correct']}; confusion matrices "
                  f"{'identical' if same else 'DIFFER'}")
            ok &= same
        elif checked == 0:
            print("selfcheck: (no stored mistake among these images; --count 10000 compares "
                  "the whole confusion matrix)")
    print(f"selfcheck: {'PASS' if ok else 'FAIL'} (needs accuracy >= 0.99 and agreement "
          f"with digitpipe's stored evaluation: same predictions, confidences within "
          f"{BF16_TOLERANCE} since the trainer evaluated in bf16; run_serving.sh compares fp32 "
          "replies exactly)")
    return 0 if ok else 1


def compare_samples(model_path, samples_path):
    """Compares torch with our infer stage's fp32 replies to GET /api/sample_predictions
    (each sample: index, predicted, confidence, image = the 784 bytes it read)."""
    torch.set_num_threads(THREADS)
    predictor = Predictor(model_path)
    with open(samples_path) as f:
        reply = json.load(f)
    samples = reply["samples"]
    images = np.array([s["image"] for s in samples], dtype=np.float32) / np.float32(255.0)
    p = predictor.forward(images.reshape(-1, 1, MNIST_SIDE, MNIST_SIDE))
    same = sum(int(p[i].argmax()) == s["predicted"] for i, s in enumerate(samples))
    worst = max(abs(float(p[i][s["predicted"]]) - s["confidence"]) for i, s in enumerate(samples))
    ok = same == len(samples) and worst < FP32_TOLERANCE and reply["model"] == predictor.sha256
    print(f"compare: {len(samples)} test images served by digitpipe (model "
          f"{reply['model'][:12]}): torch predicts the same digit for {same}, largest "
          f"confidence difference {worst:.2e}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def profile(model_path, png_path, repeat, optimize, threads):
    torch.set_num_threads(threads)
    predictor = Predictor(model_path, optimize)
    with open(png_path, "rb") as f:
        data = f.read()
    body = json.dumps({"image": "data:image/png;base64," + base64.b64encode(data).decode()})
    steps = {"json+base64": 0.0, "decode": 0.0, "preprocess": 0.0, "forward": 0.0,
             "reply json": 0.0}
    for i in range(repeat + 10):
        t0 = time.perf_counter()
        raw = image_bytes("application/json", body.encode())
        t1 = time.perf_counter()
        samples = decode(raw)
        t2 = time.perf_counter()
        digit28 = preprocess(samples)
        t3 = time.perf_counter()
        p = predictor.forward((digit28.astype(np.float32) / 255.0).reshape(1, 1, 28, 28))[0]
        t4 = time.perf_counter()
        json.dumps({"probabilities": [float(v) for v in p],
                    "input": digit28.reshape(-1).tolist()})
        t5 = time.perf_counter()
        if i >= 10:  # warm-up
            for key, dt in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                steps[key] += dt
    total = sum(steps.values())
    print(f"profile: {png_path} ({len(data)} bytes, {samples.shape[1]}x{samples.shape[0]}x"
          f"{samples.shape[2]}), mean of {repeat}, torch {torch.get_num_threads()} threads, "
          f"{'optimized (TorchScript + oneDNN)' if optimize else 'eager'}")
    for key, value in steps.items():
        print(f"profile: {key:12s} {value / repeat * 1000.0:7.3f} ms")
    print(f"profile: {'total':12s} {total / repeat * 1000.0:7.3f} ms")
    print("profile: reply " + json.dumps({k: v for k, v in predict_reply(predictor, data).items()
                                           if k != "input"}))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--server", choices=("werkzeug", "waitress"), default="werkzeug")
    parser.add_argument("--threads", type=int, default=4, help="waitress worker threads")
    parser.add_argument("--torch-threads", type=int, default=THREADS,
                        help="torch.set_num_threads (default 2, shared/FACTS.md)")
    parser.add_argument("--optimize", action="store_true",
                        help="torch.jit.optimize_for_inference instead of eager mode")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--selfcheck", action="store_true")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--profile", metavar="IMAGE")
    parser.add_argument("--compare-samples", metavar="JSON",
                        help="a saved reply of our GET /api/sample_predictions")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    if args.selfcheck:
        return selfcheck(args.model, args.data, args.count)
    if args.compare_samples:
        return compare_samples(args.model, args.compare_samples)
    if args.profile:
        return profile(args.model, args.profile, args.repeat, args.optimize, args.torch_threads)
    app = create_app(args.model, args.optimize, args.torch_threads)
    if args.server == "werkzeug":
        # Flask's development server, as the seeds run it: a thread per connection (HTTP/1.1
        # keep-alive when threaded), a log line per request on stderr.
        app.run(host=args.host, port=args.port, threaded=True)
    else:
        import waitress
        waitress.serve(app, host=args.host, port=args.port, threads=args.threads, _quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
