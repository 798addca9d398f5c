/**
 * Stanford PTBTokenizer 3.4.1 as pycocoevalcap runs it (`-preserveLines -lowerCase`, default PTB3 escaping),
 * re-implemented without Java: one output line per input line, tokens joined by single spaces, lowercased with
 * English rules. Written from the tokenizer's documented behaviour and checked token-for-token against the real
 * tokenizer on test/fixtures/eval/ptb-*.txt (see test/eval-ptb.test.ts for how those were produced).
 *
 * What matters for caption scores, and is easy to get wrong by hand: the longest match wins across all rules
 * (so "3.5", "10:30", "1,000", "well-known", "and/or", "e-mail" stay whole), "'s" / "n't" / "'re" split off
 * ("can't" → "ca n't", "cannot" → "can not", "gonna" → "gon na"), known abbreviations keep their period ("st.",
 * "dr.", "etc.") and, sentence-finally, also emit a separate "." (later removed as punctuation), brackets become
 * -LRB- / -RRB- / -LCB- / -RCB- / -LSB- / -RSB- (lowercased: pycocoevalcap's punctuation filter then keeps them),
 * straight quotes become `` / '' by position, 3–4 hyphens and en/em dashes become "--", and characters no rule
 * knows are deleted. Every line break the tokenizer recognises (\n, \r, \r\n, U+2028, U+2029, U+000B, U+000C,
 * U+0085) ends an output line.
 */
import { LongestMatchLexer, type Rule } from './longest-match.js';

const NL_TOKEN = '*NL*';

/** A Unicode class test on UTF-16 code units, memoised per code unit (the lazy DFA asks the same ones often). */
const test = (re: RegExp) => {
  const memo = new Int8Array(65536); // 0 unknown, 1 no, 2 yes
  return (c: number) => {
    let m = memo[c]!;
    if (m === 0) memo[c] = m = re.test(String.fromCharCode(c)) ? 2 : 1;
    return m === 2;
  };
};
// Java's Character.isLetter / isDigit / isUpperCase, as JFlex's [:letter:] [:digit:] [:uppercase:] classes.
const isLetter = test(/\p{L}/u);
const isDigit = test(/\p{Nd}/u);
const isUpper = test(/\p{Lu}/u);
// The tokenizer's own notion of a word character: letters plus combining marks, the soft hyphen and a few
// modifier letters/symbols that Java 6 did not class as letters.
const isMark = test(/\p{M}/u);
const isWordLetter = (c: number) =>
  isLetter(c) ||
  isMark(c) ||
  c === 0xad ||
  (c >= 0x02c2 && c <= 0x02c5) ||
  (c >= 0x02d2 && c <= 0x02df) ||
  (c >= 0x02e5 && c <= 0x02ff) ||
  c === 0x0384 ||
  c === 0x0385 ||
  c === 0x03f6 ||
  (c >= 0x055a && c <= 0x055f);

const CLASSES = { L: isLetter, Nd: isDigit, Lu: isUpper, WL: isWordLetter };

