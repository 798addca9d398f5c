/**
 * BERT WordPiece tokenizer for the trainers (LXMERT: 20 tokens, ViLT: 40), i.e. BertTokenizer(do_lower_case=True):
 * clean text, split CJK characters, lowercase + strip accents, split punctuation, greedy longest-match WordPiece with
 * "##" continuations, words over 100 characters → [UNK]. The text pipeline runs in @huggingface/tokenizers (pure JS)
 * configured with those components; framing, truncation and padding are done here, the way LXMERT
 * (`tokens[:max_seq_length - 2]`, zero padding) and ViLT (HF `padding="max_length", truncation=True`) both do it.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { readFileSync } from 'node:fs';
import { readVocab, SHIPPED_VOCAB, verifyUncasedVocab } from './vocab.js';

export const PAD_ID = 0;
export const UNK_ID = 100;
export const CLS_ID = 101;
export const SEP_ID = 102;
export const MASK_ID = 103;
const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
/** BERT's _is_chinese_char ranges above U+FFFF. */
const ASTRAL_CJK = /[\u{20000}-\u{2A6DF}\u{2A700}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;

export interface Encoding {
  ids: number[];
  /** Segment ids: 0 for [CLS] A [SEP], 1 for B [SEP], 0 for padding. */
  tokenTypeIds: number[];
  attentionMask: number[];
  tokens: string[];
  /** Index of the word each token belongs to (a "##" piece continues the previous word); null for specials/padding. */
  wordIds: (number | null)[];
}

export interface EncodeOptions {
  /** Pad to maxLen with [PAD] (default true, as both trainers do). */
  pad?: boolean;
}

export class BertTokenizer {
  private readonly tk: Tokenizer;
  readonly vocab: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(vocab: readonly string[], opts: { lowercase?: boolean } = {}) {
    this.vocab = vocab;
    this.ids = new Map(vocab.map((t, i) => [t, i]));
    for (const s of SPECIALS) if (!this.ids.has(s)) throw new Error(`vocabulary lacks the special token ${s}`);
    const lowercase = opts.lowercase ?? true;
    this.tk = new Tokenizer(
      {
        normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
        pre_tokenizer: { type: 'BertPreTokenizer' },
        model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(this.ids) },
        post_processor: null,
        decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
        // Special tokens typed in the text stay whole, as in HF's BertTokenizer.
        added_tokens: SPECIALS.map((content) => ({ id: this.ids.get(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      },
      { do_lower_case: lowercase },
    );
  }

  /** bert-base-uncased with the vocabulary shipped in data/tokenizer/vocab.txt (verified by sha256). */
  static uncased(): BertTokenizer {
    verifyUncasedVocab(readFileSync(SHIPPED_VOCAB, 'utf8'), SHIPPED_VOCAB);
    return new BertTokenizer(readVocab(SHIPPED_VOCAB));
  }

  /** Any BERT vocab.txt (one token per line). */
  static fromVocabFile(file: string, opts: { lowercase?: boolean } = {}): BertTokenizer {
    return new BertTokenizer(readVocab(file), opts);
  }

  /** WordPiece tokens of `text`, no special tokens, no truncation. */
  tokenize(text: string): string[] {
    return this.tk.tokenize(this.prepare(text));
  }

  /**
   * Where the library's BertNormalizer departs from BERT's reference BasicTokenizer, fix the text first: drop
   * unassigned code points (BERT treats every category-C character as control) and space out CJK ideographs
   * outside the BMP (the library only looks at single UTF-16 units).
   */
  private prepare(text: string): string {
    return text.replace(/\p{Cn}/gu, '').replace(ASTRAL_CJK, ' $& ');
  }

  tokenToId(token: string): number {
    return this.ids.get(token) ?? UNK_ID;
  }

  /** [CLS] text [SEP], truncated to maxLen (text keeps its first maxLen - 2 tokens), padded to maxLen by default. */
  encode(text: string, maxLen: number, opts: EncodeOptions = {}): Encoding {
    if (!Number.isInteger(maxLen) || maxLen < 2) throw new Error(`maxLen must be an integer ≥ 2, got ${maxLen}`);
    return this.frame(this.tokenize(text).slice(0, maxLen - 2), null, maxLen, opts);
  }

  /**
   * [CLS] a [SEP] b [SEP] with token types 0/1. Over-long pairs lose tokens from the end of the longer segment,
   * one at a time (b on ties), as BERT's `_truncate_seq_pair` and HF's longest_first do.
   */
  encodePair(a: string, b: string, maxLen: number, opts: EncodeOptions = {}): Encoding {
    if (!Number.isInteger(maxLen) || maxLen < 3) throw new Error(`maxLen must be an integer ≥ 3 for a pair, got ${maxLen}`);
    const ta = this.tokenize(a);
    const tb = this.tokenize(b);
    while (ta.length + tb.length > maxLen - 3) (ta.length > tb.length ? ta : tb).pop();
    return this.frame(ta, tb, maxLen, opts);
  }

  encodeBatch(texts: readonly string[], maxLen: number, opts: EncodeOptions = {}): Encoding[] {
    return texts.map((t) => this.encode(t, maxLen, opts));
  }

  /** Text of ids without specials/padding, "##" pieces joined to their word. */
  decode(ids: readonly number[]): string {
    const words: string[] = [];
    for (const id of ids) {
      const tok = this.vocab[id] ?? '[UNK]';
      if (id === PAD_ID || id === CLS_ID || id === SEP_ID) continue;
      if (tok.startsWith('##') && words.length) words[words.length - 1] += tok.slice(2);
      else words.push(tok);
    }
    return words.join(' ');
  }

  private frame(a: string[], b: string[] | null, maxLen: number, opts: EncodeOptions): Encoding {
    const enc: Encoding = { ids: [], tokenTypeIds: [], attentionMask: [], tokens: [], wordIds: [] };
    let word = -1;
    const push = (tok: string, type: number, isWordPiece: boolean): void => {
      enc.tokens.push(tok);
      enc.ids.push(this.tokenToId(tok));
      enc.tokenTypeIds.push(type);
      enc.attentionMask.push(1);
      if (isWordPiece && !tok.startsWith('##')) word++;
      enc.wordIds.push(isWordPiece ? Math.max(word, 0) : null);
    };
    push('[CLS]', 0, false);
    for (const t of a) push(t, 0, true);
    push('[SEP]', 0, false);
    if (b) {
      for (const t of b) push(t, 1, true);
      push('[SEP]', 1, false);
    }
    if (opts.pad ?? true) {
      while (enc.ids.length < maxLen) {
        enc.tokens.push('[PAD]');
        enc.ids.push(PAD_ID);
        enc.tokenTypeIds.push(0);
        enc.attentionMask.push(0);
        enc.wordIds.push(null);
      }
    }
    return enc;
  }
}
