"""Grading cases for solutions/06_bert_model.ipynb: answers the grader must fail, and pass."""

# Planted wrong answers, the mistakes students really make. Planted all at once, exactly these
# exercises must fail.
WRONG = {
    # every rule applied in turn: "attention.output.dense" also ends in "output.dense", so the
    # attention's out projection becomes "attention.feed_forward.down"
    "06.1": {"ex06-1-answer": '''\
def hf_to_kaibert(name):
    name = name.replace("encoder.layer.", "layers.")
    for old, new in [("attention.self.", "attention."), ("output.dense", "feed_forward.down"),
                     ("output.LayerNorm", "output_norm"), ("attention.output.dense", "attention.out"),
                     ("attention.output.LayerNorm", "attention_norm"), ("intermediate.dense", "feed_forward.up"),
                     ("embeddings.LayerNorm", "embeddings.layer_norm")]:
        name = name.replace(old, new)
    return name
'''},
    # the code as given: the 0/1 attention mask added to the scores as it is, so padding is never hidden
    "06.2": {"ex06-2-answer": '''\
def bert_forward(model, input_ids, attention_mask):
    """BertModel's forward pass by hand: (last_hidden_state (B, T, H), pooler_output (B, H))."""
    x = model.embeddings(input_ids)  # (B, T, H)
    mask = attention_mask[:, None, None, :].to(x.dtype)  # (B, 1, 1, T)
    for layer in model.layers:
        x, _ = layer(x, mask)  # (B, T, H)
    return x, model.pooler(x)  # (B, T, H), (B, H)
'''},
    # the mean over every position, padding included
    "06.3": {"ex06-3-answer": '''\
def mean_pool(hidden, attention_mask):
    return hidden.mean(dim=1)
'''},
    # one hidden state per layer, the embeddings' output forgotten
    "06.4": {"ex06-4-answer": '''\
def returned_numbers(config, batch_size, seq_len):
    L, H, heads = config.num_hidden_layers, config.hidden_size, config.num_attention_heads
    return L * batch_size * seq_len * H, L * batch_size * heads * seq_len * seq_len
'''},
    # layers renumbered in increasing order of their old numbers, whatever order keep asks for
    "06.5": {"ex06-5-answer": '''\
def select_layers(state, keep):
    new_number = {old: new for new, old in enumerate(sorted(keep))}
    selected = {}
    for name, tensor in state.items():
        if not name.startswith("layers."):
            selected[name] = tensor
            continue
        _, number, rest = name.split(".", 2)
        if int(number) in new_number:
            selected[f"layers.{new_number[int(number)]}.{rest}"] = tensor
    return selected
'''},
}

# Correct answers written differently: all must pass.
ALTERNATIVE = {
    # one regular expression per rule, matched on the whole name
    "06.1": {"ex06-1-answer": '''\
def hf_to_kaibert(name):
    rules = [
        (r"^embeddings\\.LayerNorm\\.", "embeddings.layer_norm."),
        (r"^encoder\\.layer\\.(\\d+)\\.attention\\.self\\.(query|key|value)\\.", r"layers.\\1.attention.\\2."),
        (r"^encoder\\.layer\\.(\\d+)\\.attention\\.output\\.dense\\.", r"layers.\\1.attention.out."),
        (r"^encoder\\.layer\\.(\\d+)\\.attention\\.output\\.LayerNorm\\.", r"layers.\\1.attention_norm."),
        (r"^encoder\\.layer\\.(\\d+)\\.intermediate\\.dense\\.", r"layers.\\1.feed_forward.up."),
        (r"^encoder\\.layer\\.(\\d+)\\.output\\.dense\\.", r"layers.\\1.feed_forward.down."),
        (r"^encoder\\.layer\\.(\\d+)\\.output\\.LayerNorm\\.", r"layers.\\1.output_norm."),
    ]
    for pattern, replacement in rules:
        new, n = re.subn(pattern, replacement, name)
        if n:
            return new
    return name
'''},
    # the fix with chapter 03's padding_mask
    "06.2": {"ex06-2-answer": '''\
def bert_forward(model, input_ids, attention_mask):
    x = model.embeddings(input_ids)
    mask = padding_mask(attention_mask, x.dtype)
    for layer in model.layers:
        x, _ = layer(x, mask)
    return x, model.pooler(x)
'''},
    # padding zeroed with masked_fill, divided by the number of real tokens
    "06.3": {"ex06-3-answer": '''\
def mean_pool(hidden, attention_mask):
    padding = attention_mask == 0  # (B, T)
    total = hidden.masked_fill(padding[..., None], 0.0).sum(dim=1)  # (B, H)
    count = attention_mask.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1)
    return total / count
'''},
    # one tensor shape at a time, as the model returns them
    "06.4": {"ex06-4-answer": '''\
def returned_numbers(config, batch_size, seq_len):
    hidden_shape = (batch_size, seq_len, config.hidden_size)
    attention_shape = (batch_size, config.num_attention_heads, seq_len, seq_len)
    hidden = sum(math.prod(hidden_shape) for _ in range(config.num_hidden_layers + 1))
    attentions = sum(math.prod(attention_shape) for _ in range(config.num_hidden_layers))
    return hidden, attentions
'''},
    # a regular expression on the layer number, the keep list walked once per layer
    "06.5": {"ex06-5-answer": '''\
def select_layers(state, keep):
    out = {k: v for k, v in state.items() if not k.startswith("layers.")}
    for new, old in enumerate(keep):
        for name, tensor in state.items():
            m = re.match(r"layers\\.(\\d+)\\.(.*)", name)
            if m and int(m.group(1)) == old:
                out[f"layers.{new}.{m.group(2)}"] = tensor
    return out
'''},
}
