#!/usr/bin/env python3
"""Reads a safetensors file with nothing but the standard library (and numpy when installed),
proving Python tools can read digitpipe's weight files without digitpipe. Prints one JSON
object: {"metadata": {...}, "reader": "numpy"|"array", "tensors": {name: {"dtype", "shape",
"values"}}}. Exit status 0 on success; a malformed file raises."""
import json, struct, sys
from array import array

def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    try:
        import numpy as np
        types = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4", "U8": "u1"}
        reader = "numpy"
        load = lambda t, raw, shape: np.frombuffer(raw, types[t]).reshape(shape).ravel().tolist()
    except ImportError:  # numpy missing: the standard library's array reads the same bytes
        types = {"F32": "f", "F64": "d", "I64": "q", "I32": "i", "U8": "B"}
        reader = "array"
        load = lambda t, raw, shape: array(types[t], raw).tolist()  # assumes a little-endian host
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        values = load(info["dtype"], data[begin:end], info["shape"])
        tensors[name] = {"dtype": info["dtype"], "shape": info["shape"], "values": values}
    return {"metadata": meta, "reader": reader, "tensors": tensors}

if __name__ == "__main__":
    json.dump(read(sys.argv[1]), sys.stdout)
