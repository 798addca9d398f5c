/**
 * VQAv2 answers the way ViLT's Arrow writer treats them: the answer normalisation of its `glossary.py` (punctuation,
 * periods, number words, articles, contractions — quirks included), the label vocabulary (normalised
 * `multiple_choice_answer`s seen at least 9 times, ids in order of first appearance) and the soft score from the
 * number of annotators who gave an answer. Shared by `vlkit arrow vqav2` and the VQA trainer/evaluator.
 */

/** Punctuation handled one character at a time, in this order. */
const PUNCT = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];

const NUMBER_WORDS: Record<string, string> = {
  none: '0', zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
};

const ARTICLES = new Set(['a', 'an', 'the']);

/**
 * The contraction table of the VQA evaluation as ViLT ships it (`written=restored`). It is applied to lowercased
 * words, so the few keys with capitals (Id've, Im, Ive) never match — kept anyway so the table stays the reference one.
 */
const CONTRACTIONS: ReadonlyMap<string, string> = new Map(
  `aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've couldnt've=couldn't've
  didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've hadn'tve=hadn't've hasnt=hasn't havent=haven't
  hed=he'd hed've=he'd've he'dve=he'd've hes=he's howd=how'd howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm
  Ive=I've isnt=isn't itd=it'd itd've=it'd've it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't
  mightnt've=mightn't've mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've neednt=needn't
  notve=not've oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at 'ow'sat='ow's'at shant=shan't
  shed've=she'd've she'dve=she'd've she's=she's shouldve=should've shouldnt=shouldn't shouldnt've=shouldn't've
  shouldn'tve=shouldn't've somebody'd=somebodyd somebodyd've=somebody'd've somebody'dve=somebody'd've
  somebodyll=somebody'll somebodys=somebody's someoned=someone'd someoned've=someone'd've someone'dve=someone'd've
  someonell=someone'll someones=someone's somethingd=something'd somethingd've=something'd've
  something'dve=something'd've somethingll=something'll thats=that's thered=there'd thered've=there'd've
  there'dve=there'd've therere=there're theres=there's theyd=they'd theyd've=they'd've they'dve=they'd've
  theyll=they'll theyre=they're theyve=they've twas='twas wasnt=wasn't wed've=we'd've we'dve=we'd've weve=we've
  werent=weren't whatll=what'll whatre=what're whats=what's whatve=what've whens=when's whered=where'd wheres=where's
  whereve=where've whod=who'd whod've=who'd've who'dve=who'd've wholl=who'll whos=who's whove=who've whyll=why'll
  whyre=why're whys=why's wont=won't wouldve=would've wouldnt=wouldn't wouldnt've=wouldn't've wouldn'tve=wouldn't've
  yall=y'all yall'll=y'all'll y'allll=y'all'll yall'd've=y'all'd've y'alld've=y'all'd've y'all'dve=y'all'd've
  youd=you'd youd've=you'd've you'dve=you'd've youll=you'll youre=you're youve=you've`
    .split(/\s+/)
    .map((pair) => {
      const eq = pair.indexOf('=');
      return [pair.slice(0, eq), pair.slice(eq + 1)] as [string, string];
    }),
);

// Python's `\d` in a str pattern is any Unicode decimal digit; `\p{Nd}` is the same class.
const DIGIT_COMMA_DIGIT = /\p{Nd},\p{Nd}/u;
const PERIOD_NOT_BEFORE_DIGIT = /\.(?!\p{Nd})/gu;
/** ViLT passes `re.UNICODE` (= 32) where `re.sub` expects its `count`: at most 32 periods are removed. */
const MAX_PERIODS_REMOVED = 32;
/** What Python's `str.split()` splits on (str.isspace), which differs from JS `\s` in a few code points. */
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** ViLT's `normalize_word`: how a `multiple_choice_answer` becomes a vocabulary entry. */
export function normalizeAnswer(answer: string): string {
  // Every test looks at the original string; the replacements accumulate in `out`.
  const hasDigitComma = DIGIT_COMMA_DIGIT.test(answer);
  let out = answer;
  for (const p of PUNCT) {
    const glued = answer.includes(p + ' ') || answer.includes(' ' + p) || hasDigitComma;
    out = out.split(p).join(glued ? '' : ' ');
  }
  let removed = 0;
  out = out.replace(PERIOD_NOT_BEFORE_DIGIT, (m) => (removed++ < MAX_PERIODS_REMOVED ? '' : m));
  const words: string[] = [];
  for (const raw of out.toLowerCase().split(PY_WHITESPACE)) {
    if (raw === '') continue;
    const word = NUMBER_WORDS[raw] ?? raw;
    if (!ARTICLES.has(word)) words.push(CONTRACTIONS.get(word) ?? word);
  }
  return words.join(' ').split(',').join('');
}

/** Soft score from the number of the ten annotators who gave an answer: 1→0.3, 2→0.6, 3→0.9, 4 or more→1.0. */
export function answerScore(count: number): number {
  if (count <= 0) return 0;
  if (count === 1) return 0.3;
  if (count === 2) return 0.6;
  if (count === 3) return 0.9;
  return 1.0;
}

/** Answers kept in the vocabulary: normalised multiple-choice answers seen at least this often. */
export const MIN_ANSWER_COUNT = 9;

/** Counts normalised multiple-choice answers (train first, then val, in file order) and builds the label vocabulary. */
export class AnswerVocabularyBuilder {
  private readonly counts = new Map<string, number>();

  add(multipleChoiceAnswer: string): void {
    const a = normalizeAnswer(multipleChoiceAnswer);
    this.counts.set(a, (this.counts.get(a) ?? 0) + 1);
  }

  /** label2ans: answers seen ≥ MIN_ANSWER_COUNT times, in order of first appearance. */
  build(): AnswerVocabulary {
    return new AnswerVocabulary([...this.counts].filter(([, n]) => n >= MIN_ANSWER_COUNT).map(([a]) => a));
  }
}

export class AnswerVocabulary {
  readonly ans2label: ReadonlyMap<string, number>;

  constructor(readonly label2ans: readonly string[]) {
    this.ans2label = new Map(label2ans.map((a, i) => [a, i]));
  }

  /**
   * Labels and scores of one question from its annotators' answers, looked up exactly as written (ViLT does not
   * normalise them): labels in order of first appearance, each scored by how many annotators gave it.
   */
  labelsAndScores(annotatorAnswers: readonly string[]): { labels: number[]; scores: number[] } {
    const counts = new Map<string, number>();
    for (const a of annotatorAnswers) counts.set(a, (counts.get(a) ?? 0) + 1);
    const labels: number[] = [];
    const scores: number[] = [];
    for (const [a, n] of counts) {
      const label = this.ans2label.get(a);
      if (label === undefined) continue;
      labels.push(label);
      scores.push(answerScore(n));
    }
    return { labels, scores };
  }

  /** `ans2label.json` content: {answer: label}, in label order. */
  toAns2LabelJson(): string {
    // Written by hand: a JS object would move integer-like keys ("2", "10") to the front.
    return `{${[...this.ans2label].map(([a, l]) => `${JSON.stringify(a)}: ${l}`).join(', ')}}\n`;
  }

  /** `label2ans.json` content: [answer, ...]. */
  toLabel2AnsJson(): string {
    return JSON.stringify(this.label2ans) + '\n';
  }
}
