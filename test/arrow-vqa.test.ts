import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { answerScore, normalizeAnswer } from '../data/vqa-answers.js';
import { writeArrowDataset } from '../pipeline/arrow/index.js';
import { freshDir, photo, put, readArrow } from './arrow-fixtures.js';

test('vqa answers: ViLT normalisation quirks, hand-checked', () => {
  const cases: [string, string][] = [
    ['Yes', 'yes'],
    ['yes.', 'yes'],
    ['two', '2'],
    ['None', '0'],
    ['The dog', 'dog'],
    ['an apple', 'apple'],
    ['dont', "don't"],
    ['Dont.', "don't"],
    ['whats up?', "what's up"],
    // a digit,digit anywhere: every punctuation mark is deleted instead of spaced
    ['10,000', '10000'],
    ['1,000 dollars', '1000 dollars'],
    // a mark next to a space is deleted, otherwise replaced by a space
    ['red, white', 'red white'],
    ['hello-world', 'hello world'],
    ['left / right', 'left right'],
    ['(none)', '0'],
    // periods go unless a digit follows
    ['3.5', '3.5'],
    ['u.s.a.', 'usa'],
    ['mr. smith', 'mr smith'],
    // at most 32 periods are removed (ViLT passes re.UNICODE where re.sub takes its count)
    ['a' + '.'.repeat(36) + 'b', 'a....b'],
    ['  spaced   out ', 'spaced out'],
  ];
  for (const [raw, want] of cases) assert.equal(normalizeAnswer(raw), want, JSON.stringify(raw));
  assert.deepEqual([0, 1, 2, 3, 4, 10].map(answerScore), [0, 0.3, 0.6, 0.9, 1.0, 1.0]);
});

const img = (split: string, id: number) => `${split}/COCO_${split}_${String(id).padStart(12, '0')}.jpg`;

interface Q {
  image: number;
  qid: number;
  question: string;
  mca?: string;
  answers?: string[];
}
const times = (a: string, n: number) => Array<string>(n).fill(a);

/**
 * Vocabulary (train first, then val, normalised multiple-choice answers, ≥ 9): yes → 0, 2 → 1, dog → 2, don't → 3;
 * "cat" is seen 8 times and is dropped. Val image 201 carries the filler questions that bring the counts up.
 */