/** Named sub-patterns (see longest-match.ts for the syntax; literals are case-insensitive, classes are not). */
const P: Record<string, string> = {
  SP: '[ \\t\\u00A0\\u2000-\\u200A\\u3000]',
  NL: '\\r|\\r?\\n|\\u2028|\\u2029|\\u000B|\\u000C|\\u0085',
  SPNL: '{SP}|{NL}',
  SENTEND: '{SPNL}({SPNL}|{Lu}|{SGML})',
  SGML:
    '<([!\\?][A-Za-z\\-][^>\\r\\n]*|[A-Za-z][A-Za-z0-9_:.\\-]*([ ]+([A-Za-z][A-Za-z0-9_:.\\-]*|[A-Za-z][A-Za-z0-9_:.\\-]*[ ]*=[ ]*(\'[^\']*\'|"[^"]*")))*[ ]*/?|/[A-Za-z][A-Za-z0-9_:.\\-]*)[ ]*>',
  DIGIT: '{Nd}|[\\u07C0-\\u07C9]',
  NUM: '({DIGIT})+|({DIGIT})*([.:,\\u00AD\\u066B\\u066C]({DIGIT})+)+',
  LETTER: '{WL}|&[aeiouAEIOU](acute|grave|uml);',
  WORD: '({LETTER})({LETTER}|{DIGIT})*([.!?]({LETTER})({LETTER}|{DIGIT})*)*',
  APOS: "['\\u0092\\u2019]|&apos;",
  APOSX: '{APOS}|[`\\u0091\\u2018\\u201B]',
  REDAUX: '({APOS})([msdMSD]|re|ve|ll)',
  SWORD: '[A-Za-z\\u00AD]*[A-MO-Za-mo-z]\\u00AD*',
  SREDAUX: 'n({APOSX})t',
  APOWORD:
    "({APOS})n({APOS})?|[lLdDjJ]({APOS})|Dunkin({APOS})|somethin({APOS})|ol({APOS})|({APOS})em|[A-HJ-XZn]({APOSX}){L}{L}{L}*|({APOS})[2-9]0s|({APOS})till?|{L}{L}*[aeiouyAEIOUY]({APOSX})[aeiouA-Z]{L}*|({APOS})cause|cont'd\\.?|'twas|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l|O({APOSX})o",
  HYPHEN: '[\\-_\\u058A\\u2010\\u2011]',
  THINGPART: '([dDoOlL]({APOSX})({L}|{Nd}))?({L}|{Nd})+',
  THING: '{THINGPART}({HYPHEN}{THINGPART})*',
  THINGA: '[A-Z]+(([+&]|&amp;)[A-Z]+)+',
  THING3: '[A-Za-z0-9]+(\\-[A-Za-z]+){0,2}(\\\\?/[A-Za-z0-9]+(\\-[A-Za-z]+){0,2}){1,2}',
  ACRO: '[A-Za-z](\\.[A-Za-z])*|(Canada|Sino|Korean|EU|Japan|non)\\-U\\.S|U\\.S\\.\\-(U\\.K|U\\.S\\.S\\.R)',
  ACRO2: '[A-Za-z](\\.[A-Za-z])+|(Canada|Sino|Korean|EU|Japan|non)\\-U\\.S|U\\.S\\.\\-(U\\.K|U\\.S\\.S\\.R)',
  HTHING: '[A-Za-z0-9][A-Za-z0-9.,\\u00AD]*(\\-([A-Za-z0-9\\u00AD]+|{ACRO2}\\.))+',
  FILENAME_EXT:
    'bat|bmp|c|class|cgi|cpp|dll|doc|docx|exe|gif|gz|h|htm|html|jar|java|jpeg|jpg|mov|mp3|pdf|php|pl|png|ppt|ps|py|sql|tar|txt|wav|x|xml|zip',
  FILENAME: '({LETTER}|{DIGIT})+(\\.({LETTER}|{DIGIT})+)*(\\.({FILENAME_EXT}))',
  FULLURL: 'https?://[^ \\t\\n\\f\\r"<>|(){}]+[^ \\t\\n\\f\\r"<>|.!?(){},\\-]',
  LIKELYURL:
    '((www\\.([^ \\t\\n\\f\\r"<>|.!?(){},]+\\.)+[a-zA-Z]{2,4})|(([^ \\t\\n\\f\\r"`\'<>|.!?(){},-_$]+\\.)+(com|net|org|edu)))(/[^ \\t\\n\\f\\r"<>|()]+[^ \\t\\n\\f\\r"<>|.!?(){},\\-])?',
  EMAIL:
    '(&lt;|<)?[a-zA-Z0-9][^ \\t\\n\\f\\r"<>|()\\u00A0{}]*@([^ \\t\\n\\f\\r"<>|(){}.\\u00A0]+\\.)*([^ \\t\\n\\f\\r"<>|(){}.\\u00A0]+)(&gt;|>)?',
  TWITTER: '@[a-zA-Z_][a-zA-Z_0-9]*|#({LETTER})+',
  DATE: '({DIGIT}){1,2}[\\-/]({DIGIT}){1,2}[\\-/]({DIGIT}){2,4}',
  NUMBER: '[\\-+]?({NUM})',
  SUBSUPNUM: '[\\u207A\\u207B\\u208A\\u208B]?([\\u2070\\u00B9\\u00B2\\u00B3\\u2074-\\u2079]+|[\\u2080-\\u2089]+)',
  FRAC: '(({DIGIT}){1,4}[\\- \\u00A0])?({DIGIT}){1,4}(\\\\?/|\\u2044)({DIGIT}){1,4}',
  TBSPEC:
    "\\-(RRB|LRB|RCB|LCB|RSB|LSB)\\-|C\\.D\\.s|pro\\-|anti\\-|S(&|&amp;)P\\-500|S(&|&amp;)Ls|Cap({APOS})n|c({APOS})est",
  DOLSIGN: '[A-Z]*\\$|#',
  DOLSIGN2: '[\\u00A2\\u00A3\\u00A4\\u00A5\\u0080\\u20A0\\u20AC\\u060B\\u0E3F\\u20A4\\uFFE0\\uFFE1\\uFFE5\\uFFE6]',
  // Abbreviations. Group 1 is usually followed by a lower-case word (an upper-case one means a sentence ended).
  ABMONTH: 'Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec',
  ABDAYS: 'Mon|Tue|Tues|Wed|Thu|Thurs|Fri',
  ABSTATE:
    'Ala|Ariz|[A]z|[A]rk|Calif|Colo|Conn|Ct|Dak|[D]el|Fla|Ga|[I]ll|Ind|Kans?|Ky|[L]a|[M]ass|Md|Mich|Minn|[M]iss|Mo|Mont|Neb|Nev|Okla|[O]re|[P]a|Penn|Tenn|[T]ex|Va|Vt|[W]ash|Wisc?|Wyo',
  ABCOMP: 'Inc|Cos?|Corp|Pp?t[ye]s?|Ltd|Plc|Rt|Bancorp|Bhd|Assn|Univ|Intl|Sys',
  ABNUM: 'tel|est|ext|sq',
  ABPTIT: 'Jr|Sr|Bros|(Ed|Ph)\\.D|Blvd|Rd|Esq',
  ABBREV1: '({ABMONTH}|{ABDAYS}|{ABSTATE}|{ABCOMP}|{ABNUM}|{ABPTIT}|etc|al|seq|Bldg)\\.',
  // Group 2 is usually followed by an upper-case word (titles, single letters, acronyms).
  ABTITLE:
    'Mr|Mrs|Ms|[M]iss|Drs?|Profs?|Sens?|Reps?|Attys?|Lt|Col|Gen|Messrs|Govs?|Adm|Rev|Maj|Sgt|Cpl|Pvt|Capt|Ste?|Ave|Pres|Lieut|Hon|Brig|Co?mdr|Pfc|Spc|Supts?|Det|Mt|Ft|Adj|Adv|Asst|Assoc|Ens|Insp|Mlle|Mme|Msgr|Sfc',
  ABCOMP2: 'Invt|Elec|Natl|M[ft]g|Dept',
  ABBREV4: '{ABTITLE}|vs|Alex|Wm|Jos|Cie|a\\.k\\.a|cf|TREAS|Ph|{ACRO}|{ABCOMP2}',
  ABBREV3: '(ca|figs?|prop|nos?|art|bldg|prop|pp|op)\\.',
  // An acronym is sentence-final when one of these words follows it (first letter case-sensitive).
  AFTERACRO:
    '[A]bout|[A]ccording|[A]dditionally|[A]fter|[A]n|[A]|[A]s|[A]t|[B]ut|[E]arlier|[H]e|[H]er|[H]ere|[H]owever|[I]f|[I]n|[I]t|[L]ast|[M]any|[M]ore|[M]r\\.|[M]s\\.|[N]ow|[O]nce|[O]ne|[O]ther|[O]ur|[S]he|[S]ince|[S]o|[S]ome|[S]uch|[T]hat|[T]he|[T]heir|[T]hen|[T]here|[T]hese|[T]hey|[T]his|[W]e|[W]hen|[W]hile|[W]hat|[Y]et|[Y]ou|{SGML}',
  PHONE:
    '(\\([0-9]{2,3}\\)[ \\u00A0]?|(\\+\\+?)?([0-9]{2,4}[\\- \\u00A0])?[0-9]{2,4}[\\- \\u00A0])[0-9]{3,4}[\\- \\u00A0]?[0-9]{3,5}|((\\+\\+?)?[0-9]{2,4}\\.)?[0-9]{2,4}\\.[0-9]{3,4}\\.[0-9]{3,5}',
  LDOTS: '\\.{3,5}|(\\.[ \\u00A0]){2,4}\\.|[\\u0085\\u2026]',
  FNMARKS: '@+|#+|_+',
  ASTS: '\\*+|(\\\\\\*){1,3}',
  INSENTP: '[,;:\\u3001]',
  QUOTES: "{APOS}|''|[`\\u2018\\u2019\\u201A\\u201B\\u201C\\u201D\\u0091\\u0092\\u0093\\u0094\\u201E\\u201F\\u2039\\u203A\\u00AB\\u00BB]{1,2}",
  DBLQUOT: '"|&quot;',
  TBSPEC2: '({APOS})[0-9][0-9]',
  SMILEY: '[<>]?[:;=][\\-o*\']?[()DPdpO\\\\{@|\\[\\]]',
  ASIANSMILEY:
    "[\\-\\^x=~<>']_[\\-\\^x=~<>']|\\([\\-\\^x=~<>'][_.]?[\\-\\^x=~<>']\\)|\\([\\^x=~<>']\\-[\\^x=~<>'`]\\)",
  MISCSYMBOL:
    '[+%&~\\^|\\\\\\u00A6\\u00A7\\u00A8\\u00A9\\u00AC\\u00AE\\u00AF\\u00B0-\\u00B3\\u00B4-\\u00BA\\u00D7\\u00F7\\u0387\\u05BE\\u05C0\\u05C3\\u05C6\\u05F3\\u05F4\\u0600-\\u0603\\u0606-\\u060A\\u060C\\u0614\\u061B\\u061E\\u066A\\u066D\\u0703-\\u070D\\u07F6\\u07F7\\u07F8\\u0964\\u0965\\u0E4F\\u1FBD\\u2016\\u2017\\u2020-\\u2023\\u2030-\\u2038\\u203B\\u203E-\\u2042\\u2044\\u207A-\\u207F\\u208A-\\u208E\\u2100-\\u214F\\u2190-\\u21FF\\u2200-\\u2BFF\\u3012\\u30FB\\uFF01-\\uFF0F\\uFF1A-\\uFF20\\uFF3B-\\uFF40\\uFF5B-\\uFF65]',
};

