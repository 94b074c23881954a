"""Grading cases for solutions/05_encoder_layer.ipynb: answers the grader must fail, and pass."""

# Planted wrong answers, the mistakes students really make. Planted all at once, exactly these
# exercises must fail.
WRONG = {
    # sigma treated as a constant: the mean is removed, the direction of the token itself is not
    "05.1": {"ex05-1-answer": '''\
def layer_norm_backward(z, gamma, grad_out, eps=1e-12):
    sigma = torch.sqrt(z.var(dim=-1, unbiased=False, keepdim=True) + eps)
    u = gamma * grad_out
    return (u - u.mean(dim=-1, keepdim=True)) / sigma
'''},
    # beta taken through the scale as well: gamma multiplies z_hat only, not the shift
    "05.2": {"ex05-2-answer": '''\
def fold_layer_norm(gamma, beta, weight, bias):
    new_weight = weight * gamma
    return new_weight, bias + new_weight @ beta
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
    # the whole Jacobian of every token, dy_i/dz_j = gamma_i (delta_ij - 1/H - z_hat_i z_hat_j / H) / sigma
    "05.1": {"ex05-1-answer": '''\
def layer_norm_backward(z, gamma, grad_out, eps=1e-12):
    H = z.shape[-1]
    centred = z - z.mean(dim=-1, keepdim=True)
    sigma = (centred.pow(2).mean(dim=-1, keepdim=True) + eps).sqrt()
    z_hat = centred / sigma
    eye = torch.eye(H, dtype=z.dtype)
    jac = gamma[:, None] * (eye - 1.0 / H - z_hat[..., :, None] * z_hat[..., None, :] / H) / sigma[..., None]
    return torch.einsum("...i,...ij->...j", grad_out, jac)
'''},
    # a diagonal matrix for the scale, F.linear for the shift
    "05.2": {"ex05-2-answer": '''\
def fold_layer_norm(gamma, beta, weight, bias):
    return weight @ torch.diag(gamma), F.linear(beta, weight, bias)
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
    # the unbiased variance (divide by H - 1) where LayerNorm uses the biased one: sigma off by sqrt(8/7)
    "05.1": {"ex05-1-answer": '''\
def layer_norm_backward(z, gamma, grad_out, eps=1e-12):
    sigma = torch.sqrt(z.var(dim=-1, unbiased=True, keepdim=True) + eps)
    z_hat = (z - z.mean(dim=-1, keepdim=True)) / sigma
    u = gamma * grad_out
    return (u - u.mean(dim=-1, keepdim=True) - z_hat * (u * z_hat).mean(dim=-1, keepdim=True)) / sigma
'''},
}