function vqaFixture(root: string): { bytes: Record<number, Buffer> } {
  const bytes: Record<number, Buffer> = {
    101: put(root, img('train2014', 101), photo('astronaut.jpg')),
    102: put(root, img('train2014', 102), photo('rocket.jpg')),
    103: put(root, img('train2014', 103), photo('coins_cmyk.jpg')),
    201: put(root, img('val2014', 201), photo('chelsea.jpg')),
    202: put(root, img('val2014', 202), photo('chelsea_exif_rot90.jpg')),
    301: put(root, img('test2015', 301), photo('palette.png')),
    302: put(root, img('test2015', 302), photo('camera_gray.png')),
  };
  const train: Q[] = [
    { image: 101, qid: 1011, question: 'Is it a person?', mca: 'Yes', answers: [...times('yes', 4), ...times('Yes', 3), ...times('no', 3)] },
    { image: 101, qid: 1012, question: 'How many?', mca: 'two', answers: [...times('2', 3), ...times('two', 2), 'dog', ...times('cat', 4)] },
    { image: 101, qid: 1013, question: 'What animal?', mca: 'the dog', answers: ['dog', ...times('the dog', 9)] },
    { image: 102, qid: 1021, question: 'Do or dont?', mca: 'dont', answers: [...times("don't", 2), ...times('dont', 8)] },
    { image: 102, qid: 1022, question: 'What is it?', mca: 'cat', answers: times('cat', 10) },
    { image: 103, qid: 1031, question: 'A cat?', mca: 'cat', answers: times('cat', 10) },
  ];
  const fillers: [string, string][] = [
    ...['yes.', 'YES', 'Yes!', 'yes', 'yes ', ' yes', 'yes?', '(yes)'].map((m) => [m, 'yes'] as [string, string]),
    ...['Two.', '2', 'two!', 'TWO', 'two', '2.', 'Two', '"2"'].map((m) => [m, '2'] as [string, string]),
    ...['A dog', 'the Dog.', 'dog!', 'Dog', 'dog', 'a dog', 'an dog', 'The dog'].map((m) => [m, 'dog'] as [string, string]),
    ...['dont', "don't", 'Dont.', 'DONT', 'dont', 'dont!', "Don't", 'dont'].map((m) => [m, "don't"] as [string, string]),
    ...['cat', 'Cat', 'a cat', 'cat.', 'CAT', 'cat'].map((m) => [m, 'cat'] as [string, string]),
  ];
  const val: Q[] = [
    ...fillers.map(([mca, raw], i) => ({ image: 201, qid: 2010 + i, question: `filler ${i}?`, mca, answers: times(raw, 10) })),
    { image: 202, qid: 2021, question: 'Which?', mca: 'dog', answers: [...times('yes', 2), ...times('dog', 1), ...times('cat', 7)] },
  ];
  const test1: Q[] = [
    { image: 301, qid: 3011, question: 'What colour?' },
    { image: 301, qid: 3012, question: 'Where?' },
  ];
  const testDev: Q[] = [{ image: 301, qid: 3011, question: 'What colour?' }];
  const questions = (qs: Q[]) => JSON.stringify({ info: {}, questions: qs.map((q) => ({ image_id: q.image, question: q.question, question_id: q.qid })) });
  const annotations = (qs: Q[]) =>
    JSON.stringify({
      annotations: qs.map((q) => ({
        question_type: 'what',
        multiple_choice_answer: q.mca,
        answers: q.answers!.map((a, i) => ({ answer: a, answer_confidence: 'yes', answer_id: i + 1 })),
        image_id: q.image,
        answer_type: 'other',
        question_id: q.qid,
      })),
    });
  put(root, 'v2_OpenEnded_mscoco_train2014_questions.json', questions(train));
  put(root, 'v2_OpenEnded_mscoco_val2014_questions.json', questions(val));
  put(root, 'v2_OpenEnded_mscoco_test2015_questions.json', questions(test1));
  put(root, 'v2_OpenEnded_mscoco_test-dev2015_questions.json', questions(testDev));
  put(root, 'v2_mscoco_train2014_annotations.json', annotations(train));
  put(root, 'v2_mscoco_val2014_annotations.json', annotations(val));
  return { bytes };
}

const VQA_SCHEMA = [
  'image: binary',
  'questions: list<item: string>',
  'answers: list<item: list<item: string>>',
  'answer_labels: list<item: list<item: int64>>',
  'answer_scores: list<item: list<item: double>>',
  'image_id: int64',
  'question_id: list<item: int64>',
  'split: string',
];
// ViLT's test rows hold one empty list per answer column, which pyarrow types list<null>.
const VQA_TEST_SCHEMA = [...VQA_SCHEMA.slice(0, 2), 'answers: list<item: null>', 'answer_labels: list<item: null>', 'answer_scores: list<item: null>', ...VQA_SCHEMA.slice(5)];

function vgQaFixture(vg: string): Record<number, Buffer> {
  put(
    vg,
    'annotations/image_data.json',
    JSON.stringify([
      { image_id: 1, coco_id: 101, width: 800, height: 600 },
      { image_id: 2, coco_id: null },
      { image_id: 3, coco_id: 999 }, // a COCO image that is not in VQAv2 train/val
      { image_id: 4, coco_id: 201 },
    ]),
  );
  const qa = (image_id: number, qa_id: number, question: string, answer: string) => ({ image_id, qa_id, question, answer, a_objects: [], q_objects: [] });
  put(
    vg,
    'annotations/question_answers.json',
    JSON.stringify([
      { id: 1, qas: [qa(1, 11, 'Is it?', 'Yes.'), qa(1, 12, 'What?', 'A cat.')] },
      { id: 2, qas: [qa(2, 21, 'No COCO id?', 'yes')] },
      { id: 3, qas: [qa(3, 31, 'Not in VQA?', 'two')] },
      { id: 4, qas: [qa(4, 41, 'How many?', 'Two'), qa(4, 42, 'Dont?', 'dont')] },
    ]),
  );
  return {
    1: put(vg, 'images/VG_100K/1.jpg', photo('rocket.jpg')),
    4: put(vg, 'images/VG_100K_2/4.jpg', photo('chelsea.jpg')),
    2: put(vg, 'images/VG_100K/2.jpg', photo('astronaut.jpg')),
  };
}

