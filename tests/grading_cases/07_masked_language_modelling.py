"""Grading cases for solutions/07_masked_language_modelling.ipynb: answers the grader must fail, and pass.

WRONG: planted all at once, exactly these exercises must fail (07.3 is a debug exercise: its
WRONG case is a fix that is no fix).
ALTERNATIVE: correct answers written differently; every exercise must pass.
NEAR_MISS: one small slip from right; each must fail.
"""

WRONG = {
    # 07.1: not conditioned on what the model sees: the share of targets kept unchanged (0.1), and the
    # share of all positions that show their own token, [MASK] positions included in the denominator
    "07.1": {
        "ex07-1-answer": '''\
def trust_in_visible_token(p, mask_share, random_share):
    unchanged = 1.0 - mask_share - random_share
    return unchanged, (1.0 - p) + p * unchanged
''',
    },
    # 07.2: padding can be chosen: the attention mask is ignored
    "07.2": {
        "ex07-2-answer": '''\
def mask_80_10_10(input_ids, attention_mask, special_ids, mask_token_id, vocab_size, generator,
                  mlm_probability=0.15):
    """BERT's masking rule. Returns (masked_ids, labels), both (B, T)."""
    # BEGIN SOLUTION
    shape = input_ids.shape                                                      # (B, T)
    never = torch.isin(input_ids, torch.tensor(special_ids))
    chosen = (torch.rand(shape, generator=generator) < mlm_probability) & ~never
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    to_mask = chosen & (torch.rand(shape, generator=generator) < 0.8)
    to_random = chosen & ~to_mask & (torch.rand(shape, generator=generator) < 0.5)
    random_ids = torch.randint(vocab_size, shape, generator=generator)
    masked_ids = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    masked_ids = torch.where(to_random, random_ids, masked_ids)
    # END SOLUTION
    return masked_ids, labels
''',
    },
    # 07.3 (debug): the fix copies E into a new Parameter: still not the same tensor
    "07.3": {
        "ex07-3-answer": '''\
class TiedMLMHead(nn.Module):
    """dense -> GELU -> LayerNorm -> scores against every word embedding, plus a bias."""

    def __init__(self, word_embeddings, eps=1e-12):
        super().__init__()
        V, H = word_embeddings.weight.shape
        self.dense = nn.Linear(H, H)
        self.layer_norm = nn.LayerNorm(H, eps=eps)
        # BEGIN SOLUTION
        self.decoder_weight = nn.Parameter(word_embeddings.weight.detach().clone())
        # END SOLUTION
        self.bias = nn.Parameter(torch.zeros(V))                                # (V,)

    def forward(self, hidden):
        """hidden (B, T, H) -> logits (B, T, V)."""
        u = self.layer_norm(F.gelu(self.dense(hidden)))                         # (B, T, H)
        return F.linear(u, self.decoder_weight, self.bias)                      # (B, T, V)
''',
    },
    # 07.4 (transfer): k counted over the whole sequence, [CLS] and [SEP] included
    "07.4": {
        "ex07-4-answer": '''\
def choose_fixed_count(input_ids, attention_mask, special_ids, p, scores):
    never = torch.isin(input_ids, torch.tensor(special_ids)) | (attention_mask == 0)
    k = torch.clamp(torch.floor(p * attention_mask.sum(-1)).long(), min=1)
    order = scores.masked_fill(never, float("inf")).argsort(dim=-1)
    rank = order.argsort(dim=-1)
    return (rank < k[:, None]) & ~never
''',
    },
    # 07.5 (concept): tied, yet E counted as the head's own
    "07.5": {
        "ex07-5-answer": '''\
def mlm_head_parameters(H, V, tied):
    return H * H + H + 2 * H + V + V * H
''',
    },
    # 07.6 (debug): padding fixed, but the labels rebuilt from the input ids: every real token a target
    "07.6": {
        "ex07-6-answer": '''\
def collate(examples, pad_id):
    longest = max(len(e["input_ids"]) for e in examples)
    B = len(examples)
    input_ids = torch.full((B, longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros(B, longest, dtype=torch.long)
    labels = torch.full((B, longest), -100, dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e["input_ids"])
        input_ids[row, :n] = torch.tensor(e["input_ids"], dtype=torch.long)
        attention_mask[row, :n] = 1
        labels[row, :n] = torch.tensor(e["input_ids"], dtype=torch.long)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
''',
    },
}

