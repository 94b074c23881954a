"""Grading cases for solutions/10_fine_tuning.ipynb: answers the grader must fail, and pass."""

# Planted wrong answers, the mistakes students really make. Planted all at once, exactly these
# exercises must fail.
WRONG = {
    # the dtype is looked at before the label count: float targets of a 1-output head become
    # multi-label, and the regression is scored with binary cross-entropy
    "10.1": {"ex10-1-answer": '''\
def classification_loss(logits, labels, problem_type=None):
    if problem_type is None:
        if labels.dtype in (torch.long, torch.int):
            problem_type = "single_label_classification"
        elif logits.size(-1) == 1:
            problem_type = "regression"
        else:
            problem_type = "multi_label_classification"
        if logits.size(-1) == 1 and labels.is_floating_point():
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        loss = F.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
    elif problem_type == "single_label_classification":
        loss = F.cross_entropy(logits, labels.long())
    else:
        loss = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype).view_as(logits))
    return loss, problem_type
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
}

# More mistakes worth knowing, each also failing its check (planted together, 10.1 and 10.3 fail):
# multi-label scored with cross-entropy over the labels (soft targets), and micro-F1 (which is
# accuracy when every example has one label).
MORE_WRONG = {
    "10.1": {"ex10-1-answer": '''\
def classification_loss(logits, labels, problem_type=None):
    if problem_type is None:
        if logits.size(-1) == 1:
            problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        target = labels.to(logits.dtype)
        loss = F.mse_loss(logits.squeeze(), target.squeeze()) if logits.size(-1) == 1 else F.mse_loss(logits, target)
    elif problem_type == "single_label_classification":
        loss = F.cross_entropy(logits, labels.long())
    else:
        loss = F.cross_entropy(logits, labels.to(logits.dtype))
    return loss, problem_type
'''},
    "10.3": {"ex10-3-answer": '''\
def macro_f1(predictions, labels, num_labels):
    return (predictions == labels).float().mean().item()
'''},
}

# Correct answers written differently: all must pass.
ALTERNATIVE = {
    # loss modules, a dictionary of them, and the inference written as one expression
    "10.1": {"ex10-1-answer": '''\
def classification_loss(logits, labels, problem_type=None):
    n = logits.shape[1]
    integer = not labels.is_floating_point()
    problem_type = problem_type or ("regression" if n == 1 else
                                    "single_label_classification" if integer else "multi_label_classification")
    if problem_type == "single_label_classification":
        return torch.nn.CrossEntropyLoss()(logits, labels.to(torch.int64)), problem_type
    target = labels.to(logits.dtype)
    if problem_type == "multi_label_classification":
        return torch.nn.BCEWithLogitsLoss()(logits, target), problem_type
    if n == 1:
        return ((logits.reshape(-1) - target.reshape(-1)) ** 2).mean(), problem_type
    return ((logits - target) ** 2).mean(), problem_type
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
}