test('arrow vqav2: labels, scores, dropped questions/images, test-split quirk, vocabulary files, VG-QA', async () => {
  const root = freshDir();
  const vg = freshDir();
  const out = freshDir();
  const { bytes } = vqaFixture(root);
  const vgBytes = vgQaFixture(vg);
  const result = await writeArrowDataset({ dataset: 'vqav2', root, out, vgQa: vg });
  assert.deepEqual(
    result.files.map((f) => [f.name, f.rows]),
    [
      ['vqav2_train.arrow', 2],
      ['vqav2_val.arrow', 2],
      ['vqav2_trainable_val.arrow', 0],
      ['vqav2_rest_val.arrow', 2],
      ['vqav2_test.arrow', 1],
      ['vqav2_test-dev.arrow', 1],
      ['vgqa_train.arrow', 2],
    ],
  );
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'label2ans.json'), 'utf8')), ['yes', '2', 'dog', "don't"]);
  assert.equal(readFileSync(path.join(out, 'ans2label.json'), 'utf8'), '{"yes": 0, "2": 1, "dog": 2, "don\'t": 3}\n');

  const trainFile = readArrow(path.join(out, 'vqav2_train.arrow'));
  assert.deepEqual(trainFile.schema, VQA_SCHEMA);
  // Image 103 has only a question without any vocabulary answer: dropped. Question 1022 likewise.
  assert.deepEqual(trainFile.rows, [
    {
      image: bytes[101],
      questions: ['Is it a person?', 'How many?', 'What animal?'],
      // raw annotator answers are looked up unnormalised: "Yes", "two", "the dog" are not labels
      answers: [['yes'], ['2', 'dog'], ['dog']],
      answer_labels: [[0], [1, 2], [2]],
      answer_scores: [[1.0], [0.9, 0.3], [0.3]],
      image_id: 101,
      question_id: [1011, 1012, 1013],
      split: 'train',
    },
    { image: bytes[102], questions: ['Do or dont?'], answers: [["don't"]], answer_labels: [[3]], answer_scores: [[0.6]], image_id: 102, question_id: [1021], split: 'train' },
  ]);

  const valFile = readArrow(path.join(out, 'vqav2_val.arrow'));
  assert.equal(valFile.rows.length, 2);
  const filler = valFile.rows[0]!;
  assert.equal(filler.image_id, 201);
  // 32 fillers with a vocabulary answer (the 6 "cat" ones are dropped), ten identical answers each → score 1.0
  assert.deepEqual(filler.answer_labels, [...times('0', 8), ...times('1', 8), ...times('2', 8), ...times('3', 8)].map((l) => [Number(l)]));
  assert.deepEqual(filler.answer_scores, Array.from({ length: 32 }, () => [1.0]));
  assert.deepEqual(filler.question_id, Array.from({ length: 32 }, (_, i) => 2010 + i));
  assert.deepEqual(valFile.rows[1], {
    image: bytes[202],
    questions: ['Which?'],
    answers: [['yes', 'dog']],
    answer_labels: [[0, 2]],
    answer_scores: [[0.6, 0.3]],
    image_id: 202,
    question_id: [2021],
    split: 'val',
  });
  // Fewer than 1000 val rows: trainable_val is empty and rest_val holds them all (pandas [:-1000] / [-1000:]).
  assert.deepEqual(readArrow(path.join(out, 'vqav2_rest_val.arrow')).rows, valFile.rows);
  assert.deepEqual(readArrow(path.join(out, 'vqav2_trainable_val.arrow')).schema, VQA_SCHEMA);

  for (const [file, split, qids, questions] of [
    ['vqav2_test.arrow', 'test', [3011, 3012], ['What colour?', 'Where?']],
    ['vqav2_test-dev.arrow', 'test-dev', [3011], ['What colour?']],
  ] as const) {
    const t = readArrow(path.join(out, file));
    assert.deepEqual(t.schema, VQA_TEST_SCHEMA);
    // Image 302 has no question: not written.
    assert.deepEqual(t.rows, [{ image: bytes[301], questions, answers: [], answer_labels: [], answer_scores: [], image_id: 301, question_id: qids, split }]);
  }

  const vgqa = readArrow(path.join(out, 'vgqa_train.arrow'));
  assert.deepEqual(vgqa.schema, VQA_SCHEMA);
  assert.deepEqual(vgqa.rows, [
    { image: vgBytes[1], questions: ['Is it?'], answers: [['yes']], answer_labels: [[0]], answer_scores: [[1.0]], image_id: 1, question_id: [11], split: 'train' },
    {
      image: vgBytes[4],
      questions: ['How many?', 'Dont?'],
      answers: [['2'], ["don't"]],
      answer_labels: [[1], [3]],
      answer_scores: [[1.0], [1.0]],
      image_id: 4,
      question_id: [41, 42],
      split: 'train',
    },
  ]);
});

