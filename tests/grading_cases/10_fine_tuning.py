"""Grading cases for solutions/10_fine_tuning.ipynb: answers the grader must fail, and pass.

WRONG: the mistakes students really make; planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; all must pass.
NEAR_MISS: one small slip from right; each must fail.
"""

WRONG = {
    # the mean and the maximum over all T positions: the padding is averaged in, and a padded
    # position can win the maximum
    "10.1": {"ex10-1-answer": '''\
def pool(hidden, attention_mask, how):
    if how == "cls":
        return hidden[:, 0]
    if how == "mean":
        return hidden.mean(1)
    if how == "max":
        return hidden.max(1).values
    raise ValueError("how must be 'cls', 'mean' or 'max'")
'''},
    # overlapping pairs (every line with the next), so each line serves twice
    "10.2": {"ex10-2-answer": '''\
def sentence_order_pairs(lines, u):
    pairs = []
    for k in range(min(len(lines) - 1, len(u))):
        first, second = lines[k], lines[k + 1]
        pairs.append((second, first, 1) if u[k] < 0.5 else (first, second, 0))
    return pairs
'''},
    # the bug left in: F1 weighted by each class's support (that is weighted-F1, not macro-F1)
    "10.3": {"ex10-3-answer": '''\
def macro_f1(predictions, labels, num_labels):
    f1s, supports = [], []
    for c in range(num_labels):
        tp = ((predictions == c) & (labels == c)).sum().item()
        fp = ((predictions == c) & (labels != c)).sum().item()
        fn = ((predictions != c) & (labels == c)).sum().item()
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        supports.append((labels == c).sum().item())
    return sum(f * s for f, s in zip(f1s, supports)) / sum(supports)
'''},
    # the biases forgotten
    "10.4": {"ex10-4-answer": '''\
def new_parameters(hidden_size, num_labels, checkpoint_has_pooler):
    return hidden_size * num_labels + (0 if checkpoint_has_pooler else hidden_size * hidden_size)
'''},
    # "frozen" by zeroing the gradients: the count is right, but AdamW's decoupled weight decay
    # still shrinks every frozen weight matrix at every step
    "10.5": {"ex10-5-answer": '''\
def freeze(model, layers):
    if layers > len(model.bert.layers):
        raise ValueError(f"the encoder has only {len(model.bert.layers)} layers")
    frozen = set()
    for module in ([model.bert.embeddings, *model.bert.layers[:layers]] if layers else []):
        for p in module.parameters():
            p.register_hook(lambda grad: torch.zeros_like(grad))
            frozen.add(id(p))
    return sum(p.numel() for p in model.parameters() if id(p) not in frozen)
'''},
    # the mean over all 18 positions, padding included
    "10.6": {"ex10-6-answer": '''\
class MeanPoolClassifier(torch.nn.Module):
    def __init__(self, encoder, num_labels):
        super().__init__()
        self.encoder = encoder
        self.classifier = torch.nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, labels=None):
        hidden = self.encoder(input_ids, attention_mask=attention_mask).last_hidden_state
        logits = self.classifier(hidden.mean(1))
        return logits, (F.cross_entropy(logits, labels) if labels is not None else None)
'''},
}