ALTERNATIVE = {
    # 07.1: Bayes' rule written out with counts per 1,000 ordinary tokens
    "07.1": {
        "ex07-1-answer": '''\
def trust_in_visible_token(p, mask_share, random_share):
    n = 1000.0
    targets = n * p
    kept, randomised = targets * (1 - mask_share - random_share), targets * random_share
    not_targets = n - targets
    return kept / (kept + randomised), (not_targets + kept) / (not_targets + kept + randomised)
''',
    },
    # 07.2: torch.bernoulli for the choice, one uniform number for [MASK] / random / unchanged
    "07.2": {
        "ex07-2-answer": '''\
def mask_80_10_10(input_ids, attention_mask, special_ids, mask_token_id, vocab_size, generator,
                  mlm_probability=0.15):
    """BERT's masking rule. Returns (masked_ids, labels), both (B, T)."""
    # BEGIN SOLUTION
    probability = torch.full(input_ids.shape, mlm_probability)
    for special in special_ids:
        probability[input_ids == special] = 0.0
    probability[attention_mask == 0] = 0.0
    chosen = torch.bernoulli(probability, generator=generator).bool()
    labels = input_ids.clone()
    labels[~chosen] = -100
    u = torch.rand(input_ids.shape, generator=generator)
    masked_ids = input_ids.clone()
    masked_ids[chosen & (u < 0.8)] = mask_token_id
    random_here = chosen & (u >= 0.8) & (u < 0.9)
    masked_ids[random_here] = torch.randint(vocab_size, (int(random_here.sum()),), generator=generator)
    # END SOLUTION
    return masked_ids, labels
''',
    },
    # 07.3 (debug): fixed by giving the head the embedding module and reading its weight in forward
    "07.3": {
        "ex07-3-answer": '''\
class TiedMLMHead(nn.Module):
    """dense -> GELU -> LayerNorm -> scores against every word embedding, plus a bias."""

    def __init__(self, word_embeddings, eps=1e-12):
        super().__init__()
        V, H = word_embeddings.weight.shape
        self.dense = nn.Linear(H, H)
        self.layer_norm = nn.LayerNorm(H, eps=eps)
        self.embeddings = word_embeddings
        self.bias = nn.Parameter(torch.zeros(V))

    def forward(self, hidden):
        u = self.layer_norm(F.gelu(self.dense(hidden)))
        return u @ self.embeddings.weight.T + self.bias
''',
    },
    # 07.4 (transfer): a loop over the rows, Python's sorted on the scores
    "07.4": {
        "ex07-4-answer": '''\
def choose_fixed_count(input_ids, attention_mask, special_ids, p, scores):
    B, T = input_ids.shape
    chosen = torch.zeros(B, T, dtype=torch.bool)
    for row in range(B):
        ordinary = [t for t in range(T)
                    if attention_mask[row, t] == 1 and int(input_ids[row, t]) not in special_ids]
        k = max(1, int(p * len(ordinary)))
        best = sorted(ordinary, key=lambda t: float(scores[row, t]))[:k]
        chosen[row, best] = True
    return chosen
''',
    },
    # 07.5 (concept): count by building the modules of an untied and a tied head
    "07.5": {
        "ex07-5-answer": '''\
def mlm_head_parameters(H, V, tied):
    parts = [nn.Linear(H, H), nn.LayerNorm(H)]
    count = sum(p.numel() for part in parts for p in part.parameters()) + V
    if not tied:
        count += nn.Linear(H, V, bias=False).weight.numel()
    return count
''',
    },
    # 07.6 (debug): rewritten with pad_sequence, labels padded with -100
    "07.6": {
        "ex07-6-answer": '''\
from torch.nn.utils.rnn import pad_sequence


def collate(examples, pad_id):
    ids = [torch.tensor(e["input_ids"], dtype=torch.long) for e in examples]
    labels = [torch.tensor(e["labels"], dtype=torch.long) for e in examples]
    return {"input_ids": pad_sequence(ids, batch_first=True, padding_value=pad_id),
            "attention_mask": pad_sequence([torch.ones_like(i) for i in ids], batch_first=True),
            "labels": pad_sequence(labels, batch_first=True, padding_value=-100)}
''',
    },
}

# Near misses: answers one small slip away from right, which the tolerance must still fail.
NEAR_MISS = {
    # 07.1: `anywhere` as 1 minus the share of random tokens, forgetting that [MASK] positions show no
    # token at all (0.985 where 0.9830 is right)
    "07.1": {
        "ex07-1-answer": '''\
def trust_in_visible_token(p, mask_share, random_share):
    unchanged = 1.0 - mask_share - random_share
    return unchanged / (unchanged + random_share), 1.0 - p * random_share
''',
    },
    # 07.4: k rounded to the nearest integer (as Google's script does), not down as the exercise asks
    "07.4": {
        "ex07-4-answer": '''\
def choose_fixed_count(input_ids, attention_mask, special_ids, p, scores):
    never = torch.isin(input_ids, torch.tensor(special_ids)) | (attention_mask == 0)
    k = torch.clamp(torch.round(p * (~never).sum(-1)).long(), min=1)
    order = scores.masked_fill(never, float("inf")).argsort(dim=-1)
    rank = order.argsort(dim=-1)
    return (rank < k[:, None]) & ~never
''',
    },
}
