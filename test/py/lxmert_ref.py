"""A small LXMERT-shaped reference model in PyTorch for vlkit's parity test (test/lxmert-parity.test.ts).

Written for vlkit from the LXMERT paper's description, with the parameter names of LXMERT's fine-tuned VQA model
(lxrt_encoder.model.bert.*, logit_fc.*). Usage (Debian /usr/bin/python3 with python3-torch):
  lxmert_ref.py make DIR    random model (seeded) + inputs: DIR/model.pth, DIR/pretrained.pth, DIR/case.json
  lxmert_ref.py run PTH DIR load PTH strictly into the reference, print its logits on DIR/case.json as JSON
"""
import json
import math
import sys

import torch
from torch import nn

SIZES = dict(vocab=50, hidden=32, heads=4, inter=48, l=2, r=1, x=2, feat=12, pos=4, answers=5, max_pos=16)
EPS = 1e-12


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class Attention(nn.Module):  # query/key/value over a context
    def __init__(self, h, heads):
        super().__init__()
        self.heads, self.d = heads, h // heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)

    def forward(self, x, ctx, mask):
        b, t, _ = x.shape
        split = lambda y: y.view(b, -1, self.heads, self.d).permute(0, 2, 1, 3)
        q, k, v = split(self.query(x)), split(self.key(ctx)), split(self.value(ctx))
        s = q @ k.transpose(-1, -2) / math.sqrt(self.d) + mask
        return (s.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(b, t, -1)


class AddNorm(nn.Module):
    def __init__(self, i, h):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(i, h), nn.LayerNorm(h, eps=EPS)

    def forward(self, x, res):
        return self.LayerNorm(self.dense(x) + res)


class AttBlock(nn.Module):
    def __init__(self, h, heads, attname):
        super().__init__()
        self.attname = attname
        setattr(self, attname, Attention(h, heads))
        self.output = AddNorm(h, h)

    def forward(self, x, ctx, mask):
        return self.output(getattr(self, self.attname)(x, ctx, mask), x)


class Inter(nn.Module):
    def __init__(self, h, i):
        super().__init__()
        self.dense = nn.Linear(h, i)

    def forward(self, x):
        return gelu(self.dense(x))


class BertAttention(nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.self, self.output = Attention(h, heads), AddNorm(h, h)

    def forward(self, x, mask):
        return self.output(self.self(x, x, mask), x)


class Layer(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.attention = BertAttention(s['hidden'], s['heads'])
        self.intermediate, self.output = Inter(s['hidden'], s['inter']), AddNorm(s['inter'], s['hidden'])

    def forward(self, x, mask):
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class XLayer(nn.Module):
    def __init__(self, s):
        super().__init__()
        h, n = s['hidden'], s['heads']
        self.visual_attention = AttBlock(h, n, 'att')
        self.lang_self_att, self.visn_self_att = AttBlock(h, n, 'self'), AttBlock(h, n, 'self')
        self.lang_inter, self.lang_output = Inter(h, s['inter']), AddNorm(s['inter'], h)
        self.visn_inter, self.visn_output = Inter(h, s['inter']), AddNorm(s['inter'], h)

    def forward(self, lang, lmask, visn, vmask):
        l1, v1 = self.visual_attention(lang, visn, vmask), self.visual_attention(visn, lang, lmask)
        l2, v2 = self.lang_self_att(l1, l1, lmask), self.visn_self_att(v1, v1, vmask)
        return self.lang_output(self.lang_inter(l2), l2), self.visn_output(self.visn_inter(v2), v2)


class VisnFc(nn.Module):
    def __init__(self, s):
        super().__init__()
        h = s['hidden']
        self.visn_fc, self.visn_layer_norm = nn.Linear(s['feat'], h), nn.LayerNorm(h, eps=EPS)
        self.box_fc, self.box_layer_norm = nn.Linear(s['pos'], h), nn.LayerNorm(h, eps=EPS)

    def forward(self, f, b):
        return (self.visn_layer_norm(self.visn_fc(f)) + self.box_layer_norm(self.box_fc(b))) / 2


class Embeddings(nn.Module):
    def __init__(self, s):
        super().__init__()
        h = s['hidden']
        self.word_embeddings = nn.Embedding(s['vocab'], h)
        self.position_embeddings = nn.Embedding(s['max_pos'], h)
        self.token_type_embeddings = nn.Embedding(2, h)
        self.LayerNorm = nn.LayerNorm(h, eps=EPS)

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(types))


class Encoder(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.visn_fc = VisnFc(s)
        self.layer = nn.ModuleList([Layer(s) for _ in range(s['l'])])
        self.r_layers = nn.ModuleList([Layer(s) for _ in range(s['r'])])
        self.x_layers = nn.ModuleList([XLayer(s) for _ in range(s['x'])])


class Pooler(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.dense = nn.Linear(h, h)


class Bert(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.embeddings, self.encoder, self.pooler = Embeddings(s), Encoder(s), Pooler(s['hidden'])

    def forward(self, ids, mask, types, feats, boxes, vmask):
        lm = ((1.0 - mask) * -10000.0)[:, None, None, :]
        vm = ((1.0 - vmask) * -10000.0)[:, None, None, :]
        lang = self.embeddings(ids, types)
        visn = self.encoder.visn_fc(feats, boxes)
        for l in self.encoder.layer:
            lang = l(lang, lm)
        for l in self.encoder.r_layers:
            visn = l(visn, vm)
        for l in self.encoder.x_layers:
            lang, visn = l(lang, lm, visn, vm)
        return torch.tanh(self.pooler.dense(lang[:, 0]))


class Holder(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.bert = Bert(s)


class EncoderWrap(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.model = Holder(s)


class VQA(nn.Module):
    def __init__(self, s):
        super().__init__()
        h = s['hidden']
        self.lxrt_encoder = EncoderWrap(s)
        self.logit_fc = nn.Sequential(nn.Linear(h, 2 * h), nn.Identity(), nn.LayerNorm(2 * h, eps=EPS), nn.Linear(2 * h, s['answers']))

    def forward(self, c):
        x = self.lxrt_encoder.model.bert(*c)
        x = self.logit_fc[0](x)
        return self.logit_fc[3](self.logit_fc[2](gelu(x)))


def case_tensors(case):
    t = lambda k, dt: torch.tensor(case[k], dtype=dt)
    return (t('ids', torch.long), t('mask', torch.float32), t('types', torch.long), t('feats', torch.float32), t('boxes', torch.float32), t('visMask', torch.float32))


def main():
    torch.set_num_threads(1)
    if sys.argv[1] == 'make':
        out = sys.argv[2]
        torch.manual_seed(0)
        m = VQA(SIZES).eval()
        with torch.no_grad():
            for name, p in m.named_parameters():
                # Larger than BERT's 0.02 so every layer visibly shapes the output.
                p.copy_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.1) + (1.0 if name.endswith('LayerNorm.weight') or name.endswith('layer_norm.weight') or name == 'logit_fc.2.weight' else 0.0))
        b, t, o = 3, 7, 5
        mask = torch.ones(b, t)
        mask[1, 5:] = 0
        vmask = torch.ones(b, o)
        vmask[2, 3:] = 0
        case = dict(
            ids=torch.randint(0, SIZES['vocab'], (b, t)).tolist(), mask=mask.tolist(), types=torch.zeros(b, t, dtype=torch.long).tolist(),
            feats=torch.randn(b, o, SIZES['feat']).tolist(), boxes=torch.rand(b, o, 4).tolist(), visMask=vmask.tolist(), sizes=SIZES)
        with torch.no_grad():
            case['logits'] = m(case_tensors(case)).tolist()
        sd = m.state_dict()
        torch.save(sd, f'{out}/model.pth')
        # As LXMERT's pretrained model_LXRT.pth: DataParallel prefix, encoder under bert.*, plus a pretraining head.
        pre = {'module.' + k[len('lxrt_encoder.model.'):]: v for k, v in sd.items() if k.startswith('lxrt_encoder.model.')}
        pre['module.cls.predictions.bias'] = torch.zeros(SIZES['vocab'])
        torch.save(pre, f'{out}/pretrained.pth')
        json.dump(case, open(f'{out}/case.json', 'w'))
    elif sys.argv[1] == 'run':
        m = VQA(SIZES).eval()
        m.load_state_dict(torch.load(sys.argv[2]), strict=True)
        case = json.load(open(f'{sys.argv[3]}/case.json'))
        with torch.no_grad():
            print(json.dumps(m(case_tensors(case)).tolist()))


if __name__ == '__main__':
    main()