// --- token rewriting done by the rule actions ---

const removeSoftHyphens = (s: string): string => {
  if (!s.includes('\u00AD')) return s;
  const out = s.replaceAll('\u00AD', '');
  return out === '' ? '-' : out;
};

/** LaTeX-style quotes: an opening straight quote becomes ` or ``, a closing one ' or ''; curly quotes by shape. */
function latexQuotes(s: string, opening: boolean): string {
  let t = opening ? s.replace(/&apos;|'/g, '`').replace(/"|&quot;/g, '``') : s.replace(/&apos;|'/g, "'").replace(/"|&quot;/g, "''");
  t = t.replace(/[\u0091\u2018\u201B\u2039]/g, '`').replace(/[\u0092\u2019\u203A]/g, "'");
  return t.replace(/[\u0093\u201C\u00AB]/g, '``').replace(/[\u0094\u201D\u00BB]/g, "''");
}

const FRACTIONS: Record<string, string> = { '\u00BC': '1/4', '\u00BD': '1/2', '\u00BE': '3/4', '\u2153': '1/3', '\u2154': '2/3' };
const BRACKETS: Record<string, string> = { '(': '-LRB-', ')': '-RRB-', '{': '-LCB-', '}': '-RCB-', '[': '-LSB-', ']': '-RSB-' };
const parens = (s: string) => s.replaceAll('(', '-LRB-').replaceAll(')', '-RRB-');
const amp = (s: string) => s.replace(/&amp;/gi, '&');

type Action = Rule['action'];
const keep: Action = (t) => ({ token: t });
const skip: Action = () => ({ token: null });
const to = (f: (t: string) => string): Action => (t) => ({ token: f(t) });
/** Emit the first `n` characters only; the rest is scanned again. */
const first = (n: number): Action => (t) => ({ token: t.slice(0, n), consume: n });
/** Emit the whole match and then scan its final period again (it becomes its own "." token). */
const periodTwice: Action = (t) => ({ token: t, consume: t.length - 1 });

/** Rules in priority order: on equal match lengths the earlier one wins. */
const RULES: Rule[] = [
  { pattern: 'c[+][+]', action: keep },
  { pattern: '(c|f)#', action: keep },
  { pattern: 'cannot', action: first(3) },
  { pattern: "'twas", action: first(2) },
  { pattern: "'tis", action: first(2) },
  { pattern: 'gonna|gotta|lemme|gimme|wanna', action: first(3) },
  { pattern: '{SGML}', action: to((t) => t.replaceAll(' ', '\u00A0')) },
  { pattern: '&(MD|mdash|ndash);|[\\u0096\\u0097\\u2013\\u2014\\u2015]', action: to(() => '--') },
  { pattern: '&amp;', action: to(amp) },
  { pattern: '&(HT|TL|UR|LR|QC|QL|QR|odq|cdq|#[0-9]+);', action: keep },
  { pattern: '{WORD}', trail: '{REDAUX}', action: to(removeSoftHyphens) },
  { pattern: '{SWORD}', trail: '{SREDAUX}', action: to(removeSoftHyphens) },
  { pattern: '{WORD}', action: to(removeSoftHyphens) },
  { pattern: '{APOWORD}', action: keep },
  { pattern: 'y({APOS})', trail: '{L}', action: keep },
  { pattern: '{FULLURL}', action: keep },
  { pattern: '{LIKELYURL}', action: keep },
  { pattern: '{EMAIL}', action: keep },
  { pattern: '{TWITTER}', action: keep },
  { pattern: '{REDAUX}', trail: '[^A-Za-z]', action: to((t) => latexQuotes(t, false)) },
  { pattern: '{SREDAUX}', trail: '[^A-Za-z]', action: to((t) => latexQuotes(t, false)) },
  { pattern: '{DATE}', action: keep },
  { pattern: '{NUMBER}', action: to(removeSoftHyphens) },
  { pattern: '{SUBSUPNUM}', action: keep },
  { pattern: '{FRAC}', action: to((t) => t.replaceAll(' ', '\u00A0')) },
  { pattern: '[\\u00BC\\u00BD\\u00BE\\u2153-\\u215E]', action: to((t) => FRACTIONS[t] ?? t) },
  { pattern: '{TBSPEC}', action: to(amp) },
  { pattern: '{THING3}', action: keep },
  { pattern: '{DOLSIGN}', action: keep },
  { pattern: '{DOLSIGN2}', action: to((t) => t.replace('\u00A2', 'cents').replace('\u00A3', '#').replace(/[\u0080\u00A4\u20A0\u20AC]/, '$')) },
  {
    // An acronym before a typical sentence-opening word ends the sentence: "U.S." + "." ("I." → "I" + ".").
    pattern: '({ACRO})\\.',
    trail: '({SPNL})+({AFTERACRO}){SPNL}',
    action: (t) => (t.length === 2 ? { token: t.slice(0, 1), consume: 1 } : periodTwice(t)),
  },
  { pattern: '{ABBREV3}', trail: '({SPNL})?{Nd}', action: keep },
  { pattern: '(pt[eyEY]|co)\\.', trail: '{SP}(ltd|lim)', action: keep },
  { pattern: '{ABBREV1}', trail: '{SENTEND}', action: periodTwice },
  { pattern: '{ABBREV1}', trail: '[^][^]', action: keep },
  { pattern: '{ABBREV1}', action: periodTwice },
  { pattern: '({ABBREV4})\\.', action: keep },
  { pattern: '{ABBREV4}', trail: '{SP}', action: keep },
  { pattern: '{ACRO}', trail: '{SPNL}', action: keep },
  { pattern: '{TBSPEC2}', trail: '{SPNL}', action: keep },
  { pattern: '{FILENAME}', trail: '{SPNL}|[.?!,]', action: keep },
  { pattern: '{WORD}\\.', trail: '{INSENTP}', action: to(removeSoftHyphens) },
  { pattern: '{PHONE}', action: to((t) => parens(t.replaceAll(' ', '\u00A0'))) },
  { pattern: '{DBLQUOT}', trail: '[A-Za-z0-9$]', action: to((t) => latexQuotes(t, true)) },
  { pattern: '{DBLQUOT}', action: to((t) => latexQuotes(t, false)) },
  { pattern: '\\x7f', action: skip },
  { pattern: '<|&lt;', action: to(() => '<') },
  { pattern: '>|&gt;', action: to(() => '>') },
  { pattern: '{SMILEY}', trail: '[^A-Za-z0-9]', action: to(parens) },
  { pattern: '{ASIANSMILEY}', action: to(parens) },
  { pattern: '[{}\\[\\]()]', action: to((t) => BRACKETS[t]!) },
  { pattern: '\\-+', action: to((t) => (t.length >= 3 && t.length <= 4 ? '--' : t)) },
  { pattern: '{LDOTS}', action: to(() => '...') },
  { pattern: '{FNMARKS}', action: keep },
  { pattern: '{ASTS}', action: keep },
  { pattern: '{INSENTP}', action: keep },
  { pattern: '[?!]+', action: keep },
  { pattern: '[.\\u00A1\\u00BF\\u037E\\u0589\\u061F\\u06D4\\u0700-\\u0702\\u07FA\\u3002]', action: keep },
  { pattern: '=', action: keep },
  { pattern: '/', action: keep },
  { pattern: '{HTHING}\\.', trail: '{INSENTP}', action: to(removeSoftHyphens) },
  { pattern: '{HTHING}', action: to(removeSoftHyphens) },
  { pattern: '{THING}\\.', trail: '{INSENTP}', action: keep },
  { pattern: '{THING}', action: keep },
  { pattern: '{THINGA}\\.', trail: '{INSENTP}', action: to(amp) },
  { pattern: '{THINGA}', action: to(amp) },
  { pattern: "'", trail: '[A-Za-z][^ \\t\\n\\r\\u00A0]', action: to((t) => latexQuotes(t, true)) },
  { pattern: '{REDAUX}', action: to((t) => latexQuotes(t, false)) },
  { pattern: '{SREDAUX}', action: to((t) => latexQuotes(t, false)) },
  { pattern: '{QUOTES}', action: to((t) => latexQuotes(t, false)) },
  { pattern: '<<|>>', action: keep },
  { pattern: '{MISCSYMBOL}', action: keep },
  { pattern: '\\u0000|({SP})+|[\\u200B\\u200E\\u200F\\uFEFF]', action: skip },
  { pattern: '{NL}', action: to(() => NL_TOKEN) },
  { pattern: '&nbsp;', action: skip },
  // Anything else is "untokenizable" and deleted (the real tokenizer warns once on stderr).
  { pattern: '[^\\n]', action: skip },
];

let lexer: LongestMatchLexer | undefined;

/**
 * Tokenize text the way `PTBTokenizer -preserveLines -lowerCase` prints it: one string per output line, tokens
 * separated by single spaces. A text with k line breaks gives k + 1 lines.
 */
export function ptbTokenizeLines(text: string): string[] {
  lexer ??= new LongestMatchLexer(RULES, P, CLASSES);
  const lines: string[] = [];
  let line: string[] = [];
  lexer.lex(text, (tok) => {
    if (tok === NL_TOKEN) {
      lines.push(line.join(' '));
      line = [];
    } else line.push(tok.toLowerCase());
  });
  lines.push(line.join(' '));
  return lines;
}

/** The tokens pycocoevalcap drops after tokenizing (compared after lowercasing, so -lrb- etc. survive). */
export const PTB_PUNCTUATION = new Set(["''", "'", '``', '`', '-LRB-', '-RRB-', '-LCB-', '-RCB-', '.', '?', '!', ',', ':', '-', '--', '...', ';']);

/** Drop pycocoevalcap's punctuation tokens from one tokenized line (split on single spaces, as it does). */
export function removePunctuation(line: string): string {
  return line
    .trimEnd()
    .split(' ')
    .filter((w) => !PTB_PUNCTUATION.has(w))
    .join(' ');
}