# Correct answers written differently: all must pass.
ALTERNATIVE = {
    # one input at a time, its real tokens picked out by the mask
    "10.1": {"ex10-1-answer": '''\
def pool(hidden, attention_mask, how):
    if how not in ("cls", "mean", "max"):
        raise ValueError(f"unknown pooling {how!r}: use cls, mean or max")
    rows = []
    for h, m in zip(hidden, attention_mask):
        real = h[m == 1]                                   # (n, H)
        rows.append(real[0] if how == "cls" else real.mean(0) if how == "mean" else real.amax(0))
    return torch.stack(rows)
'''},
    # zip over the even and odd lines
    "10.2": {"ex10-2-answer": '''\
def sentence_order_pairs(lines, u):
    firsts, seconds = lines[0::2], lines[1::2]
    return [(b, a, 1) if r < 0.5 else (a, b, 0) for a, b, r in zip(firsts, seconds, u)]
'''},
    # from a confusion matrix, all classes at once
    "10.3": {"ex10-3-answer": '''\
def macro_f1(predictions, labels, num_labels):
    m = torch.zeros(num_labels, num_labels, dtype=torch.float64)
    for t, p in zip(labels.tolist(), predictions.tolist()):
        m[t, p] += 1
    tp = m.diag()
    denominator = m.sum(0) + m.sum(1)          # 2 tp + fp + fn
    f1 = torch.where(denominator > 0, 2 * tp / denominator.clamp(min=1), torch.zeros_like(tp))
    return f1.mean().item()
'''},
    # counted from the shapes of the two layers
    "10.4": {"ex10-4-answer": '''\
def new_parameters(hidden_size, num_labels, checkpoint_has_pooler):
    shapes = [(num_labels, hidden_size), (num_labels,)]
    if not checkpoint_has_pooler:
        shapes += [(hidden_size, hidden_size), (hidden_size,)]
    total = 0
    for shape in shapes:
        size = 1
        for d in shape:
            size *= d
        total += size
    return total
'''},
    # by parameter name, the count summed along the way
    "10.5": {"ex10-5-answer": '''\
def freeze(model, layers):
    n = model.bert.config.num_hidden_layers
    if layers > n:
        raise ValueError(f"asked to freeze {layers} layers of a model with {n}")
    prefixes = tuple((["bert.embeddings."] if layers else []) + [f"bert.layers.{i}." for i in range(layers)])
    trainable = 0
    for name, p in model.named_parameters():
        if name.startswith(prefixes):
            p.requires_grad = False
        else:
            trainable += p.numel()
    return trainable
'''},
    # the mean as a weighted sum, weights 1/n on the real tokens, and the loss module
    "10.6": {"ex10-6-answer": '''\
class MeanPoolClassifier(torch.nn.Module):
    """An encoder, the mean of its token vectors over the real tokens, one linear layer."""

    def __init__(self, encoder, num_labels):
        super().__init__()
        self.encoder = encoder
        self.classifier = torch.nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, labels=None):
        out = self.encoder(input_ids, attention_mask)
        weights = attention_mask.to(out.last_hidden_state.dtype)
        weights = weights / weights.sum(1, keepdim=True)                     # (B, T): 1/n on real tokens
        logits = self.classifier(torch.einsum("bt,bth->bh", weights, out.last_hidden_state))
        if labels is None:
            return logits, None
        return logits, torch.nn.CrossEntropyLoss()(logits, labels)
'''},
}

# One small slip from right: each must still fail.
NEAR_MISS = {
    # padding zeroed by multiplying with the mask before the maximum: right wherever a feature has
    # a positive real value, wrong (0) where all of its real values are negative
    "10.1": {"ex10-1-answer": '''\
def pool(hidden, attention_mask, how):
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    if how == "cls":
        return hidden[:, 0]
    if how == "mean":
        return (hidden * m).sum(1) / m.sum(1)
    if how == "max":
        return (hidden * m).max(1).values
    raise ValueError("how must be 'cls', 'mean' or 'max'")
'''},
    # the three embedding tables frozen, the embeddings' LayerNorm forgotten
    "10.5": {"ex10-5-answer": '''\
def freeze(model, layers):
    if layers > len(model.bert.layers):
        raise ValueError(f"the encoder has only {len(model.bert.layers)} layers")
    if layers:
        e = model.bert.embeddings
        for table in (e.word_embeddings, e.position_embeddings, e.token_type_embeddings):
            table.weight.requires_grad_(False)
        for layer in model.bert.layers[:layers]:
            layer.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
'''},
    # the mean taken over the real tokens, but the encoder run without the mask: every token
    # attends to the padding too
    "10.6": {"ex10-6-answer": '''\
class MeanPoolClassifier(torch.nn.Module):
    def __init__(self, encoder, num_labels):
        super().__init__()
        self.encoder = encoder
        self.classifier = torch.nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids, attention_mask, labels=None):
        hidden = self.encoder(input_ids).last_hidden_state
        real = attention_mask.unsqueeze(-1).to(hidden.dtype)
        logits = self.classifier((hidden * real).sum(1) / real.sum(1))
        return logits, (F.cross_entropy(logits, labels) if labels is not None else None)
'''},
}
