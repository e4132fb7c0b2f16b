#!/usr/bin/python3
"""Bytes a one-token decode step reads from an ONNX model's weights, with the official onnx package.

  /usr/bin/python3 bench/lib/weight_bytes.py MODEL.onnx [MODEL.onnx ...]

Prints one JSON object per model: every initializer's bytes (external data lengths or inline sizes) split into
  - full: read whole per token (consumed by any node other than a row lookup);
  - gathered: consumed only as the table of Gather / GatherBlockQuantized / GatherElements / GatherND, of which a
    token reads a few rows (counted as 0 per token);
and the top initializers by size. The external data is not loaded.
"""
import json, sys
import onnx
from onnx import helper

GATHERS = {"Gather", "GatherBlockQuantized", "GatherElements", "GatherND"}


def tensor_bytes(t):
    if t.data_location == onnx.TensorProto.EXTERNAL:
        for kv in t.external_data:
            if kv.key == "length":
                return int(kv.value)
    if t.raw_data:
        return len(t.raw_data)
    n = 1
    for d in t.dims:
        n *= d
    elem = helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    return n * elem


def nodes(graph):
    for n in graph.node:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from nodes(a.g)


def summarise(path):
    m = onnx.load(path, load_external_data=False)
    inits = {t.name: t for t in m.graph.initializer}
    consumers = {name: set() for name in inits}
    for n in nodes(m.graph):
        for i, name in enumerate(n.input):
            if name in consumers:
                consumers[name].add(n.op_type if (n.op_type in GATHERS and i == 0) else "read")
    full = gathered = 0
    sizes = []
    for name, t in inits.items():
        b = tensor_bytes(t)
        only_gather = consumers[name] and "read" not in consumers[name]
        if only_gather:
            gathered += b
        else:
            full += b
        sizes.append((b, name, sorted(consumers[name])))
    sizes.sort(reverse=True)
    return {"model": path, "fullBytes": full, "gatheredBytes": gathered, "initializers": len(inits),
            "largest": [{"name": n, "bytes": b, "use": c} for b, n, c in sizes[:4]]}


if __name__ == "__main__":
    print(json.dumps([summarise(p) for p in sys.argv[1:]]))
