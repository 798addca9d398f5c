"""Baseline for bench/pth-load.ts (Debian python3-torch).
  pth_load.py make FILE   write a BERT-base-shaped float32 state dict (~440 MB) with torch.save
  pth_load.py load FILE   time torch.load of FILE; print JSON {seconds, peakRss, baseRss, tensors}
"""
import collections
import json
import resource
import sys
import time

import torch


def bert_base():
    h, inter, vocab, layers = 768, 3072, 30522, 12
    shapes = collections.OrderedDict()
    shapes['bert.embeddings.word_embeddings.weight'] = (vocab, h)
    shapes['bert.embeddings.position_embeddings.weight'] = (512, h)
    shapes['bert.embeddings.token_type_embeddings.weight'] = (2, h)
    shapes['bert.embeddings.LayerNorm.weight'] = (h,)
    shapes['bert.embeddings.LayerNorm.bias'] = (h,)
    for i in range(layers):
        p = 'bert.encoder.layer.%d.' % i
        for name in ('attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense'):
            shapes[p + name + '.weight'] = (h, h)
            shapes[p + name + '.bias'] = (h,)
        shapes[p + 'attention.output.LayerNorm.weight'] = (h,)
        shapes[p + 'attention.output.LayerNorm.bias'] = (h,)
        shapes[p + 'intermediate.dense.weight'] = (inter, h)
        shapes[p + 'intermediate.dense.bias'] = (inter,)
        shapes[p + 'output.dense.weight'] = (h, inter)
        shapes[p + 'output.dense.bias'] = (h,)
        shapes[p + 'output.LayerNorm.weight'] = (h,)
        shapes[p + 'output.LayerNorm.bias'] = (h,)
    shapes['bert.pooler.dense.weight'] = (h, h)
    shapes['bert.pooler.dense.bias'] = (h,)
    shapes['cls.predictions.transform.dense.weight'] = (h, h)
    shapes['cls.predictions.decoder.weight'] = (vocab, h)  # untied copy, to reach ~500 MB
    g = torch.Generator().manual_seed(0)
    return collections.OrderedDict((k, torch.randn(*s, generator=g) * 0.02) for k, s in shapes.items())


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == 'make':
        torch.save(bert_base(), path)
        return
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    sd = torch.load(path)
    seconds = time.perf_counter() - t0
    print(json.dumps({'seconds': seconds, 'peakRss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      'baseRss': base, 'tensors': len(sd), 'bytes': sum(t.numel() * t.element_size() for t in sd.values())}))


if __name__ == '__main__':
    main()
