"""An independent numpy implementation of llama.cpp's reference K-quant quantisers
(quantize_row_q4_K_ref, quantize_row_q5_K_ref, quantize_row_q6_K_ref in ggml-quants.c), written
from the published algorithm for the GGUF export's fixtures (tools/make_gguf_kquant_fixtures.py):
the `gguf` package (0.19.0) dequantises these types but cannot quantise them.

Every arithmetic step is one float32 operation, in the order the reference writes it (no fused
multiply-add, sums left to right), so the Swift re-quantisation (Sources/ModelFiles/
GGUFQuantizeK.swift) must give the same bytes. Scalar loops on purpose: the point is to follow
the specification step by step, not speed (a few thousand values per fixture).

Block layouts (256 values per super-block):
  Q4_K 144 bytes: f16 d | f16 dmin | scales[12] (eight 6-bit scales and minimums) | qs[128]
  Q5_K 176 bytes: f16 d | f16 dmin | scales[12] | qh[32] | qs[128]
  Q6_K 210 bytes: ql[128] | qh[64] | i8 scales[16] | f16 d
"""
import numpy as np

F = np.float32
GROUP_MAX_EPS = F(1e-15)


def nearest_int(value):
    """Round to nearest, ties to even, by adding 1.5 * 2^23 in float32 and reading the mantissa
    (valid for |value| <= 2^22 - 1, as in the reference)."""
    shifted = np.array([F(value) + F(12582912.0)], dtype=np.float32)
    bits = int(shifted.view(np.int32)[0])
    return (bits & 0x007FFFFF) - 0x00400000


def f16_bits(value):
    return int(np.array([F(value)], dtype=np.float32).astype(np.float16).view(np.uint16)[0])


def f16_value(bits):
    return F(np.array([bits], dtype=np.uint16).view(np.float16)[0])


def make_qkx2_quants(x, weights, nmax, rmin, rdelta, nstep):
    """Asymmetric levels 0 ... nmax for one sub-block: x ~ scale * L + min with min <= 0, the
    scale searched over nstep + 1 trial inverse scales by weighted least squares. Returns
    (scale, -min, L)."""
    n = len(x)
    lo = x[0]
    hi = x[0]
    sum_w = weights[0]
    sum_x = F(sum_w * x[0])
    for i in range(1, n):
        if x[i] < lo:
            lo = x[i]
        if x[i] > hi:
            hi = x[i]
        sum_w = F(sum_w + weights[i])
        sum_x = F(sum_x + F(weights[i] * x[i]))
    if lo > 0:
        lo = F(0)
    if hi == lo:
        return F(0), F(-lo), [0] * n
    iscale = F(F(nmax) / F(hi - lo))
    scale = F(F(1) / iscale)
    levels = [0] * n
    best_error = F(0)
    for i in range(n):
        level = nearest_int(F(iscale * F(x[i] - lo)))
        levels[i] = max(0, min(nmax, level))
        diff = F(F(F(scale * F(levels[i])) + lo) - x[i])
        best_error = F(best_error + F(weights[i] * F(diff * diff)))
    for step in range(nstep + 1):
        iscale = F(F(F(rmin + F(rdelta * F(step))) + F(nmax)) / F(hi - lo))
        trial = [0] * n
        sum_l = F(0)
        sum_l2 = F(0)
        sum_xl = F(0)
        for i in range(n):
            level = max(0, min(nmax, nearest_int(F(iscale * F(x[i] - lo)))))
            trial[i] = level
            w = weights[i]
            sum_l = F(sum_l + F(w * F(level)))
            sum_l2 = F(sum_l2 + F(F(w * F(level)) * F(level)))
            sum_xl = F(sum_xl + F(F(w * F(level)) * x[i]))
        det = F(F(sum_w * sum_l2) - F(sum_l * sum_l))
        if det > 0:
            this_scale = F(F(F(sum_w * sum_xl) - F(sum_x * sum_l)) / det)
            this_min = F(F(F(sum_l2 * sum_x) - F(sum_l * sum_xl)) / det)
            if this_min > 0:
                this_min = F(0)
                this_scale = F(sum_xl / sum_l2)
            error = F(0)
            for i in range(n):
                diff = F(F(F(this_scale * F(trial[i])) + this_min) - x[i])
                error = F(error + F(weights[i] * F(diff * diff)))
            if error < best_error:
                levels = trial
                best_error = error
                scale = this_scale
                lo = this_min
    return scale, F(-lo), levels