test('arrow vqav2: val is cut into trainable_val and the last 1000 rows as rest_val in one pass', async () => {
  const root = freshDir();
  const out = freshDir();
  const tiny = photo('palette.png');
  const n = 1003;
  const q = (i: number) => ({ image_id: 5000 + i, question: `q${i}?`, question_id: 50000 + i });
  for (let i = 0; i < n; i++) put(root, img('val2014', 5000 + i), tiny);
  put(root, 'v2_OpenEnded_mscoco_val2014_questions.json', JSON.stringify({ questions: Array.from({ length: n }, (_, i) => q(i)) }));
  const ann = Array.from({ length: n }, (_, i) => ({ image_id: 5000 + i, question_id: 50000 + i, multiple_choice_answer: 'yes', answers: times('yes', 3).map((answer) => ({ answer })) }));
  put(root, 'v2_mscoco_val2014_annotations.json', JSON.stringify({ annotations: ann }));
  put(root, 'v2_mscoco_train2014_annotations.json', JSON.stringify({ annotations: [] }));
  for (const s of ['train2014', 'test2015', 'test-dev2015']) put(root, `v2_OpenEnded_mscoco_${s}_questions.json`, JSON.stringify({ questions: [] }));
  for (const d of ['train2014', 'test2015']) put(root, `${d}/.keep`, '');
  const result = await writeArrowDataset({ dataset: 'vqav2', root, out, batchBytes: 64 * 1024 });
  const rows = Object.fromEntries(result.files.map((f) => [f.name, f.rows]));
  assert.deepEqual(rows, { 'vqav2_train.arrow': 0, 'vqav2_val.arrow': n, 'vqav2_trainable_val.arrow': 3, 'vqav2_rest_val.arrow': 1000, 'vqav2_test.arrow': 0, 'vqav2_test-dev.arrow': 0 });
  const trainable = readArrow(path.join(out, 'vqav2_trainable_val.arrow'));
  assert.deepEqual(trainable.rows.map((r) => r.image_id), [5000, 5001, 5002]);
  const rest = readArrow(path.join(out, 'vqav2_rest_val.arrow'));
  assert.equal(rest.rows[0]!.image_id, 5003);
  assert.deepEqual(rest.rows[999]!.answer_scores, [[0.9]]);
  assert.ok(rest.batches > 1, 'small batch_bytes gives several record batches');
  assert.ok(!readdirSync(out).some((n) => n.includes('.tmp-')));
});

test('arrow vqav2: an annotation whose question is not in the question file names file and record', async () => {
  const root = freshDir();
  vqaFixture(root);
  const ann = JSON.parse(readFileSync(path.join(root, 'v2_mscoco_train2014_annotations.json'), 'utf8'));
  ann.annotations[1].question_id = 999999;
  put(root, 'v2_mscoco_train2014_annotations.json', JSON.stringify(ann));
  const out = freshDir();
  await assert.rejects(writeArrowDataset({ dataset: 'vqav2', root, out }), (err: Error) => {
    assert.match(err.message, /v2_mscoco_train2014_annotations\.json: record 1 \(question_id 999999\): question 999999 of image 101/);
    return true;
  });
  assert.ok(!existsSync(path.join(out, 'vqav2_train.arrow')));
});
