#!/usr/bin/python3
"""Decodes llama2.c token ids with a `tok*.bin` tokenizer, and shows a model's next-token guess.

    /usr/bin/python3 python/llama2c_tokens.py TOKENIZER.bin IDS.npy [LOGITS.npy]

Prints the text of the ids in IDS.npy (shape [1, seq] or [seq]); with LOGITS.npy ([1, seq, vocab]
output of the model on those ids) also the five most likely next tokens after the last id.

The tokenizer format is llama2.c's: int32 max_token_length, then per token a float32 score, an
int32 byte length and the bytes. Token 1 is BOS; a piece after BOS loses its leading space, and
pieces like <0x0A> are raw bytes, as in llama2.c's decode().
"""

import struct
import sys

import numpy as np


def load_vocab(path):
    with open(path, "rb") as f:
        data = f.read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    pos, vocab = 4, []
    while pos < len(data):
        _score, n = struct.unpack_from("<fi", data, pos)
        pos += 8
        if n < 0 or n > max_len or pos + n > len(data):
            raise ValueError(f"{path}: malformed token entry at byte {pos}")
        vocab.append(data[pos:pos + n])
        pos += n
    return vocab


def piece(vocab, prev, tok):
    b = vocab[tok]
    if prev == 1 and b.startswith(b" "):
        b = b[1:]
    if len(b) == 6 and b.startswith(b"<0x") and b.endswith(b">"):
        b = bytes([int(b[3:5], 16)])
    return b


def decode(vocab, ids):
    out, prev = b"", None
    for t in ids:
        if t != 1:  # BOS prints nothing
            out += piece(vocab, prev, t)
        prev = t
    return out.decode("utf-8", errors="replace")


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    vocab = load_vocab(sys.argv[1])
    ids = np.load(sys.argv[2]).reshape(-1).tolist()
    print("prompt:", repr(decode(vocab, ids)))
    if len(sys.argv) == 4:
        logits = np.load(sys.argv[3]).astype(np.float64)
        last = logits.reshape(-1, logits.shape[-1])[len(ids) - 1]
        p = np.exp(last - last.max())
        p /= p.sum()
        top = np.argsort(-p)[:5]
        guesses = ", ".join(f"{piece(vocab, ids[-1], int(t)).decode('utf-8', 'replace')!r} {p[t]:.2f}"
                            for t in top)
        print("next token (top 5):", guesses)


if __name__ == "__main__":
    main()