def make_qx_quants(x, nmax):
    """Symmetric levels -nmax ... nmax - 1 for one sub-block (rmse_type 1: weights x^2), the
    inverse scale tried at -(nmax + 0.1 k) / max for k = -9 ... 9. Returns (scale, L + nmax)."""
    n = len(x)
    largest = F(0)
    amax = F(0)
    for i in range(n):
        ax = F(abs(x[i]))
        if ax > amax:
            amax = ax
            largest = x[i]
    if amax < GROUP_MAX_EPS:
        return F(0), [0] * n

    def sums(iscale):
        levels = []
        sumlx = F(0)
        suml2 = F(0)
        for i in range(n):
            level = max(-nmax, min(nmax - 1, nearest_int(F(iscale * x[i]))))
            levels.append(level + nmax)
            w = F(x[i] * x[i])
            sumlx = F(sumlx + F(F(w * x[i]) * F(level)))
            suml2 = F(suml2 + F(F(w * F(level)) * F(level)))
        return levels, sumlx, suml2

    iscale = F(F(-nmax) / largest)
    levels, sumlx, suml2 = sums(iscale)
    scale = F(sumlx / suml2) if suml2 != 0 else F(0)
    best = F(scale * sumlx)
    for step in range(-9, 10):
        if step == 0:
            continue
        iscale = F(F(-F(F(nmax) + F(F(0.1) * F(step)))) / largest)
        trial, sumlx, suml2 = sums(iscale)
        if suml2 > 0 and F(sumlx * sumlx) > F(best * suml2):
            levels = trial
            scale = F(sumlx / suml2)
            best = F(scale * sumlx)
    return scale, levels


def pack_scale_mins(ls, lm):
    """Eight 6-bit scales and minimums into 12 bytes: 0-3 scales 0-3, 4-7 minimums 0-3, 8-11
    the low nibbles of scale / minimum 4-7, whose top two bits go to the top of bytes 0-7."""
    out = [0] * 12
    for j in range(8):
        if j < 4:
            out[j] = ls[j]
            out[j + 4] = lm[j]
        else:
            out[j + 4] = (ls[j] & 0xF) | ((lm[j] & 0xF) << 4)
            out[j - 4] |= (ls[j] >> 4) << 6
            out[j] |= (lm[j] >> 4) << 6
    return out


def scale_min(packed, j):
    if j < 4:
        return packed[j] & 63, packed[j + 4] & 63
    return ((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4),
            (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))


def quantize_k_block(x, nmax, rmin, nstep):
    """Shared part of Q4_K (nmax 15) and Q5_K (nmax 31) for one super-block of 256 values:
    returns (d bits, dmin bits, 12 packed scale bytes, 256 levels)."""
    levels = [0] * 256
    scales = []
    mins = []
    for j in range(8):
        sub = [F(v) for v in x[32 * j:32 * j + 32]]
        sum_x2 = F(0)
        for v in sub:
            sum_x2 = F(sum_x2 + F(v * v))
        av_x = F(np.sqrt(F(sum_x2 / F(32))))
        weights = [F(av_x + F(abs(v))) for v in sub]
        scale, minimum, sub_levels = make_qkx2_quants(sub, weights, nmax, F(rmin), F(0.1), nstep)
        levels[32 * j:32 * j + 32] = sub_levels
        scales.append(scale)
        mins.append(minimum)
    max_scale = F(0)
    max_min = F(0)
    for j in range(8):
        if scales[j] > max_scale:
            max_scale = scales[j]
        if mins[j] > max_min:
            max_min = mins[j]
    inv_scale = F(F(63) / max_scale) if max_scale > 0 else F(0)
    inv_min = F(F(63) / max_min) if max_min > 0 else F(0)
    # The reference stores nearest_int into a uint8 (wrapping) before clipping to 63.
    ls = [min(63, nearest_int(F(inv_scale * scales[j])) & 0xFF) for j in range(8)]
    lm = [min(63, nearest_int(F(inv_min * mins[j])) & 0xFF) for j in range(8)]
    packed = pack_scale_mins(ls, lm)
    d_bits = f16_bits(F(max_scale / F(63)))
    dmin_bits = f16_bits(F(max_min / F(63)))
    for j in range(8):
        sc, m = scale_min(packed, j)
        d = F(f16_value(d_bits) * F(sc))
        if d == 0:
            continue
        dm = F(f16_value(dmin_bits) * F(m))
        for i in range(32):
            level = nearest_int(F(F(F(x[32 * j + i]) + dm) / d))
            levels[32 * j + i] = max(0, min(nmax, level))
    return d_bits, dmin_bits, packed, levels


