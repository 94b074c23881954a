"""Grading cases for chapter 03 (attention): planted wrong answers and correct variants.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; every exercise must pass.
"""

WRONG = {
    # 03.1: the scores as wide as the queries' T (10, 10), and the variance mistaken for the standard deviation
    "03.1": {
        "ex03-1-answer": '''\
scores_shape = (2, 12, 10, 10)
output_shape = (2, 12, 10, 32)
unscaled_std = 256
weights_floats = 8 * 12 * 512 * 512
row_sum_after = 0.07
''',
    },
    # 03.2: the padding mask applied after the softmax (rows no longer sum to 1)
    "03.2": {
        "ex03-2-answer": '''\
def masked_softmax(scores, attention_mask):
    """Softmax over the keys, with padded keys (attention_mask == 0) getting zero weight."""
    # BEGIN SOLUTION
    weights = scores.softmax(dim=-1)
    return weights * attention_mask[:, None, None, :]  # masked after the softmax
    # END SOLUTION
''',
    },
    # 03.3: the given code, untouched: reshape where a transpose is needed
    "03.3": {
        "ex03-3-answer": '''\
def attention(q, k, v, mask=None):
    B, heads, T, d = k.shape
    keys = k.reshape(B, heads, d, T)  # (B, heads, d, T)
    scores = q @ keys / math.sqrt(d)  # (B, heads, T, T)
    if mask is not None:
        scores = scores + mask
    weights = scores.softmax(dim=-1)  # (B, heads, T, T)
    return weights @ v, weights
''',
    },
    # 03.4: the diagonal masked too (a token cannot see itself)
    "03.4": {
        "ex03-4-answer": '''\
def causal_mask(T, dtype=torch.float32):
    """Additive mask (1, 1, T, T): query i may look at keys j <= i only."""
    # BEGIN SOLUTION
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=0)  # True above the diagonal
    mask = torch.zeros(T, T, dtype=dtype).masked_fill(future, torch.finfo(dtype).min)
    return mask[None, None]  # (1, 1, T, T)
    # END SOLUTION
''',
    },
    # 03.5: the mask without its head axis, (B, T, T): it does not broadcast against (B, heads, T, T) as meant
    "03.5": {
        "ex03-5-answer": '''\
def packing_mask(doc_ids, dtype=torch.float32):
    visible = (doc_ids[:, :, None] == doc_ids[:, None, :]) & (doc_ids[:, None, :] >= 0)
    return torch.zeros(visible.shape, dtype=dtype).masked_fill(~visible, torch.finfo(dtype).min)
''',
    },
}

ALTERNATIVE = {
    # 03.1: lists, a torch.Size, arithmetic, a computed row sum
    "03.1": {
        "ex03-1-answer": '''\
scores_shape = [2, 12, 10, 128]
output_shape = torch.Size([2, 12, 10, 32])
unscaled_std = math.sqrt(256)
weights_floats = 8 * 12 * 512 ** 2
e = [math.exp(s) for s in (2.0, 1.0, 0.0, 5.0)]
row_sum_after = round(sum(e[:3]) / sum(e), 2)
''',
    },
    # 03.2: masked_fill with -inf instead of an additive dtype-min mask
    "03.2": {
        "ex03-2-answer": '''\
def masked_softmax(scores, attention_mask):
    """Softmax over the keys, with padded keys (attention_mask == 0) getting zero weight."""
    # BEGIN SOLUTION
    padded = attention_mask[:, None, None, :] == 0
    return torch.softmax(scores.masked_fill(padded, float("-inf")), dim=-1)
    # END SOLUTION
''',
    },
    # 03.3: the fix written with einsum, no transposed copy of k at all
    "03.3": {
        "ex03-3-answer": '''\
def attention(q, k, v, mask=None):
    B, heads, T, d = k.shape
    scores = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(d)
    if mask is not None:
        scores = scores + mask
    weights = scores.softmax(dim=-1)
    return weights @ v, weights
''',
    },
    # 03.4: a loop instead of triu
    "03.4": {
        "ex03-4-answer": '''\
def causal_mask(T, dtype=torch.float32):
    """Additive mask (1, 1, T, T): query i may look at keys j <= i only."""
    # BEGIN SOLUTION
    mask = torch.zeros(1, 1, T, T, dtype=dtype)
    for i in range(T):
        for j in range(i + 1, T):
            mask[0, 0, i, j] = torch.finfo(dtype).min
    return mask
    # END SOLUTION
''',
    },
    # 03.5: filled in row by row with loops over the sentences
    "03.5": {
        "ex03-5-answer": '''\
def packing_mask(doc_ids, dtype=torch.float32):
    B, T = doc_ids.shape
    mask = torch.full((B, 1, T, T), torch.finfo(dtype).min, dtype=dtype)
    for b in range(B):
        ids = doc_ids[b].tolist()
        for i in range(T):
            for j in range(T):
                if ids[j] != -1 and ids[i] == ids[j]:
                    mask[b, 0, i, j] = 0.0
    return mask
''',
    },
}

# Near misses: answers one small slip away from right, which the tolerance must still fail.
NEAR_MISS = {
    # 03.3 fixed, but the scores divided by d instead of sqrt(d)
    "03.3": {
        "ex03-3-answer": '''\
def attention(q, k, v, mask=None):
    B, heads, T, d = k.shape
    scores = q @ k.transpose(-2, -1) / d
    if mask is not None:
        scores = scores + mask
    weights = scores.softmax(dim=-1)
    return weights @ v, weights
''',
    },
}
