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
    # The sentence number (how many [CLS] so far) instead of the position within the sentence.
    "02.3": {
        "ex02-3-answer": '''def packed_position_ids(input_ids, cls_id=101):
    return (input_ids == cls_id).long().cumsum(dim=1) - 1
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
    # Ones counted with cumsum, minus the count at the latest [CLS] (a running maximum of it).
    "02.3": {
        "ex02-3-answer": '''def packed_position_ids(input_ids, cls_id=101):
    counted = torch.ones_like(input_ids).cumsum(dim=1)  # 1, 2, ..., T
    at_cls = torch.where(input_ids == cls_id, counted, torch.zeros_like(counted))
    return counted - torch.cummax(at_cls, dim=1).values
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
    # off by one: every sentence counts its positions from 1, not 0
    "02.3": {
        "ex02-3-answer": '''def packed_position_ids(input_ids, cls_id=101):
    B, T = input_ids.shape
    index = torch.arange(T).expand(B, T)
    starts = torch.where(input_ids == cls_id, index - 1, torch.zeros_like(index))
    return index - starts.cummax(dim=1).values
''',
    },
    # the right axis, but the unbiased variance (divide by H - 1), as torch.var does by default
    "02.1": {
        "ex02-1-answer": '''def layer_norm(x, weight, bias, eps=1e-12):
    var, mean = torch.var_mean(x, dim=-1, keepdim=True)  # unbiased: divides by H - 1
    return weight * (x - mean) / torch.sqrt(var + eps) + bias
''',
    },
}
