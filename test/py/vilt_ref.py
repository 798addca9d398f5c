"""A small ViLT-shaped model in PyTorch (written for vlkit's parity test, same structure and parameter names as ViLT's
ViLTransformerSS): BERT text embeddings, modality-type embeddings, a timm-style pre-norm ViT with a conv patch
embedding and per-image bilinear (align_corners=True) position interpolation, pooler, ITM/MLM/VQA heads.

Usage: vilt_ref.py OUTDIR  -> OUTDIR/ref.ckpt ({'state_dict': ...}, Lightning-like) and OUTDIR/ref.json (inputs and
outputs as flat lists).
"""
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

D, HEADS, LAYERS, P, G, T, VOCAB, LABELS = 32, 2, 2, 16, 4, 8, 30522, 5


class TextEmbeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, D)
        self.position_embeddings = nn.Embedding(T, D)
        self.token_type_embeddings = nn.Embedding(2, D)
        self.LayerNorm = nn.LayerNorm(D, eps=1e-12)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1])[None]
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(torch.zeros_like(ids)))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)

    def forward(self, x, mask):
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1)) * (D // HEADS) ** -0.5
        att = att.masked_fill(~mask.bool()[:, None, None, :], float("-inf")).softmax(dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, n, D))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(D, 4 * D)
        self.fc2 = nn.Linear(4 * D, D)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(D, eps=1e-6)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(D, eps=1e-6)
        self.mlp = Mlp()

    def forward(self, x, mask):
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, D, kernel_size=P, stride=P)


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = PatchEmbed()
        self.cls_token = nn.Parameter(torch.randn(1, 1, D) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + G * G, D) * 0.02)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.norm = nn.LayerNorm(D, eps=1e-6)

    def visual_embed(self, img, pixel_mask):
        x = self.patch_embed.proj(img)  # [B, D, H/P, W/P]
        b, _, hh, ww = x.shape
        patch_mask = F.interpolate(pixel_mask[:, None].float(), size=(hh, ww)).long()[:, 0]
        hs = patch_mask[:, :, 0].sum(dim=1)
        ws = patch_mask[:, 0, :].sum(dim=1)
        grid = self.pos_embed[:, 1:, :].transpose(1, 2).view(1, D, G, G)
        pos = torch.cat([
            F.pad(F.interpolate(grid, size=(int(h), int(w)), mode="bilinear", align_corners=True), (0, ww - int(w), 0, hh - int(h)))
            for h, w in zip(hs, ws)
        ])
        x = (x + pos).flatten(2).transpose(1, 2)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(b, -1, -1)
        return torch.cat([cls, x], dim=1), torch.cat([torch.ones(b, 1, dtype=torch.long), patch_mask.flatten(1)], dim=1)


class Pooler(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(D, D)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class ITMHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(D, 2)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.text_embeddings = TextEmbeddings()
        self.token_type_embeddings = nn.Embedding(2, D)
        self.transformer = Transformer()
        self.pooler = Pooler()
        self.itm_score = ITMHead()
        self.vqa_classifier = nn.Sequential(nn.Linear(D, 2 * D), nn.LayerNorm(2 * D), nn.GELU(), nn.Linear(2 * D, LABELS))

    def forward(self, ids, text_mask, img, pixel_mask):
        text = self.text_embeddings(ids) + self.token_type_embeddings(torch.zeros_like(ids))
        image, image_mask = self.transformer.visual_embed(img, pixel_mask)
        image = image + self.token_type_embeddings(torch.ones_like(image_mask))
        x = torch.cat([text, image], dim=1)
        mask = torch.cat([text_mask, image_mask], dim=1)
        for blk in self.transformer.blocks:
            x = blk(x, mask)
        x = self.transformer.norm(x)
        cls = self.pooler(x)
        return x, cls, self.itm_score.fc(cls), self.vqa_classifier(cls)


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    model = Model().eval()
    # Non-trivial LayerNorm parameters so their import is checked too.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "norm" in name or name.startswith("vqa_classifier.1"):
                p.add_(torch.randn_like(p) * 0.1)
    torch.save({"state_dict": model.state_dict(), "epoch": 3, "global_step": 100}, f"{out}/ref.ckpt")
    ids = torch.tensor([[101, 1037, 2417, 4418, 102, 0, 0, 0], [101, 2045, 2003, 2028, 2630, 2675, 1012, 102]])
    text_mask = (ids != 0).long()
    img = torch.randn(2, 3, 64, 96)
    pixel_mask = torch.ones(2, 64, 96, dtype=torch.long)
    img[1, :, :, 64:] = 0  # second image is 64x64, padded on the right as ViLT's collate does
    pixel_mask[1, :, 64:] = 0
    with torch.no_grad():
        x, cls, itm, vqa = model(ids, text_mask, img, pixel_mask)
    json.dump({
        "ids": ids.flatten().tolist(), "text_mask": text_mask.flatten().tolist(),
        "img": img.flatten().tolist(), "features": x.flatten().tolist(), "cls": cls.flatten().tolist(),
        "itm": itm.flatten().tolist(), "vqa": vqa.flatten().tolist(),
    }, open(f"{out}/ref.json", "w"))
    print(json.dumps({"ok": True, "features": list(x.shape)}))


if __name__ == "__main__":
    main()
