"""One NaN-safe numeric comparison for the Python side of the tests (the Swift side has
``NumericComparison`` in ``Tests/TestSupport``).

A running ``max(worst, abs(a - b))`` in Python drops NaN (``max(0.0, nan)`` is ``0.0``) and
``nan > tol`` is False, so all-NaN logits would pass. Here any non-finite value on either side
fails, a shape mismatch fails, an empty or (with ``of_largest``) all-zero reference fails, and
the report names the worst element: its index and both values.

Element i passes when
    |ours_i - ref_i| <= absolute + relative * |ref_i| + of_largest * max(scale_floor, max_j |ref_j|).
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Comparison:
    ok: bool
    largest_error: float   # max |ours - ref| over the finite elements
    allowed: float         # the allowance at the worst element
    scale: float           # max |ref|
    message: str           # why it failed, or a one-line summary

    def __str__(self):
        return self.message


def compare(ours, reference, *, absolute=0.0, relative=0.0, of_largest=0.0, scale_floor=0.0, what="values"):
    a = np.asarray(ours, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape:
        return Comparison(False, float("nan"), 0.0, 0.0, f"{what}: shape {a.shape}, reference {r.shape}")
    a, r = a.ravel(), r.ravel()
    if a.size == 0:
        return Comparison(False, float("nan"), 0.0, 0.0, f"{what}: nothing was compared")
    bad = ~(np.isfinite(a) & np.isfinite(r))
    if bad.any():
        i = int(np.argmax(bad))
        return Comparison(False, float("nan"), 0.0, 0.0,
                          f"{what}: element {i} is not finite: {float(a[i])!r}, reference {float(r[i])!r} ({int(bad.sum())} non-finite)")
    scale = float(np.abs(r).max())
    if of_largest > 0 and not scale > 0 and not scale_floor > 0:
        return Comparison(False, 0.0, 0.0, scale, f"{what}: the reference is all zero, so a relative tolerance checks nothing")
    diff = np.abs(a - r)
    allowed = absolute + relative * np.abs(r) + of_largest * max(scale_floor, scale)
    excess = diff - allowed
    i = int(np.argmax(excess))
    largest = float(diff.max())
    if excess[i] > 0:
        return Comparison(False, largest, float(allowed[i]), scale,
                          f"{what}: worst element {i} is {float(a[i])!r}, reference {float(r[i])!r} "
                          f"(|diff| {diff[i]:.3e} > allowed {allowed[i]:.3e}; max |reference| {scale:.3e}, {a.size} compared)")
    return Comparison(True, largest, float(allowed[i]), scale,
                      f"{what}: max |diff| {largest:.3e} within tolerance ({a.size} compared)")
