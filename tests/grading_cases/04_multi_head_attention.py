"""Grading cases for chapter 04 (multi-head attention): planted wrong answers and correct variants.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; every exercise must pass.
"""

WRONG = {
    # 04.1: the view after the transpose taken for an error, and c (strided heads) taken for the same split
    "04.1": {
        "ex04-1-answer": '''\
verdicts = {"a": "different", "b": "same", "c": "same", "d": "error", "e": "error", "f": "different", "g": "same"}
contiguous_after_split = False
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
    # 04.2: the key and value biases counted at full size H, as if only the weights shrank
    "04.2": {
        "ex04-2-answer": '''\
def attention_sizes(hidden_size, num_heads, num_kv_heads, seq_len):
    H = hidden_size
    kv_features = num_kv_heads * (H // num_heads)
    params = 2 * (H * H + H) + 2 * (H * kv_features + H)  # biases left at H
    return params, 2 * seq_len * kv_features
''',
    },
    # 04.4: the code as given, with its bug (heads merged without moving the token axis back first)
    "04.4": {
        "ex04-4-answer": '''\
class SelfAttention(torch.nn.Module):
    """Multi-head self-attention with kaibert's parameter names: (B, T, H) -> (B, T, H)."""

    def __init__(self, hidden_size, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.query = torch.nn.Linear(hidden_size, hidden_size)
        self.key = torch.nn.Linear(hidden_size, hidden_size)
        self.value = torch.nn.Linear(hidden_size, hidden_size)
        self.out = torch.nn.Linear(hidden_size, hidden_size)

    def split(self, t):
        B, T, H = t.shape
        return t.view(B, T, self.num_heads, H // self.num_heads).transpose(1, 2)  # (B, h, T, d)

    def forward(self, x, mask=None):
        B, T, H = x.shape
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        y, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, h, T, d), (B, h, T, T)
        y = y.contiguous().view(B, T, H)  # (B, T, H): the heads side by side
        return self.out(y), weights
''',
    },
    # 04.5: the cache is updated, but the new query attends only to its own key and value
    "04.5": {
        "ex04-5-answer": '''\
def attend_step(x_new, weights, num_heads, cache=None):
    B, _, H = x_new.shape
    d = H // num_heads

    def heads(name):
        t = x_new @ weights[f"{name}.weight"].T + weights[f"{name}.bias"]
        return t.view(B, 1, num_heads, d).transpose(1, 2)

    q, k, v = heads("query"), heads("key"), heads("value")
    y, _ = scaled_dot_product_attention(q, k, v)  # the past is never read
    if cache is not None:
        k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
    y = y.transpose(1, 2).reshape(B, 1, H)
    return y @ weights["out.weight"].T + weights["out.bias"], (k, v)
''',
    },
}

ALTERNATIVE = {
    # 04.1: upper-case answers with spaces around them, built in a loop
    "04.1": {
        "ex04-1-answer": '''\
verdicts = {}
for key, verdict in zip("abcdefg", ["Different", "Same", "Different", "Same", "Error", "Different", "Same "]):
    verdicts[key] = verdict
contiguous_after_split = bool(0)
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
    # 04.2: per projection, in_features * out_features + out_features, summed
    "04.2": {
        "ex04-2-answer": '''\
def attention_sizes(hidden_size, num_heads, num_kv_heads, seq_len):
    d = hidden_size // num_heads

    def linear(n_in, n_out):
        return n_in * n_out + n_out

    shapes = [(hidden_size, hidden_size), (hidden_size, num_kv_heads * d),
              (hidden_size, num_kv_heads * d), (hidden_size, hidden_size)]
    params = sum(linear(n_in, n_out) for n_in, n_out in shapes)
    keys = values = seq_len * num_kv_heads * d
    return params, keys + values
''',
    },
    # 04.4: permute and flatten instead of transpose and reshape
    "04.4": {
        "ex04-4-answer": '''\
class SelfAttention(torch.nn.Module):
    def __init__(self, hidden_size, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.query = torch.nn.Linear(hidden_size, hidden_size)
        self.key = torch.nn.Linear(hidden_size, hidden_size)
        self.value = torch.nn.Linear(hidden_size, hidden_size)
        self.out = torch.nn.Linear(hidden_size, hidden_size)

    def split(self, t):
        B, T, H = t.shape
        return t.view(B, T, self.num_heads, H // self.num_heads).transpose(1, 2)

    def forward(self, x, mask=None):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        y, weights = scaled_dot_product_attention(q, k, v, mask)
        y = y.permute(0, 2, 1, 3).flatten(start_dim=2)  # tokens in front again, then the heads side by side
        return self.out(y), weights
''',
    },
    # 04.5: softmax written out with einsum, the projections with F.linear, the heads cached with torch.cat on a list
    "04.5": {
        "ex04-5-answer": '''\
def attend_step(x_new, weights, num_heads, cache=None):
    F = torch.nn.functional
    B, _, H = x_new.shape
    d = H // num_heads
    q, k, v = (F.linear(x_new, weights[n + ".weight"], weights[n + ".bias"]).reshape(B, num_heads, d).unsqueeze(2)
               for n in ("query", "key", "value"))  # (B, h, 1, d): one token, so no transpose needed
    if cache is not None:
        k, v = torch.cat([*cache[:1], k], dim=-2), torch.cat([*cache[1:], v], dim=-2)
    scores = torch.einsum("bhqd,bhkd->bhqk", q, k) / d ** 0.5
    y = torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), v)  # (B, h, 1, d)
    y = y.reshape(B, 1, H)
    return F.linear(y, weights["out.weight"], weights["out.bias"]), (k, v)
''',
    },
}
