# Baseline for bench/eval-captions.ts: the official pycocoevalcap pipeline (PTBTokenizer jar + Bleu(4), Rouge(),
# Cider()) on a COCO captions annotation file and a results file, images ordered as pycocotools' loadRes + the
# package's example script give them. Usage: PYTHONPATH=<dir containing pycocoevalcap/> python3 this.py GT RES
import json
import sys

from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

gt = json.load(open(sys.argv[1]))
res = json.load(open(sys.argv[2]))
res_ids = set(r["image_id"] for r in res)
img_ids = [im["id"] for im in gt["images"] if im["id"] in res_ids]
gts = {i: [] for i in img_ids}
rs = {i: [] for i in img_ids}
for a in gt["annotations"]:
    if a["image_id"] in gts:
        gts[a["image_id"]].append(a)
for r in res:
    rs[r["image_id"]].append(r)
tok = PTBTokenizer()
g = tok.tokenize(gts)
r = tok.tokenize(rs)
out = {}
for scorer, names in [(Bleu(4), ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"]), (Rouge(), ["ROUGE_L"]), (Cider(), ["CIDEr"])]:
    score, _ = scorer.compute_score(g, r, verbose=0) if isinstance(scorer, Bleu) else scorer.compute_score(g, r)
    for m, s in zip(names, score if isinstance(score, list) else [score]):
        out[m] = float(s)
print(json.dumps(out))
