/**
 * VQA answer normalisation, written from the behaviour of GT-Vision-Lab/VQA `vqaEval.py` (a Python 2 script, so
 * Python 2 semantics apply: `\d` is ASCII 0-9, whitespace is Python's unicode whitespace set).
 *
 * Three steps, applied by the evaluator in an order that depends on the script version (see evaluate.ts):
 *  - cleanWhitespace: `\n` and `\t` become spaces, then Python `strip()`.
 *  - processPunctuation: each of 21 punctuation marks is deleted when the ORIGINAL string has it next to a space
 *    or has a digit,digit pattern anywhere, else replaced by a space; then every `.` not followed by a digit is
 *    removed — at most 32 of them, because the script passes `re.UNICODE` (= 32) where `re.sub` takes its count.
 *  - processDigitArticle: lowercase, split on whitespace, number words none/zero..ten → digits, drop a/an/the,
 *    then the contraction table word by word, joined by single spaces.
 */

// Python 2 unicode whitespace (str.split()/strip() with no argument): JS \s minus U+FEFF, plus U+001C-001F, U+0085, U+180E.
const PY_WS = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u180e\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_SPLIT = new RegExp(`[${PY_WS}]+`);
const PY_STRIP = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, 'g');

/** `\n`/`\t` → space, then strip, as the script does to every answer before anything else. */
export function cleanWhitespace(s: string): string {
  return s.replace(/[\n\t]/g, ' ').replace(PY_STRIP, '');
}

