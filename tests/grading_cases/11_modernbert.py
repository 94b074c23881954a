"""Grading cases for solutions/11_modernbert.ipynb: answers the grader must fail, and pass."""

# Planted wrong answers, the mistakes students really make. Planted all at once, exactly these
# exercises must fail.
WRONG = {
    # the absolute distance: right for q = k, wrong for a query and a key that differ
    "11.1": {"ex11-1-answer": '''\
def rope_score_key(m, n):
    return abs(n - m)


def distinct_scores(T):
    return T
'''},
    # the sign of rotate_half swapped: still a rotation (lengths kept, scores relative), but by
    # minus the angle, so it is not the layout the checkpoints were trained with
    "11.2": {"ex11-2-answer": '''\
def apply_rope(x, positions, theta):
    d = x.size(-1)
    omega = theta ** (-torch.arange(0, d, 2, dtype=x.dtype) / d)
    angles = positions[:, None].to(x.dtype) * omega
    cos = torch.cat((angles, angles), dim=-1).cos()
    sin = torch.cat((angles, angles), dim=-1).sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat((x2, -x1), dim=-1) * sin
'''},
    # padding forgotten: the band alone lets queries attend to padded keys
    "11.3": {"ex11-3-answer": '''\
def local_attention_mask(attention_mask, window):
    B, T = attention_mask.shape
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    return ((i - j).abs() <= window).expand(B, T, T)
'''},
    # the lengths where the cumulative lengths belong, and no leading 0
    "11.4": {"ex11-4-answer": '''\
def unpad_batch(x, attention_mask):
    return x[attention_mask.bool()], attention_mask.sum(dim=1)


def repad_batch(packed, cu_seqlens, T):
    out = packed.new_zeros(len(cu_seqlens), T, packed.size(-1))
    start = 0
    for b, length in enumerate(cu_seqlens.tolist()):
        out[b, :length] = packed[start:start + length]
        start += length
    return out
'''},
    # the gate forgotten: GeGLU counted like a GELU block
    "11.5": {"ex11-5-answer": '''\
def ffn_parameters(H, I):
    return 2 * H * I + I + H, 2 * H * I


def matching_width(I):
    return I
'''},
}

# Correct answers written differently: all must pass.
ALTERNATIVE = {
    # the other sign: m - n determines the score just as well
    "11.1": {"ex11-1-answer": '''\
def rope_score_key(m, n):
    return m - n


def distinct_scores(T):
    return len({n - m for m in range(T) for n in range(T)}) if T < 64 else 2 * T - 1
'''},
    # the rotation written pair by pair with complex numbers: (x1 + i x2) e^(i angle)
    "11.2": {"ex11-2-answer": '''\
def apply_rope(x, positions, theta):
    d = x.size(-1)
    omega = theta ** (-torch.arange(0, d, 2, dtype=x.dtype) / d)
    angles = positions[:, None].to(x.dtype) * omega
    z = torch.complex(x[..., : d // 2], x[..., d // 2:]) * torch.polar(torch.ones_like(angles), angles)
    return torch.cat((z.real, z.imag), dim=-1)
'''},
    # the band from triu and tril, the keys from the mask's outer product with ones
    "11.3": {"ex11-3-answer": '''\
def local_attention_mask(attention_mask, window):
    B, T = attention_mask.shape
    band = torch.ones(T, T, dtype=torch.bool).triu(-window).tril(window)
    keys = torch.ones(B, T, 1) * attention_mask[:, None, :]
    return band & keys.bool()
'''},
    # a loop over the rows with torch.cat; index_put for the way back
    "11.4": {"ex11-4-answer": '''\
def unpad_batch(x, attention_mask):
    lengths = [int(n) for n in attention_mask.sum(dim=1)]
    packed = torch.cat([x[b, :n] for b, n in enumerate(lengths)])
    cu_seqlens = torch.tensor([0] + [sum(lengths[: b + 1]) for b in range(len(lengths))])
    return packed, cu_seqlens


def repad_batch(packed, cu_seqlens, T):
    B = cu_seqlens.numel() - 1
    lengths = cu_seqlens.diff()
    keep = torch.arange(T)[None] < lengths[:, None]
    out = torch.zeros(B, T, packed.size(-1), dtype=packed.dtype)
    out[keep] = packed
    return out
'''},
    # counted matrix by matrix; the matching width from the ratio of matrices
    "11.5": {"ex11-5-answer": '''\
def ffn_parameters(H, I):
    w1, b1, w2, b2 = H * I, I, I * H, H
    wi = H * (2 * I)  # W and V stored together
    wo = I * H
    return w1 + b1 + w2 + b2, wi + wo


def matching_width(I):
    return int(I * 2 / 3)
'''},
}

# Near misses: answers one small slip from right, which the tolerance must still fail.
NEAR_MISS = {
    # the window's edge left out: |i - j| < window instead of <= window
    "11.3": {"ex11-3-answer": '''\
def local_attention_mask(attention_mask, window):
    T = attention_mask.size(1)
    positions = torch.arange(T)
    band = (positions[:, None] - positions[None, :]).abs() < window
    return band[None] & attention_mask.bool()[:, None, :]
'''},
}
