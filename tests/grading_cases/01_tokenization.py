"""Grading cases for solutions/01_tokenization.ipynb.

WRONG: planted all at once, exactly these exercises must fail.
ALTERNATIVE: correct answers written differently; all must pass.
"""

WRONG = {
    # Believing WordPiece backtracks: "abcd" as ab ##cd, which greedy longest-match never tries.
    "01.1": {
        "ex01-1-answer": '''predictions = {
    "abcd": ["ab", "##cd"],
    "abcab": ["abc", "##a", "##b"],
    "bcd": ["b", "##cd"],
    "cab": ["[UNK]"],
}
''',
    },
    # The final [SEP] given segment 0: it belongs to sentence B.
    "01.2": {
        "ex01-2-answer": '''def encode_pair(ids_a, ids_b, length, cls_id=101, sep_id=102, pad_id=0):
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
    # Shortest match first: "the" becomes t, he, ... wherever a shorter word exists.
    "01.3": {
        "ex01-3-answer": '''def max_match(text, words):
    pieces, start = [], 0
    while start < len(text):
        end = start + 1
        while end < len(text) and text[start:end] not in words:
            end += 1
        if text[start:end] not in words:
            end = start + 1
        pieces.append(text[start:end])
        start = end
    return pieces
''',
    },
    # The given code, untouched: single-character pieces are never tried.
    "01.4": {
        "ex01-4-answer": '''def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        piece = None
        for end in range(len(word), start + 1, -1):
            candidate = word[start:end] if start == 0 else "##" + word[start:end]
            if candidate in vocab:
                piece = candidate
                break
        if piece is None:
            return [unk]
        pieces.append(piece)
        start = end
    return pieces
''',
    },
    # Numbering the words of the second sentence from 0 again.
    "01.5": {
        "ex01-5-answer": '''def word_ids(tokens):
    ids, word = [], -1
    for token in tokens:
        if token == "[SEP]":
            word = -1
        if token in ("[CLS]", "[SEP]", "[PAD]"):
            ids.append(None)
        else:
            if not token.startswith("##"):
                word += 1
            ids.append(word)
    return ids
''',
    },
}

ALTERNATIVE = {
    # Tuples instead of lists, built with dict().
    "01.1": {
        "ex01-1-answer": '''predictions = dict(
    abcd=("[UNK]",),
    abcab=("abc", "##a", "##b"),
    bcd=("b", "##cd"),
    cab=("[UNK]",),
)
''',
    },
    # Built token by token with a small helper.
    "01.2": {
        "ex01-2-answer": '''def encode_pair(ids_a, ids_b, length, cls_id=101, sep_id=102, pad_id=0):
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
    # Lengths tried from the longest dictionary word down, with a recursive rest.
    "01.3": {
        "ex01-3-answer": '''def max_match(text, words):
    if not text:
        return []
    longest = max(map(len, words), default=1)
    for n in range(min(longest, len(text)), 0, -1):
        if text[:n] in words:
            break
    else:
        n = 1
    return [text[:n]] + max_match(text[n:], words)
''',
    },
    # The fix written as a while loop that shrinks the candidate down to one character.
    "01.4": {
        "ex01-4-answer": '''def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            candidate = word[start:end] if start == 0 else "##" + word[start:end]
            if candidate in vocab:
                break
            end -= 1
        else:
            return [unk]
        pieces.append(candidate)
        start = end
    return pieces
''',
    },
    # A running count of word starts.
    "01.5": {
        "ex01-5-answer": '''from itertools import accumulate


def word_ids(tokens):
    special = {"[CLS]", "[SEP]", "[PAD]"}
    starts = [t not in special and not t.startswith("##") for t in tokens]
    counts = list(accumulate(int(s) for s in starts))
    return [None if t in special else c - 1 for t, c in zip(tokens, counts)]
''',
    },
}
