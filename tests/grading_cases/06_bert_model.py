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
    # mean over the tokens instead of the [CLS] vector
    "06.2": {"ex06-2-answer": '''\
def pool(hidden, weight, bias):
    return torch.tanh(hidden.mean(dim=1) @ weight.T + bias)
'''},
    # each layer's input collected instead of its output: the embeddings are there, the last output is not
    "06.3": {"ex06-3-answer": '''\
def run_layers(x, layers, mask=None):
    hidden_states, attentions = [], []
    for layer in layers:
        hidden_states.append(x)
        x, weights = layer(x, mask, output_attentions=True)
        attentions.append(weights)
    return x, tuple(hidden_states), tuple(attentions)
'''},
    # the pooler forgotten
    "06.4": {"ex06-4-answer": '''\
def count_parameters(config):
    V, P, S = config.vocab_size, config.max_position_embeddings, config.type_vocab_size
    H, I, L = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_layer = 4 * (H * H + H) + (H * I + I) + (I * H + H) + 4 * H
    return (V + P + S) * H + 2 * H + L * per_layer
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
    # F.linear and select()
    "06.2": {"ex06-2-answer": '''\
def pool(hidden, weight, bias):
    return F.linear(hidden.select(1, 0), weight, bias).tanh()
'''},
    # a while loop over indices, hidden states built up as a tuple
    "06.3": {"ex06-3-answer": '''\
def run_layers(x, layers, mask=None):
    hidden_states, attentions = (x,), ()
    i = 0
    while i < len(layers):
        out, weights = layers[i](hidden_states[-1], mask, output_attentions=True)
        hidden_states += (out,)
        attentions += (weights,)
        i += 1
    return hidden_states[-1], hidden_states, attentions
'''},
    # counted per module, with a helper for a linear layer
    "06.4": {"ex06-4-answer": '''\
def count_parameters(config):
    H, I = config.hidden_size, config.intermediate_size

    def linear(n_in, n_out):
        return n_in * n_out + n_out

    def layer_norm(n):
        return 2 * n

    embeddings = sum(n * H for n in (config.vocab_size, config.max_position_embeddings, config.type_vocab_size))
    embeddings += layer_norm(H)
    layer = 4 * linear(H, H) + linear(H, I) + linear(I, H) + 2 * layer_norm(H)
    return embeddings + config.num_hidden_layers * layer + linear(H, H)
'''},
}