const PUNCT = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];
const PUNCT_ANY = /[;/[\]"{}()=+\\_\-><@`,?!.]/;
const DIGIT_COMMA_DIGIT = /[0-9],[0-9]/;
const MAX_PERIOD_REMOVALS = 32;

export function processPunctuation(inText: string): string {
  if (!PUNCT_ANY.test(inText)) return inText;
  const deleteAll = DIGIT_COMMA_DIGIT.test(inText);
  let out = inText;
  for (const p of PUNCT) {
    if (!out.includes(p)) continue;
    // The test looks at the original text, the replacement at the text as modified so far (as the script does).
    const remove = deleteAll || inText.includes(p + ' ') || inText.includes(' ' + p);
    out = out.split(p).join(remove ? '' : ' ');
  }
  if (!out.includes('.')) return out;
  let result = '';
  let removed = 0;
  for (let i = 0; i < out.length; i++) {
    const c = out[i]!;
    if (c === '.' && removed < MAX_PERIOD_REMOVALS) {
      const next = out.charCodeAt(i + 1);
      if (!(next >= 48 && next <= 57)) {
        removed++;
        continue;
      }
    }
    result += c;
  }
  return result;
}

const NUMBER_WORDS: ReadonlyMap<string, string> = new Map([
  ['none', '0'], ['zero', '0'], ['one', '1'], ['two', '2'], ['three', '3'], ['four', '4'],
  ['five', '5'], ['six', '6'], ['seven', '7'], ['eight', '8'], ['nine', '9'], ['ten', '10'],
]);
const ARTICLES = new Set(['a', 'an', 'the']);

// The script's contraction table as [written form, replacement] pairs. Entries with a capital letter can never fire
// (the text is lowercased first) and "somebody'd" maps to "somebodyd": both kept, because the point is to agree
// with the official numbers, not to be right about English.
const CONTRACTION_PAIRS: [string, string][] = [
  ['aint', "ain't"], ['arent', "aren't"], ['cant', "can't"], ['couldve', "could've"], ['couldnt', "couldn't"],
  ["couldn'tve", "couldn't've"], ["couldnt've", "couldn't've"], ['didnt', "didn't"], ['doesnt', "doesn't"],
  ['dont', "don't"], ['hadnt', "hadn't"], ["hadnt've", "hadn't've"], ["hadn'tve", "hadn't've"], ['hasnt', "hasn't"],
  ['havent', "haven't"], ['hed', "he'd"], ["hed've", "he'd've"], ["he'dve", "he'd've"], ['hes', "he's"],
  ['howd', "how'd"], ['howll', "how'll"], ['hows', "how's"], ["Id've", "I'd've"], ["I'dve", "I'd've"], ['Im', "I'm"],
  ['Ive', "I've"], ['isnt', "isn't"], ['itd', "it'd"], ["itd've", "it'd've"], ["it'dve", "it'd've"], ['itll', "it'll"],
  ["let's", "let's"], ['maam', "ma'am"], ['mightnt', "mightn't"], ["mightnt've", "mightn't've"],
  ["mightn'tve", "mightn't've"], ['mightve', "might've"], ['mustnt', "mustn't"], ['mustve', "must've"],
  ['neednt', "needn't"], ['notve', "not've"], ['oclock', "o'clock"], ['oughtnt', "oughtn't"],
  ["ow's'at", "'ow's'at"], ["'ows'at", "'ow's'at"], ["'ow'sat", "'ow's'at"], ['shant', "shan't"],
  ["shed've", "she'd've"], ["she'dve", "she'd've"], ["she's", "she's"], ['shouldve', "should've"],
  ['shouldnt', "shouldn't"], ["shouldnt've", "shouldn't've"], ["shouldn'tve", "shouldn't've"],
  ["somebody'd", 'somebodyd'], ["somebodyd've", "somebody'd've"], ["somebody'dve", "somebody'd've"],
  ['somebodyll', "somebody'll"], ['somebodys', "somebody's"], ['someoned', "someone'd"],
  ["someoned've", "someone'd've"], ["someone'dve", "someone'd've"], ['someonell', "someone'll"],
  ['someones', "someone's"], ['somethingd', "something'd"], ["somethingd've", "something'd've"],
  ["something'dve", "something'd've"], ['somethingll', "something'll"], ['thats', "that's"], ['thered', "there'd"],
  ["thered've", "there'd've"], ["there'dve", "there'd've"], ['therere', "there're"], ['theres', "there's"],
  ['theyd', "they'd"], ["theyd've", "they'd've"], ["they'dve", "they'd've"], ['theyll', "they'll"],
  ['theyre', "they're"], ['theyve', "they've"], ['twas', "'twas"], ['wasnt', "wasn't"], ["wed've", "we'd've"],
  ["we'dve", "we'd've"], ['weve', "we've"], ['werent', "weren't"], ['whatll', "what'll"], ['whatre', "what're"],
  ['whats', "what's"], ['whatve', "what've"], ['whens', "when's"], ['whered', "where'd"], ['wheres', "where's"],
  ['whereve', "where've"], ['whod', "who'd"], ["whod've", "who'd've"], ["who'dve", "who'd've"], ['wholl', "who'll"],
  ['whos', "who's"], ['whove', "who've"], ['whyll', "why'll"], ['whyre', "why're"], ['whys', "why's"],
  ['wont', "won't"], ['wouldve', "would've"], ['wouldnt', "wouldn't"], ["wouldnt've", "wouldn't've"],
  ["wouldn'tve", "wouldn't've"], ['yall', "y'all"], ["yall'll", "y'all'll"], ["y'allll", "y'all'll"],
  ["yall'd've", "y'all'd've"], ["y'alld've", "y'all'd've"], ["y'all'dve", "y'all'd've"], ['youd', "you'd"],
  ["youd've", "you'd've"], ["you'dve", "you'd've"], ['youll', "you'll"], ['youre', "you're"], ['youve', "you've"],
];
const CONTRACTIONS: ReadonlyMap<string, string> = new Map(CONTRACTION_PAIRS);

/**
 * Python 2 `unicode.lower()`: simple per-character case mapping. JS toLowerCase applies the full mapping instead
 * (U+0130 → "i̇", final-sigma rule), so non-ASCII text is lowered one code point at a time.
 */
function pyLower(s: string): string {
  if (!/[^\x00-\x7f]/.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) out += ch === '\u0130' ? 'i' : ch.toLowerCase();
  return out;
}

export function processDigitArticle(inText: string): string {
  const words: string[] = [];
  for (const raw of pyLower(inText).split(PY_SPLIT)) {
    if (raw === '') continue; // split() with no argument never yields empty words
    const word = NUMBER_WORDS.get(raw) ?? raw;
    if (ARTICLES.has(word)) continue;
    words.push(CONTRACTIONS.get(word) ?? word);
  }
  return words.join(' ');
}

/** The full normalisation the current script applies to a non-unanimous question's answers. */
export function normalizeAnswer(s: string): string {
  return processDigitArticle(processPunctuation(cleanWhitespace(s)));
}
