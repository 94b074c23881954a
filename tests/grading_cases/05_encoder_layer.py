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
    # pre-LN wiring where BERT's post-LN is asked
    "05.3": {"ex05-3-answer": '''\
def post_ln_layer(x, attention, feed_forward, attention_norm, output_norm):
    h = x + attention(attention_norm(x))
    return h + feed_forward(output_norm(h))
'''},
    # the residual stream itself normalised: the addition uses LN(x) instead of x
    "05.4": {"ex05-4-answer": '''\
def pre_ln_layer(x, attention, feed_forward, attention_norm, output_norm):
    x = attention_norm(x)
    h = x + attention(x)
    h = output_norm(h)
    return h + feed_forward(h)
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
    # LayerNorm written with F.layer_norm and the modules' own parameters
    "05.3": {"ex05-3-answer": '''\
def post_ln_layer(x, attention, feed_forward, attention_norm, output_norm):
    def norm(module, z):
        return F.layer_norm(z, module.normalized_shape, module.weight, module.bias, module.eps)

    residual = x
    h = norm(attention_norm, attention(x) + residual)
    residual = h
    return norm(output_norm, feed_forward(h) + residual)
'''},
    # a loop over the two (norm, sublayer) pairs
    "05.4": {"ex05-4-answer": '''\
def pre_ln_layer(x, attention, feed_forward, attention_norm, output_norm):
    for norm, sublayer in ((attention_norm, attention), (output_norm, feed_forward)):
        x = x + sublayer(norm(x))
    return x
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
