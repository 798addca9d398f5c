"""Independent reference for test/tokenizer.test.ts: BERT uncased basic tokenization + greedy WordPiece, written from
the algorithm's description (no tokenizer library), standard library only.

usage: wordpiece_ref.py VOCAB.txt < sentences.json   (a JSON list of strings)
prints a JSON list with the token-id list (no [CLS]/[SEP], no truncation) of each sentence.
"""
import json
import sys
import unicodedata


def is_whitespace(c):
    return c in ' \t\n\r' or unicodedata.category(c) == 'Zs'


def is_control(c):
    if c in '\t\n\r':
        return False
    return unicodedata.category(c).startswith('C')


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith('P')


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic(text):
    cleaned = []
    for c in text:
        if ord(c) == 0 or ord(c) == 0xFFFD or is_control(c):
            continue
        cleaned.append(' ' if is_whitespace(c) else c)
    spaced = ''.join(' %s ' % c if is_cjk(ord(c)) else c for c in cleaned)
    words = []
    for tok in spaced.split():
        tok = ''.join(c for c in unicodedata.normalize('NFD', tok.lower()) if unicodedata.category(c) != 'Mn')
        cur = ''
        for c in tok:
            if is_punctuation(c):
                if cur:
                    words.append(cur)
                words.append(c)
                cur = ''
            else:
                cur += c
        if cur:
            words.append(cur)
    return words


def wordpiece(word, vocab):
    if len(word) > 100:
        return ['[UNK]']
    out, start = [], 0
    while start < len(word):
        end, piece = len(word), None
        while start < end:
            sub = word[start:end] if start == 0 else '##' + word[start:end]
            if sub in vocab:
                piece = sub
                break
            end -= 1
        if piece is None:
            return ['[UNK]']
        out.append(piece)
        start = end
    return out


def main():
    tokens = open(sys.argv[1], encoding='utf-8').read().split('\n')[:-1]
    vocab = {t: i for i, t in enumerate(tokens)}
    sentences = json.load(sys.stdin)
    result = [[vocab[p] for w in basic(s) for p in wordpiece(w, vocab)] for s in sentences]
    json.dump(result, sys.stdout)


if __name__ == '__main__':
    main()
