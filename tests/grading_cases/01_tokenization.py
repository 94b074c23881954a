"""Grading cases for solutions/01_tokenization.ipynb.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; all must pass.
"""

WRONG = {
    # NFKD instead of NFD: also folds ligatures and superscripts ("ﬁ" -> "fi", "²" -> "2").
    "01.1": {
        "ex01-1-answer": '''def strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if unicodedata.category(ch) != "Mn")
''',
    },
    # Shortest match first: takes "u", "##n", ... instead of the longest piece.
    "01.2": {
        "ex01-2-answer": '''def wordpiece(word: str, vocab: dict[str, int], unk: str = "[UNK]", max_chars: int = 100) -> list[str]:
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        for end in range(start + 1, len(word) + 1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
        else:
            return [unk]
        pieces.append(piece)
        start = end
    return pieces
''',
    },
    # The final [SEP] given segment 0: it belongs to sentence B.
    "01.3": {
        "ex01-3-answer": '''def encode_pair(ids_a, ids_b, length, cls_id=101, sep_id=102, pad_id=0):
    ids = [cls_id] + ids_a + [sep_id] + ids_b + [sep_id]
    if len(ids) > length:
        raise ValueError("too long")
    types = [0] * (len(ids_a) + 2) + [1] * len(ids_b) + [0]
    padding = length - len(ids)
    return {
        "input_ids": ids + [pad_id] * padding,
        "token_type_ids": types + [0] * padding,
        "attention_mask": [1] * len(ids) + [0] * padding,
    }
''',
    },
    # Runs of punctuation kept together: "..." must give three words, not one.
    "01.4": {
        "ex01-4-answer": '''def split_punctuation(word):
    pieces, current, current_is_punct = [], "", None
    for ch in word:
        punct = is_punctuation(ch)
        if current and punct != current_is_punct:
            pieces.append(current)
            current = ""
        current += ch
        current_is_punct = punct
    if current:
        pieces.append(current)
    return pieces
''',
    },
}

ALTERNATIVE = {
    # An explicit loop instead of a generator expression.
    "01.1": {
        "ex01-1-answer": '''def strip_accents(text: str) -> str:
    kept = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.category(ch) == "Mn":
            continue
        kept.append(ch)
    return "".join(kept)
''',
    },
    # Scan ends forward and remember the last (longest) match; recurse on the rest of the word.
    "01.2": {
        "ex01-2-answer": '''def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    if len(word) > max_chars:
        return [unk]

    def split(start):
        if start == len(word):
            return []
        best = None
        for end in range(start + 1, len(word) + 1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                best = (piece, end)
        if best is None:
            return None
        rest = split(best[1])
        return None if rest is None else [best[0]] + rest

    pieces = split(0)
    return [unk] if pieces is None else pieces
''',
    },
    # Built token by token with a small helper.
    "01.3": {
        "ex01-3-answer": '''def encode_pair(ids_a, ids_b, length, cls_id=101, sep_id=102, pad_id=0):
    needed = len(ids_a) + len(ids_b) + 3
    if needed > length:
        raise ValueError(f"{needed} tokens do not fit in {length}")
    out = {"input_ids": [], "token_type_ids": [], "attention_mask": []}

    def put(token, segment, real):
        out["input_ids"].append(token)
        out["token_type_ids"].append(segment)
        out["attention_mask"].append(real)

    put(cls_id, 0, 1)
    for t in ids_a:
        put(t, 0, 1)
    put(sep_id, 0, 1)
    for t in ids_b:
        put(t, 1, 1)
    put(sep_id, 1, 1)
    while len(out["input_ids"]) < length:
        put(pad_id, 0, 0)
    return out
''',
    },
    # itertools.groupby over "is punctuation", then punctuation runs cut into characters.
    "01.4": {
        "ex01-4-answer": '''from itertools import groupby


def split_punctuation(word):
    pieces = []
    for punct, run in groupby(word, key=is_punctuation):
        run = "".join(run)
        pieces.extend(list(run) if punct else [run])
    return pieces
''',
    },
}
