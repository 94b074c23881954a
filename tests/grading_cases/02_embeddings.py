"""Grading cases for solutions/02_embeddings.ipynb.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; all must pass.
"""

WRONG = {
    # The given code, untouched: statistics over dim 1, the tokens of a (B, T, H) batch, not the features.
    "02.1": {
        "ex02-1-answer": '''def layer_norm(x, weight, bias, eps=1e-12):
    var, mean = torch.var_mean(x, dim=1, correction=0, keepdim=True)
    return weight * (x - mean) / torch.sqrt(var + eps) + bias
''',
    },
    # LayerNorm's gamma and beta left out of the parameter count.
    "02.2": {
        "ex02-2-answer": '''embedding_parameters = 30522 * 768 + 512 * 768 + 2 * 768
sum_shape = (4, 16, 768)
rows_with_gradient = 6
gradient_of_the_row = 3.0
''',
    },
    # The segment embeddings forgotten.
    "02.3": {
        "ex02-3-answer": '''def embed(input_ids, token_type_ids, word, position, segment, gamma, beta, eps=1e-12):
    T = input_ids.size(1)
    x = word[input_ids] + position[:T]
    return F.layer_norm(x, (x.size(-1),), gamma, beta, eps)
''',
    },
    # Counting [SEP]s up to and including the position: the first [SEP] lands in segment 1, the last in 0.
    "02.4": {
        "ex02-4-answer": '''def segment_ids(input_ids, sep_id=102, pad_id=0):
    seps = (input_ids == sep_id).long().cumsum(dim=1)
    return ((seps == 1) & (input_ids != pad_id)).long()
''',
    },
    # The exponent i/H instead of 2i/H: the frequencies fall half as fast.
    "02.5": {
        "ex02-5-answer": '''def sinusoidal_positions(T, H):
    t = torch.arange(T, dtype=torch.float32)[:, None]
    angles = t / 10000 ** (torch.arange(H // 2, dtype=torch.float32) / H)
    table = torch.zeros(T, H)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles)
    return table
''',
    },
}

ALTERNATIVE = {
    # The fix written out with means and squares over the last axis.
    "02.1": {
        "ex02-1-answer": '''def layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return weight * (x - mean) / torch.sqrt(var + eps) + bias
''',
    },
    # Arithmetic written differently, a torch.Size, a set, an integer.
    "02.2": {
        "ex02-2-answer": '''V, P, S, H = 30522, 512, 2, 768
embedding_parameters = (V + P + S) * H + 2 * H
sum_shape = torch.Size([4, 16, H])
rows_with_gradient = len({101, 1996, 4937, 2003, 102, 3899})
gradient_of_the_row = 3
''',
    },
    # Lookups as one-hot matrix products, LayerNorm written out.
    "02.3": {
        "ex02-3-answer": '''def embed(input_ids, token_type_ids, word, position, segment, gamma, beta, eps=1e-12):
    B, T = input_ids.shape
    if token_type_ids is None:
        token_type_ids = input_ids.new_zeros(B, T)
    tok = F.one_hot(input_ids, word.size(0)).float() @ word
    pos = F.one_hot(torch.arange(T), position.size(0)).float() @ position
    seg = F.one_hot(token_type_ids, segment.size(0)).float() @ segment
    x = tok + pos + seg
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return gamma * (x - mean) / (var + eps).sqrt() + beta
''',
    },
    # A plain loop over rows and positions.
    "02.4": {
        "ex02-4-answer": '''def segment_ids(input_ids, sep_id=102, pad_id=0):
    out = torch.zeros_like(input_ids)
    for b, row in enumerate(input_ids.tolist()):
        seen = 0
        for t, token in enumerate(row):
            if token != pad_id and seen == 1:
                out[b, t] = 1
            if token == sep_id:
                seen += 1
    return out
''',
    },
    # Plain Python loops with math.sin and math.cos.
    "02.5": {
        "ex02-5-answer": '''import math


def sinusoidal_positions(T, H):
    rows = []
    for t in range(T):
        row = []
        for i in range(H // 2):
            angle = t / math.pow(10000, 2 * i / H)
            row += [math.sin(angle), math.cos(angle)]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float32)
''',
    },
}

# Near misses: answers one small slip away from right, which the tolerance must still fail.
NEAR_MISS = {
    # the right axis, but the unbiased variance (divide by H - 1), as torch.var does by default
    "02.1": {
        "ex02-1-answer": '''def layer_norm(x, weight, bias, eps=1e-12):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True)  # unbiased: divides by H - 1
    return weight * (x - mean) / torch.sqrt(var + eps) + bias
''',
    },
}
