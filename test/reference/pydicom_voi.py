#!/usr/bin/env python3
"""Reference for the image pipeline test (test/integration/hospital/imaging/pydicom-reference.test.ts).

Usage: pydicom_voi.py OUT_DIR FILE...

For each FILE (index i), reads it with pydicom, applies pydicom's Modality LUT (apply_modality_lut) and
VOI LUT / windowing (apply_voi_lut, window 0, LUT preferred) and writes OUT_DIR/i.npy: float32,
(frames, rows, cols) for grey, (frames, rows, cols, 3) for colour, values in [0, 1]:
- a window or VOI LUT in the header: pydicom's output scaled from its output range to [0, 1] (the range
  apply_windowing uses: Bits Stored, signed or not, through the rescale; a LUT's 2^bits - 1);
- no window: each frame's modality values from their minimum to their maximum;
- MONOCHROME1 inverted (1 - v); PALETTE COLOR through pydicom's apply_color_lut, divided by 2^depth - 1; colour: YBR_FULL(_422) converted to RGB by pydicom, divided by 2^Bits Stored - 1.
A file pydicom cannot read gets OUT_DIR/i.err with the reason instead. Prints one line per file.
"""
import os
import sys

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_color_lut, apply_modality_lut, apply_voi_lut, convert_color_space


def output_range(ds):
    """pydicom's y_min, y_max in apply_windowing (pydicom 2.3, pixel_data_handlers/util.py)."""
    if ds.get("ModalityLUTSequence"):
        return 0.0, float(2 ** ds.ModalityLUTSequence[0].LUTDescriptor[2] - 1)
    bits = int(ds.BitsStored)
    if ds.PixelRepresentation == 0:
        lo, hi = 0.0, float(2 ** bits - 1)
    else:
        lo, hi = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        lo, hi = lo * float(ds.RescaleSlope) + float(ds.RescaleIntercept), hi * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return lo, hi


def reference(path):
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1))
    if frames == 1:
        arr = arr[np.newaxis, ...]
    photometric = str(ds.PhotometricInterpretation).upper()
    if photometric == "PALETTE COLOR":
        depth = int(ds.RedPaletteColorLookupTableDescriptor[2])
        return apply_color_lut(arr, ds).astype(np.float64) / float(2 ** depth - 1)
    if samples == 3:
        if photometric.startswith("YBR_FULL"):
            arr = convert_color_space(arr, "YBR_FULL", "RGB")
        return arr.astype(np.float64) / float(2 ** int(ds.BitsStored) - 1)
    mod = apply_modality_lut(arr, ds).astype(np.float64)
    lut = ds.get("VOILUTSequence")
    if lut:
        depth = int(lut[0].LUTDescriptor[2])
        out = apply_voi_lut(mod, ds, index=0).astype(np.float64) / float(2 ** depth - 1)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        lo, hi = output_range(ds)
        out = (apply_voi_lut(mod, ds, index=0).astype(np.float64) - lo) / (hi - lo)
    else:
        out = np.empty_like(mod)
        for f in range(mod.shape[0]):
            lo, hi = mod[f].min(), mod[f].max()
            out[f] = (mod[f] - lo) / (hi - lo) if hi > lo else 0.0
    if photometric == "MONOCHROME1":
        out = 1.0 - out
    return out


def main():
    out_dir = sys.argv[1]
    for i, path in enumerate(sys.argv[2:]):
        try:
            v = reference(path)
            np.save(os.path.join(out_dir, f"{i}.npy"), v.astype(np.float32))
            print(f"{i} ok {v.shape}")
        except Exception as err:  # pylint: disable=broad-except
            with open(os.path.join(out_dir, f"{i}.err"), "w", encoding="utf-8") as f:
                f.write(f"{type(err).__name__}: {err}")
            print(f"{i} err {type(err).__name__}")


if __name__ == "__main__":
    main()
