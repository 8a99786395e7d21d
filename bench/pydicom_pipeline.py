#!/usr/bin/env python3
"""Baseline of the imaging pipeline bench (bench/imaging-pipeline.ts): pydicom + numpy doing what
preprocessInstance does to a 512x512 16-bit CT slice, on one core (run with OPENBLAS_NUM_THREADS=1).

Usage: pydicom_pipeline.py SIZE ITERATIONS RUNS OUT_NPY FILE...

Per slice: dcmread the file, pixel_array, apply_modality_lut (rescale), apply_voi_lut (the header's
window 0, pydicom's apply_windowing), scaled to [0, 1], then resampled to SIZE x SIZE by area averaging
(exact box overlap, the same weights as the pipeline): a reshape-mean for whole factors, else from running
sums along each axis.
Prints one JSON line: slices, best seconds of RUNS passes of ITERATIONS slices (files in turn), slices/s.
Writes the first file's output to OUT_NPY so the bench can check both sides computed the same thing.
"""
import json
import sys
import time

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut


def area_axis1(a, dst):
    """Area averaging along axis 1 (exact box overlap), from the running sum: O(n), no weight matrix
    (Debian's numpy links the reference BLAS, on which a dense weight-matrix product is slow)."""
    src = a.shape[1]
    if src % dst == 0:
        return a.reshape(a.shape[0], dst, src // dst).mean(axis=2)
    scale = src / dst
    padded = np.concatenate([a, np.zeros((a.shape[0], 1), a.dtype)], axis=1)
    cs = np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a, axis=1, dtype=np.float64)], axis=1)
    p = np.arange(dst + 1) * scale
    i = np.minimum(np.floor(p).astype(np.int64), src)
    s = cs[:, i] + (p - i) * padded[:, i]
    return (s[:, 1:] - s[:, :-1]) / scale


def area_resample(a, size):
    return area_axis1(area_axis1(a, size).T, size).T.astype(np.float32)


def output_range(ds):
    bits = int(ds.BitsStored)
    lo, hi = (0.0, 2.0 ** bits - 1) if ds.PixelRepresentation == 0 else (-(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        lo, hi = lo * float(ds.RescaleSlope) + float(ds.RescaleIntercept), hi * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return lo, hi


def preprocess(path, size):
    ds = pydicom.dcmread(path)
    hu = apply_modality_lut(ds.pixel_array, ds)
    lo, hi = output_range(ds)
    unit = ((apply_voi_lut(hu, ds, index=0) - lo) / (hi - lo)).astype(np.float32)
    return area_resample(unit, size)


def main():
    size, iterations, runs, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    files = sys.argv[5:]
    np.save(out, preprocess(files[0], size))
    for f in files:  # warm-up
        preprocess(f, size)
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        for i in range(iterations):
            preprocess(files[i % len(files)], size)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"slices": iterations, "seconds": best, "slicesPerSecond": iterations / best, "pydicom": pydicom.__version__, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