def quantize_q4_k(x):
    out = bytearray()
    for b in range(len(x) // 256):
        d, dmin, packed, levels = quantize_k_block(x[256 * b:256 * b + 256], 15, -1.0, 20)
        out += d.to_bytes(2, "little") + dmin.to_bytes(2, "little") + bytes(packed)
        for c in range(4):
            out += bytes(levels[64 * c + l] | (levels[64 * c + 32 + l] << 4) for l in range(32))
    return bytes(out)


def quantize_q5_k(x):
    out = bytearray()
    for b in range(len(x) // 256):
        d, dmin, packed, levels = quantize_k_block(x[256 * b:256 * b + 256], 31, -0.5, 15)
        qh = [0] * 32
        qs = []
        for c in range(4):
            for l in range(32):
                low = levels[64 * c + l]
                high = levels[64 * c + 32 + l]
                qh[l] |= ((low >> 4) << (2 * c)) | ((high >> 4) << (2 * c + 1))
                qs.append((low & 0xF) | ((high & 0xF) << 4))
        out += d.to_bytes(2, "little") + dmin.to_bytes(2, "little") + bytes(packed) + bytes(qh) + bytes(qs)
    return bytes(out)


def quantize_q6_k(x):
    out = bytearray()
    for b in range(len(x) // 256):
        block = [F(v) for v in x[256 * b:256 * b + 256]]
        levels = [0] * 256
        scales = []
        max_scale = F(0)
        max_abs = F(0)
        for s in range(16):
            scale, sub_levels = make_qx_quants(block[16 * s:16 * s + 16], 32)
            levels[16 * s:16 * s + 16] = sub_levels
            scales.append(scale)
            if F(abs(scale)) > max_abs:
                max_abs = F(abs(scale))
                max_scale = scale
        if max_abs < GROUP_MAX_EPS:
            out += bytes(210)
            continue
        iscale = F(F(-128) / max_scale)
        d_bits = f16_bits(F(F(1) / iscale))
        q_scales = [min(127, nearest_int(F(iscale * scales[s]))) for s in range(16)]
        for s in range(16):
            d = F(f16_value(d_bits) * F(q_scales[s]))
            if d == 0:
                continue
            for i in range(16):
                level = nearest_int(F(block[16 * s + i] / d))
                levels[16 * s + i] = max(-32, min(31, level)) + 32
        ql = [0] * 128
        qh = [0] * 64
        for half in range(2):
            base = 128 * half
            for l in range(32):
                q = [levels[base + l + 32 * k] for k in range(4)]
                ql[64 * half + l] = (q[0] & 0xF) | ((q[2] & 0xF) << 4)
                ql[64 * half + l + 32] = (q[1] & 0xF) | ((q[3] & 0xF) << 4)
                qh[32 * half + l] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6)
        out += bytes(ql) + bytes(qh) + bytes(s & 0xFF for s in q_scales) + d_bits.to_bytes(2, "little")
    return bytes(out)


QUANTIZERS = {"Q4_K": quantize_q4_k, "Q5_K": quantize_q5_k, "Q6_K": quantize_q6_k}
