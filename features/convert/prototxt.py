"""A parser for protobuf text format, enough for Caffe .prototxt network definitions.

A message becomes a `Msg`: field name -> list of values in file order (every field may repeat), where a value is
a str, int, float, bool, enum name (str) or nested Msg. `Msg.line` is the line where the message opened, so
errors can point at the layer in the file.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r'''
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)[fF]?(?![\w.]))
  | (?P<ident>[A-Za-z_][\w.]*)
  | (?P<punct>[{}:;,<>\[\]])
''', re.VERBOSE)

_ESCAPES = {'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0'}


class PrototxtError(ValueError):
    pass


class Msg(dict):
    line: int = 0

    def get1(self, key: str, default=None):
        """The last value of a field (protobuf semantics for a non-repeated field), or default."""
        values = self.get(key)
        return values[-1] if values else default

    def all(self, key: str) -> list:
        return self.get(key, [])


def _unquote(tok: str) -> str:
    body = tok[1:-1]
    return re.sub(r'\\(.)', lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _tokens(text: str, path: str):
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise PrototxtError(f'{path}:{line}: unexpected character {text[pos]!r}')
        kind = m.lastgroup
        tok = m.group(kind)
        if kind != 'ws':
            yield kind, tok, line
        line += tok.count('\n')
        pos = m.end()


def _scalar(kind: str, tok: str):
    if kind == 'str':
        return _unquote(tok)
    if kind == 'num':
        t = tok.rstrip('fF')
        try:
            return int(t)
        except ValueError:
            return float(t)
    if tok in ('true', 'True'):
        return True
    if tok in ('false', 'False'):
        return False
    return tok  # enum value


def parse_prototxt(text: str, path: str = '<prototxt>') -> Msg:
    toks = list(_tokens(text, path))
    i = 0

    def parse_msg(closing: str | None, open_line: int) -> Msg:
        nonlocal i
        msg = Msg()
        msg.line = open_line
        while True:
            if i >= len(toks):
                if closing is None:
                    return msg
                raise PrototxtError(f'{path}: message opened at line {open_line} is never closed')
            kind, tok, line = toks[i]
            if kind == 'punct' and tok == closing:
                i += 1
                return msg
            if kind == 'punct' and tok in ';,':
                i += 1
                continue
            if kind != 'ident':
                raise PrototxtError(f'{path}:{line}: expected a field name, got {tok!r}')
            name = tok
            i += 1
            if i < len(toks) and toks[i][1] == ':':
                i += 1
            if i >= len(toks):
                raise PrototxtError(f'{path}:{line}: field {name} has no value')
            kind, tok, vline = toks[i]
            if kind == 'punct' and tok in '{<':
                i += 1
                value = parse_msg('}' if tok == '{' else '>', vline)
            elif kind == 'punct' and tok == '[':
                raise PrototxtError(f'{path}:{vline}: list syntax [..] is not supported (field {name})')
            elif kind in ('str', 'num', 'ident'):
                value = _scalar(kind, tok)
                i += 1
                # Adjacent string literals concatenate, as in C.
                while kind == 'str' and i < len(toks) and toks[i][0] == 'str':
                    value += _unquote(toks[i][1])
                    i += 1
            else:
                raise PrototxtError(f'{path}:{vline}: unexpected {tok!r} after field {name}')
            msg.setdefault(name, []).append(value)

    return parse_msg(None, 1)


def read_prototxt(path: str) -> Msg:
    with open(path, encoding='utf-8') as f:
        return parse_prototxt(f.read(), path)
