"""A small BERT-shaped state dict for vlkit's `model.load_bert` test (test/lxmert-bert-init.test.ts).

Written for vlkit: the parameter names of a Hugging Face / Google `bert-base-uncased` pytorch_model.bin
(BertForPreTraining: bert.embeddings.*, bert.encoder.layer.N.*, bert.pooler.*, cls.predictions.*, cls.seq_relationship.*),
with the old-style LayerNorm names (gamma/beta) that file uses, the int64 position_ids buffer newer files carry, and the
LM decoder tied to the word embeddings. Values are seeded random numbers at BERT's init scale (std 0.02). Usage (Debian /usr/bin/python3-torch):
  bert_ref.py OUT.bin VOCAB HIDDEN INTER LAYERS MAX_POS
"""
import collections
import sys

import torch

out, vocab, hidden, inter, layers, max_pos = sys.argv[1], *map(int, sys.argv[2:7])
torch.manual_seed(7)
sd = collections.OrderedDict()


def randn(*shape):
    return 0.02 * torch.randn(*shape)


def linear(name, i, o):
    sd[f'{name}.weight'] = randn(o, i)  # PyTorch layout [out, in]
    sd[f'{name}.bias'] = randn(o)


def norm(name):
    sd[f'{name}.gamma'] = 1 + randn(hidden)
    sd[f'{name}.beta'] = randn(hidden)


sd['bert.embeddings.word_embeddings.weight'] = randn(vocab, hidden)
sd['bert.embeddings.position_embeddings.weight'] = randn(max_pos, hidden)
sd['bert.embeddings.token_type_embeddings.weight'] = randn(2, hidden)
sd['bert.embeddings.position_ids'] = torch.arange(max_pos).unsqueeze(0)
norm('bert.embeddings.LayerNorm')
for n in range(layers):
    p = f'bert.encoder.layer.{n}'
    for m in ('query', 'key', 'value'):
        linear(f'{p}.attention.self.{m}', hidden, hidden)
    linear(f'{p}.attention.output.dense', hidden, hidden)
    norm(f'{p}.attention.output.LayerNorm')
    linear(f'{p}.intermediate.dense', hidden, inter)
    linear(f'{p}.output.dense', inter, hidden)
    norm(f'{p}.output.LayerNorm')
linear('bert.pooler.dense', hidden, hidden)
linear('cls.predictions.transform.dense', hidden, hidden)
norm('cls.predictions.transform.LayerNorm')
sd['cls.predictions.bias'] = randn(vocab)
sd['cls.predictions.decoder.weight'] = sd['bert.embeddings.word_embeddings.weight']
linear('cls.seq_relationship', hidden, 2)
torch.save(sd, out)
