"""Grading cases for chapter 03 (attention): planted wrong answers and correct variants.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; every exercise must pass.
"""

WRONG = {
    # 03.1: scores without the 1/sqrt(d) scaling
    "03.1": {
        "ex03-1-answer": '''\
def attention_scores(q, k):
    """q @ k^T / sqrt(d): one score per (query, key) pair, shape (..., T_q, T_k)."""
    # BEGIN SOLUTION
    return q @ k.transpose(-2, -1)
    # END SOLUTION
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
    # 03.3: softmax over the query axis instead of the key axis
    "03.3": {
        "ex03-3-answer": '''\
def attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d) + mask) v, and the weights."""
    # BEGIN SOLUTION
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, heads, T, T)
    if mask is not None:
        scores = scores + mask
    weights = scores.softmax(dim=-2)  # (B, heads, T, T)
    return weights @ v, weights  # (B, heads, T, d)
    # END SOLUTION
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
}

ALTERNATIVE = {
    # 03.1: einsum instead of matmul
    "03.1": {
        "ex03-1-answer": '''\
def attention_scores(q, k):
    """q @ k^T / sqrt(d): one score per (query, key) pair, shape (..., T_q, T_k)."""
    # BEGIN SOLUTION
    d = q.shape[-1]
    return torch.einsum("...id,...jd->...ij", q, k) / d ** 0.5
    # END SOLUTION
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
    # 03.3: einsum and a hand-written softmax
    "03.3": {
        "ex03-3-answer": '''\
def attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d) + mask) v, and the weights."""
    # BEGIN SOLUTION
    B, heads, T, d = q.shape
    scores = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(d)
    if mask is not None:
        scores = scores + mask
    weights = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return torch.einsum("bhij,bhjd->bhid", weights, v), weights
    # END SOLUTION
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
}

# Near misses: answers one small slip away from right, which the tolerance must still fail.
NEAR_MISS = {
    # scores divided by d instead of sqrt(d)
    "03.1": {
        "ex03-1-answer": '''\
def attention_scores(q, k):
    return q @ k.transpose(-2, -1) / q.size(-1)
''',
    },
}
