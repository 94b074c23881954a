"""Grading cases for chapter 04 (multi-head attention): planted wrong answers and correct variants.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; every exercise must pass.
"""

WRONG = {
    # 04.1: view(B, heads, T, d) without the transpose: right shape, tokens mixed
    "04.1": {
        "ex04-1-answer": '''\
def split_heads(x, num_heads):
    """(B, T, H) -> (B, num_heads, T, H // num_heads)."""
    # BEGIN SOLUTION
    B, T, H = x.shape
    if H % num_heads:
        raise ValueError(f"hidden size {H} is not divisible by {num_heads} heads")
    return x.view(B, num_heads, T, H // num_heads)  # right shape, tokens mixed
    # END SOLUTION
''',
    },
    # 04.2: reshape without transposing back: heads and tokens mixed
    "04.2": {
        "ex04-2-answer": '''\
def merge_heads(x):
    """(B, heads, T, d) -> (B, T, heads * d): the heads side by side again."""
    # BEGIN SOLUTION
    B, heads, T, d = x.shape
    return x.reshape(B, T, heads * d)  # no transpose
    # END SOLUTION
''',
    },
    # 04.3: scores scaled by sqrt(hidden size) instead of sqrt(head size)
    "04.3": {
        "ex04-3-answer": '''\
def multi_head_self_attention(x, weights, num_heads, mask=None):
    """Multi-head self-attention with the given projection weights: (B, T, H) -> (B, T, H)."""
    # BEGIN SOLUTION
    B, T, H = x.shape
    d = H // num_heads
    q = (x @ weights["query.weight"].T + weights["query.bias"]).view(B, T, num_heads, d).transpose(1, 2)
    k = (x @ weights["key.weight"].T + weights["key.bias"]).view(B, T, num_heads, d).transpose(1, 2)
    v = (x @ weights["value.weight"].T + weights["value.bias"]).view(B, T, num_heads, d).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(H)  # scaled by the hidden size, not the head size
    if mask is not None:
        scores = scores + mask
    y = scores.softmax(dim=-1) @ v
    y = y.transpose(1, 2).reshape(B, T, H)
    return y @ weights["out.weight"].T + weights["out.bias"]
    # END SOLUTION
''',
    },
    # 04.4: repeat (tiling 0, 1, 0, 1) instead of repeat_interleave (0, 0, 1, 1)
    "04.4": {
        "ex04-4-answer": '''\
def repeat_kv(kv, num_heads):
    """(B, g, T, d) -> (B, num_heads, T, d): each key/value head serves a group of query heads."""
    # BEGIN SOLUTION
    return kv.repeat(1, num_heads // kv.size(1), 1, 1)  # tiles: 0, 1, 0, 1, ...
    # END SOLUTION
''',
    },
}

ALTERNATIVE = {
    # 04.1: chunk and stack instead of view and transpose
    "04.1": {
        "ex04-1-answer": '''\
def split_heads(x, num_heads):
    """(B, T, H) -> (B, num_heads, T, H // num_heads)."""
    # BEGIN SOLUTION
    if x.shape[-1] % num_heads != 0:
        raise ValueError("the hidden size must be a multiple of the number of heads")
    return torch.stack(x.chunk(num_heads, dim=-1), dim=1)
    # END SOLUTION
''',
    },
    # 04.2: concatenating the heads in a loop
    "04.2": {
        "ex04-2-answer": '''\
def merge_heads(x):
    """(B, heads, T, d) -> (B, T, heads * d): the heads side by side again."""
    # BEGIN SOLUTION
    return torch.cat([x[:, i] for i in range(x.shape[1])], dim=-1)
    # END SOLUTION
''',
    },
    # 04.3: a loop over heads, slicing each head's rows of the weights
    "04.3": {
        "ex04-3-answer": '''\
def multi_head_self_attention(x, weights, num_heads, mask=None):
    """Multi-head self-attention with the given projection weights: (B, T, H) -> (B, T, H)."""
    # BEGIN SOLUTION
    B, T, H = x.shape
    d = H // num_heads
    outputs = []
    for i in range(num_heads):  # one head at a time, with its own rows of each weight
        rows = slice(i * d, (i + 1) * d)
        q = x @ weights["query.weight"][rows].T + weights["query.bias"][rows]  # (B, T, d)
        k = x @ weights["key.weight"][rows].T + weights["key.bias"][rows]
        v = x @ weights["value.weight"][rows].T + weights["value.bias"][rows]
        scores = torch.einsum("btd,bsd->bts", q, k) / math.sqrt(d)  # (B, T, T)
        if mask is not None:
            scores = scores + mask[:, 0]  # (B, 1, T)
        outputs.append(torch.softmax(scores, dim=-1) @ v)  # (B, T, d)
    y = torch.cat(outputs, dim=-1)  # (B, T, H)
    return torch.nn.functional.linear(y, weights["out.weight"], weights["out.bias"])
    # END SOLUTION
''',
    },
    # 04.4: expand and reshape instead of repeat_interleave
    "04.4": {
        "ex04-4-answer": '''\
def repeat_kv(kv, num_heads):
    """(B, g, T, d) -> (B, num_heads, T, d): each key/value head serves a group of query heads."""
    # BEGIN SOLUTION
    B, g, T, d = kv.shape
    group = num_heads // g
    return kv[:, :, None, :, :].expand(B, g, group, T, d).reshape(B, num_heads, T, d)
    # END SOLUTION
''',
    },
}
