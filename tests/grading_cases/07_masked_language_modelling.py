"""Grading cases for solutions/07_masked_language_modelling.ipynb: answers the grader must fail, and pass.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; every exercise must pass.
"""

WRONG = {
    # 07.1: the loss averaged over every position, not only the chosen ones
    "07.1": {
        "ex07-1-answer": '''\
def mlm_loss(logits, input_ids, chosen):
    """Labels (original id where chosen, -100 elsewhere) and the mean cross-entropy over the chosen positions.

    logits (B, T, V), input_ids (B, T), chosen (B, T) bool -> (loss, labels (B, T))
    """
    # BEGIN SOLUTION
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))   # (B, T)
    log_probs = logits.log_softmax(dim=-1)                                      # (B, T, V)
    picked = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)   # (B, T)
    loss = -log_probs.gather(-1, input_ids.unsqueeze(-1)).mean()   # every position
    # END SOLUTION
    return loss, labels
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
    # 07.3: a copy of the embedding matrix, not a tie
    "07.3": {
        "ex07-3-answer": '''\
class TiedMLMHead(nn.Module):
    """dense -> GELU -> LayerNorm -> scores against every word embedding, plus a bias."""

    def __init__(self, word_embeddings, eps=1e-12):
        super().__init__()
        V, H = word_embeddings.weight.shape
        # BEGIN SOLUTION
        self.dense = nn.Linear(H, H)
        self.layer_norm = nn.LayerNorm(H, eps=eps)
        self.decoder = nn.Linear(H, V, bias=False)
        self.decoder.weight = nn.Parameter(word_embeddings.weight.detach().clone())
        self.bias = nn.Parameter(torch.zeros(V))
        # END SOLUTION

    def forward(self, hidden):
        """hidden (B, T, H) -> logits (B, T, V)."""
        # BEGIN SOLUTION
        u = self.layer_norm(F.gelu(self.dense(hidden)))        # (B, T, H)
        return self.decoder(u) + self.bias                     # (B, T, V)
        # END SOLUTION
''',
    },
    # 07.4: an attention mask of ones: padding looks like real tokens
    "07.4": {
        "ex07-4-answer": '''\
def pad_batch(sequences, pad_id):
    """Pad lists of token ids to the longest one: input_ids and attention_mask, both (B, T_max) long."""
    # BEGIN SOLUTION
    longest = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    attention_mask = torch.ones(len(sequences), longest, dtype=torch.long)
    for row, s in enumerate(sequences):
        input_ids[row, :len(s)] = torch.tensor(s, dtype=torch.long)
        attention_mask[row, :len(s)] = 1
    # END SOLUTION
    return input_ids, attention_mask
''',
    },
}

ALTERNATIVE = {
    # 07.1: masked_fill for the labels, F.cross_entropy (which skips -100) for the loss
    "07.1": {
        "ex07-1-answer": '''\
def mlm_loss(logits, input_ids, chosen):
    """Labels (original id where chosen, -100 elsewhere) and the mean cross-entropy over the chosen positions."""
    # BEGIN SOLUTION
    labels = input_ids.masked_fill(~chosen, -100)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
    # END SOLUTION
    return loss, labels
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
    # 07.3: no decoder module: F.linear on the embedding matrix, nn.GELU as a module
    "07.3": {
        "ex07-3-answer": '''\
class TiedMLMHead(nn.Module):
    """dense -> GELU -> LayerNorm -> scores against every word embedding, plus a bias."""

    def __init__(self, word_embeddings, eps=1e-12):
        super().__init__()
        V, H = word_embeddings.weight.shape
        # BEGIN SOLUTION
        self.word_embeddings = word_embeddings
        self.dense = nn.Linear(H, H)
        self.act = nn.GELU()
        self.layer_norm = nn.LayerNorm(H, eps=eps)
        self.bias = nn.Parameter(torch.zeros(V))
        # END SOLUTION

    def forward(self, hidden):
        """hidden (B, T, H) -> logits (B, T, V)."""
        # BEGIN SOLUTION
        u = self.layer_norm(self.act(self.dense(hidden)))
        return F.linear(u, self.word_embeddings.weight, self.bias)
        # END SOLUTION
''',
    },
    # 07.4: torch.nn.utils.rnn.pad_sequence
    "07.4": {
        "ex07-4-answer": '''\
def pad_batch(sequences, pad_id):
    """Pad lists of token ids to the longest one: input_ids and attention_mask, both (B, T_max) long."""
    # BEGIN SOLUTION
    rows = [torch.tensor(s, dtype=torch.long) for s in sequences]
    input_ids = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=pad_id)
    attention_mask = torch.nn.utils.rnn.pad_sequence([torch.ones_like(r) for r in rows], batch_first=True)
    # END SOLUTION
    return input_ids, attention_mask
''',
    },
}
