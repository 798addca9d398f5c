/**
 * PTB tokenizer fidelity. Expected output was produced by the real Stanford PTBTokenizer 3.4.1, run exactly as
 * pycocoevalcap runs it: `java -cp stanford-corenlp-3.4.1.jar edu.stanford.nlp.process.PTBTokenizer
 * -preserveLines -lowerCase test/fixtures/eval/ptb-input.txt > ptb-expected.txt` (Java 17). The jar is not in
 * pycocoevalcap's stored snapshot, so it was compiled from CoreNLP's git tag v3.4.1 (PTBTokenizer and its
 * dependencies; JFlex-generated PTBLexer.java as committed at that tag), outside this repository. The input is
 * 1,800 generated captions (test/fixtures/eval/provenance/gen_captions.py, seed 7) plus 72 hand-written lines of
 * quotes, contractions, abbreviations, numbers, URLs, entities, unicode and emoji.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ptbTokenizeLines, removePunctuation } from '../eval/captions/ptb-tokenizer.js';
import { FIXTURES } from './helpers.js';

const DIR = path.join(FIXTURES, 'eval');

test('ptb: token-for-token identical to Stanford PTBTokenizer 3.4.1 on 1,872 tricky lines', () => {
  const input = readFileSync(path.join(DIR, 'ptb-input.txt'), 'utf8');
  const expected = readFileSync(path.join(DIR, 'ptb-expected.txt'), 'utf8').split('\n');
  const got = ptbTokenizeLines(input);
  assert.equal(got.length, expected.length);
  const wrong = got.flatMap((g, i) => (g === expected[i] ? [] : [`${JSON.stringify(input.split('\n')[i])}: ${g} != ${expected[i]}`]));
  assert.deepEqual(wrong.slice(0, 5), []);
});

test('ptb: hand-checked behaviours', () => {
  const t = (s: string) => ptbTokenizeLines(s)[0];
  assert.equal(t("A man's dog can't CANNOT"), "a man 's dog ca n't can not");
  assert.equal(t('Costs $5 at 10:30, 3.5 or 1,000 (50%) w/ e-mail...'), 'costs $ 5 at 10:30 , 3.5 or 1,000 -lrb- 50 % -rrb- w / e-mail ...');
  assert.equal(t('He said "hi" {x} [y]'), "he said `` hi '' -lcb- x -rcb- -lsb- y -rsb-");
  // Sentence-final abbreviation: kept with its period, plus a separate "."; an acronym before "The" likewise.
  assert.equal(t('near the St. Louis arch etc.'), 'near the st. louis arch etc. .');
  assert.equal(t('in the U.S. The end'), 'in the u.s. . the end');
  assert.equal(t('a---b a--b gonna'), 'a -- b a -- b gon na');
  // \r ends a line for the tokenizer (pycocoevalcap only replaces \n).
  assert.deepEqual(ptbTokenizeLines('a\rb\nc'), ['a', 'b', 'c']);
  assert.equal(removePunctuation("he said `` hi '' -lrb- x -rrb- , . ... -- ; : ! ?"), 'he said hi -lrb- x -rrb-');
});
