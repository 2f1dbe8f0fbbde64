#!/usr/bin/python3
"""A realistic drawing-canvas PNG for the serving benchmark (bench/run_serving.sh).

What the dashboard's 280x280 canvas sends: RGBA, black strokes about 20 px wide with soft
(anti-aliased, round) edges on a transparent background, transparent pixels stored as
(0, 0, 0, 0), as a browser's canvas.toDataURL() writes them. Made from an MNIST test digit
scaled 10x with bicubic smoothing; the smooth ramp is then sharpened into a solid stroke with
a 2-3 px anti-aliased edge, and put in the alpha channel.

Usage: canvas_png.py --png OUT.png --json OUT.json [--index 0] [--data data/mnist]
  OUT.json is the predict body: {"image": "data:image/png;base64,..."}.
Needs python3-pil and python3-numpy (Debian's /usr/bin/python3).
"""
import argparse
import base64
import io
import json
import os
import struct
import sys

try:
    import numpy as np
    from PIL import Image
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath(
            "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    sys.exit("canvas_png: needs python3-pil and python3-numpy")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIDE = 280


def mnist_image(data_dir, index):
    with open(os.path.join(data_dir, "t10k-images-idx3-ubyte"), "rb") as f:
        raw = f.read()
    _, count, rows, cols = struct.unpack_from(">IIII", raw, 0)
    if not 0 <= index < count:
        sys.exit(f"canvas_png: index {index} not in 0..{count - 1}")
    offset = 16 + index * rows * cols
    return np.frombuffer(raw, dtype=np.uint8, count=rows * cols, offset=offset).reshape(rows, cols)


def mnist_label(data_dir, index):
    with open(os.path.join(data_dir, "t10k-labels-idx1-ubyte"), "rb") as f:
        f.seek(8 + index)
        return f.read(1)[0]


def canvas_png(digit):
    smooth = np.asarray(Image.fromarray(digit).resize((SIDE, SIDE), Image.BICUBIC),
                        dtype=np.float32) / 255.0
    # Solid inside the stroke, a short linear ramp at its edge (what anti-aliasing leaves).
    alpha = np.clip((smooth - 0.45) * 6.0 + 0.5, 0.0, 1.0)
    rgba = np.zeros((SIDE, SIDE, 4), dtype=np.uint8)
    rgba[:, :, 3] = np.round(alpha * 255.0).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, format="PNG")  # zlib level 6, like browsers
    return out.getvalue(), alpha


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--png", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--data", default=os.path.join(REPO, "data", "mnist"))
    args = parser.parse_args()
    digit = mnist_image(args.data, args.index)
    png, alpha = canvas_png(digit)
    with open(args.png, "wb") as f:
        f.write(png)
    body = json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode()})
    with open(args.json, "w") as f:
        f.write(body)
    # Stroke width, roughly: the median length of the solid runs along rows.
    runs = []
    for row in alpha > 0.5:
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
        runs.extend(edges[1::2] - edges[0::2])
    width = float(np.median(runs)) if runs else 0.0
    print(f"canvas_png: MNIST test image {args.index} (label {mnist_label(args.data, args.index)})"
          f" -> {SIDE}x{SIDE} RGBA PNG, {len(png)} bytes, strokes about {width:.0f} px wide; "
          f"body {len(body)} bytes")


if __name__ == "__main__":
    main()
