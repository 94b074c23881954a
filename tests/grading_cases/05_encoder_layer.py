"""Grading cases for solutions/05_encoder_layer.ipynb: answers the grader must fail, and pass."""

# Planted wrong answers, the mistakes students really make. Planted all at once, exactly these
# exercises must fail.
WRONG = {
    # erf without the 1/sqrt(2): Phi(x) is (1 + erf(x / sqrt 2)) / 2
    "05.1": {"ex05-1-answer": '''\
def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x))
'''},
    # ReLU, as in the original Transformer, where BERT uses GELU
    "05.2": {"ex05-2-answer": '''\
def feed_forward_block(h, w_up, b_up, w_down, b_down):
    u = h @ w_up.T + b_up
    return F.relu(u) @ w_down.T + b_down
'''},
    # GLU's plain sigmoid gate where SwiGLU asks for SiLU (z * sigmoid(z))
    "05.3": {"ex05-3-answer": '''\
def swiglu_feed_forward(h, w_gate, w_up, w_down):
    return (torch.sigmoid(h @ w_gate.T) * (h @ w_up.T)) @ w_down.T
'''},
    # the code as given: the second LayerNorm on the feed-forward output, before the residual addition
    "05.4": {"ex05-4-answer": '''\
def encoder_layer(x, layer, mask=None):
    """BERT's post-LN encoder layer from the sublayers and LayerNorms of `layer`: (B, T, H) -> (B, T, H)."""
    a, _ = layer.attention(x, mask)  # (B, T, H)
    h = layer.attention_norm(x + layer.attention_dropout(a))  # (B, T, H)
    f = layer.feed_forward(h)  # (B, T, H)
    return h + layer.output_dropout(layer.output_norm(f))  # (B, T, H)
'''},
    # the output projection forgotten: three H x H projections instead of four
    "05.5": {"ex05-5-answer": '''\
def encoder_layer_macs(seq_len, hidden_size, intermediate_size):
    T, H, I = seq_len, hidden_size, intermediate_size
    return 3 * T * H * H + 2 * T * T * H, 2 * T * H * I
'''},
}

# Correct answers written differently: all must pass.
ALTERNATIVE = {
    # the normal CDF through erfc
    "05.1": {"ex05-1-answer": '''\
def gelu(x):
    return x * 0.5 * torch.erfc(-x / math.sqrt(2.0))
'''},
    # einsum for the matrix products, the (out, in) layout spelled out
    "05.2": {"ex05-2-answer": '''\
def feed_forward_block(h, w_up, b_up, w_down, b_down):
    u = torch.einsum("bth,ih->bti", h, w_up) + b_up
    g = F.gelu(u)
    return torch.einsum("bti,hi->bth", g, w_down) + b_down
'''},
    # F.silu and einsum
    "05.3": {"ex05-3-answer": '''\
def swiglu_feed_forward(h, w_gate, w_up, w_down):
    gated = F.silu(torch.einsum("bth,ih->bti", h, w_gate)) * torch.einsum("bth,ih->bti", h, w_up)
    return torch.einsum("bti,hi->bth", gated, w_down)
'''},
    # LayerNorm written with F.layer_norm and the modules' own parameters, dropouts left out (eval mode)
    "05.4": {"ex05-4-answer": '''\
def encoder_layer(x, layer, mask=None):
    def norm(module, z):
        return F.layer_norm(z, module.normalized_shape, module.weight, module.bias, module.eps)

    residual = x
    h = norm(layer.attention_norm, layer.attention(x, mask)[0] + residual)
    residual = h
    return norm(layer.output_norm, layer.feed_forward(h) + residual)
'''},
    # counted head by head: h heads of size d, each with T x d x T for the scores and T x T x d for the sums
    "05.5": {"ex05-5-answer": '''\
def encoder_layer_macs(seq_len, hidden_size, intermediate_size):
    heads, d = 1, hidden_size  # any split gives the same count; one head of size H is the simplest
    def matmul(m, n, p):
        return m * n * p
    attention = sum(matmul(seq_len, hidden_size, hidden_size) for _ in ("q", "k", "v", "o"))
    attention += heads * (matmul(seq_len, d, seq_len) + matmul(seq_len, seq_len, d))
    feed_forward = matmul(seq_len, hidden_size, intermediate_size) + matmul(seq_len, intermediate_size, hidden_size)
    return attention, feed_forward
'''},
}

# Near misses: answers one small slip away from right, which the tolerance must still fail.
NEAR_MISS = {
    # the tanh approximation where the exact GELU is asked (at most 4.7e-4 away, near x = 2.7)
    "05.1": {"ex05-1-answer": '''\
def gelu(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
'''},
}
