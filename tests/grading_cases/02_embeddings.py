"""Grading cases for solutions/02_embeddings.ipynb.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; all must pass.
"""

WRONG = {
    # Statistics over the wrong axis: across the tokens (dim -2) instead of across the features.
    "02.1": {
        "ex02-1-answer": '''def layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(dim=-2, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-2, keepdim=True)
    return weight * (x - mean) / torch.sqrt(var + eps) + bias
''',
    },
    # RoBERTa-style positions that skip padding: BERT counts every position, padding included.
    "02.2": {
        "ex02-2-answer": '''def position_ids(input_ids):
    return (input_ids != 0).long().cumsum(dim=1) - 1
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
}

ALTERNATIVE = {
    # torch.var_mean with the biased variance, and rsqrt.
    "02.1": {
        "ex02-1-answer": '''def layer_norm(x, weight, bias, eps=1e-12):
    var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * weight + bias
''',
    },
    # One row at a time, stacked.
    "02.2": {
        "ex02-2-answer": '''def position_ids(input_ids):
    B, T = input_ids.shape
    rows = [torch.arange(T, dtype=torch.long, device=input_ids.device) for _ in range(B)]
    return torch.stack(rows)
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
}

# Near misses: answers one small slip away from right, which the tolerance must still fail.
NEAR_MISS = {
    # the unbiased variance (divide by H - 1), as torch.var does by default
    "02.1": {
        "ex02-1-answer": '''def layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True)  # unbiased: divides by H - 1
    return weight * (x - mean) / torch.sqrt(var + eps) + bias
''',
    },
}
