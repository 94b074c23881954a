"""Grading cases for solutions/09_training.ipynb: answers the grader must fail, and pass."""

# Planted wrong answers, the mistakes students really make. Planted all at once, exactly these
# exercises must fail.
WRONG = {
    # every piece treated as a word of its own: per-token masking, not whole words
    "09.1": {"ex09-1-answer": '''\
def whole_word_masking(tokens, u_word, p=0.15):
    masked, labels = [], []
    word = -1
    for token in tokens:
        if token in ("[CLS]", "[SEP]", "[PAD]"):
            masked.append(token)
            labels.append(None)
            continue
        word = min(word + 1, len(u_word) - 1)
        chosen = u_word[word] < p
        masked.append("[MASK]" if chosen else token)
        labels.append(token if chosen else None)
    return masked, labels
'''},
    # clipping after the update: it clips gradients that are no longer used
    "09.2": {"ex09-2-answer": '''\
def train_step(model, batch, optimizer, scheduler, max_grad_norm):
    model.train()
    loss = model(**batch).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    scheduler.step()
    return loss.item()
'''},
    # the mean of the batches' perplexities, not the perplexity of the mean loss per token
    "09.3": {"ex09-3-answer": '''\
def perplexity(batch_losses, batch_counts):
    return sum(math.exp(loss) for loss in batch_losses) / len(batch_losses)
'''},
    # learning rates spaced evenly on a linear scale instead of a log scale
    "09.4": {"ex09-4-answer": '''\
def lr_range_test(model, batches, start_lr, end_lr):
    optimizer = torch.optim.AdamW(model.parameters(), lr=start_lr, weight_decay=0.0)
    n = len(batches)
    rates, losses = [], []
    for i, batch in enumerate(batches):
        lr = start_lr + (end_lr - start_lr) * i / (n - 1)
        optimizer.param_groups[0]["lr"] = lr
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        rates.append(lr)
        losses.append(loss.item())
        if loss.item() > 4 * min(losses):
            break
    return rates, losses
'''},
    # the share of labelled tokens, where the share the decoder saves is asked
    "09.5": {"ex09-5-answer": '''\
def mlm_logits_shapes(labels, vocab_size):
    B, T = labels.shape
    labelled = int((labels != -100).sum())
    return (B, T, vocab_size), (labelled, vocab_size), labelled / (B * T)
'''},
}

# More mistakes worth knowing, each also failing its check (planted together, 09.2 and 09.3 fail):
# forgetting optimizer.zero_grad(), so gradients pile up across steps; averaging the batch losses
# without weighting them by their token counts.
MORE_WRONG = {
    "09.2": {"ex09-2-answer": '''\
def train_step(model, batch, optimizer, scheduler, max_grad_norm):
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    return loss.item()
'''},
    "09.3": {"ex09-3-answer": '''\
def perplexity(batch_losses, batch_counts):
    return math.exp(sum(batch_losses) / len(batch_losses))
'''},
}

# Correct answers written differently: all must pass.
ALTERNATIVE = {
    # words first (lists of positions), then mask whole words
    "09.1": {"ex09-1-answer": '''\
def whole_word_masking(tokens, u_word, p=0.15):
    words = []  # each word: the positions of its pieces
    for i, token in enumerate(tokens):
        if token in {"[CLS]", "[SEP]", "[PAD]"}:
            continue
        if token.startswith("##") and words:
            words[-1].append(i)
        else:
            words.append([i])
    masked, labels = list(tokens), [None] * len(tokens)
    for positions, u in zip(words, u_word):
        if u < p:
            for i in positions:
                masked[i], labels[i] = "[MASK]", tokens[i]
    return masked, labels
'''},
    # the gradient norm clipped by hand, over all parameters together
    "09.2": {"ex09-2-answer": '''\
def train_step(model, batch, optimizer, scheduler, max_grad_norm):
    for p in model.parameters():
        p.grad = None
    loss = model(**batch).loss
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    scale = min(1.0, max_grad_norm / (float(total) + 1e-6))
    for g in grads:
        g.mul_(scale)
    optimizer.step()
    scheduler.step()
    return float(loss)
'''},
    # tensors and a weighted average
    "09.3": {"ex09-3-answer": '''\
def perplexity(batch_losses, batch_counts):
    losses = torch.tensor(batch_losses, dtype=torch.float64)
    counts = torch.tensor(batch_counts, dtype=torch.float64)
    return torch.exp((losses * counts).sum() / counts.sum()).item()
'''},
    # the learning rates computed up front with torch.logspace, a while loop
    "09.4": {"ex09-4-answer": '''\
def lr_range_test(model, batches, start_lr, end_lr):
    grid = torch.logspace(math.log10(start_lr), math.log10(end_lr), len(batches), dtype=torch.float64).tolist()
    optimizer = torch.optim.AdamW(model.parameters(), lr=start_lr, weight_decay=0.0)
    rates, losses, best = [], [], float("inf")
    i = 0
    while i < len(batches):
        for group in optimizer.param_groups:
            group["lr"] = grid[i]
        loss = model(**batches[i]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        rates.append(grid[i])
        losses.append(loss.item())
        best = min(best, loss.item())
        if loss.item() > 4 * best:
            break
        i += 1
    return rates, losses
'''},
    # the labelled count with torch.count_nonzero, the saving as a ratio of products
    "09.5": {"ex09-5-answer": '''\
import math

def mlm_logits_shapes(labels, vocab_size):
    B, T = labels.shape
    m = torch.count_nonzero(labels.ne(-100)).item()
    full = (B, T, vocab_size)
    sparse = (m, vocab_size)
    return full, sparse, (math.prod(full) - math.prod(sparse)) / math.prod(full)
'''},
}
