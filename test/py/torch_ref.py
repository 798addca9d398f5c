"""Reference side of test/weights-pth.test.ts, run with Debian's python3-torch in ONE process (torch import is slow).

usage: torch_ref.py DIR
  1. Checks what the TypeScript side wrote into DIR: ts.pth (torch.load must give an OrderedDict equal to
     ts-expect.json) and ts.safetensors (parsed here by hand: u64 header length, JSON, raw bytes).
  2. Writes reference checkpoints into DIR for the TypeScript reader, plus manifest.json with every tensor's dtype,
     shape and contiguous bytes (base64), and float32 bytes for half types (to check the widening).
Prints one JSON object {"ts_checks": [...], "errors": [...]} on stdout.
"""
import argparse
import base64
import collections
import json
import os
import struct
import sys

import torch

DTYPES = {
    'float64': torch.float64, 'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16,
    'int64': torch.int64, 'int32': torch.int32, 'int16': torch.int16, 'int8': torch.int8, 'uint8': torch.uint8,
    'bool': torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}
SAFE_CODES = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
              'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8,
              'BOOL': torch.bool}


def raw(t):
    """Contiguous bytes of a tensor in row-major order, whatever its strides."""
    flat = t.contiguous().reshape(-1)
    if flat.numel() == 0:
        return b''
    return bytes(flat.view(torch.uint8).numpy().tobytes())


def b64(b):
    return base64.b64encode(b).decode('ascii')


def check_ts(d, errors, checks):
    expect = json.load(open(os.path.join(d, 'ts-expect.json')))
    sd = torch.load(os.path.join(d, 'ts.pth'))
    if type(sd) is not collections.OrderedDict:
        errors.append('ts.pth: torch.load gave %s, not OrderedDict' % type(sd).__name__)
    if list(sd.keys()) != [e['name'] for e in expect]:
        errors.append('ts.pth: keys %r differ from %r' % (list(sd.keys()), [e['name'] for e in expect]))
    for e in expect:
        t = sd.get(e['name'])
        if t is None:
            continue
        if NAMES[t.dtype] != e['dtype'] or list(t.shape) != e['shape'] or not t.is_contiguous():
            errors.append('ts.pth %s: got %s %s' % (e['name'], t.dtype, list(t.shape)))
        elif raw(t) != base64.b64decode(e['data']):
            errors.append('ts.pth %s: values differ' % e['name'])
    # Values decoded by torch itself, asserted by the TypeScript side against what it meant to write.
    checks.append({'file': 'ts.pth', 'values': {k: v.float().tolist() if v.dtype in (torch.float16, torch.bfloat16) else v.tolist()
                                                for k, v in sd.items() if v.numel() <= 8}})
    # safetensors, parsed without the safetensors package
    blob = open(os.path.join(d, 'ts.safetensors'), 'rb').read()
    (n,) = struct.unpack('<Q', blob[:8])
    header = json.loads(blob[8:8 + n])
    if n % 8:
        errors.append('ts.safetensors: header length %d not 8-aligned' % n)
    meta = header.pop('__metadata__', {})
    values = {}
    for e in expect:
        h = header.get(e['name'])
        if h is None:
            errors.append('ts.safetensors: %s missing' % e['name'])
            continue
        b, end = h['data_offsets']
        data = blob[8 + n + b:8 + n + end]
        if data != base64.b64decode(e['data']) or h['shape'] != e['shape'] or SAFE_CODES[h['dtype']] != DTYPES[e['dtype']]:
            errors.append('ts.safetensors %s: differs' % e['name'])
        if h['shape'] and 0 < len(data) <= 64 and h['dtype'] not in ('BF16', 'BOOL'):
            values[e['name']] = torch.frombuffer(bytearray(data), dtype=SAFE_CODES[h['dtype']]).tolist()
    checks.append({'file': 'ts.safetensors', 'metadata': meta, 'values': values})


def reference_tensors():
    g = torch.Generator().manual_seed(0)
    sd = collections.OrderedDict()
    sd['linear.weight'] = torch.randn(4, 6, generator=g)
    sd['linear.bias'] = torch.tensor([float('inf'), float('-inf'), float('nan'), -0.0])
    sd['f64'] = torch.randn(3, generator=g, dtype=torch.float64)
    sd['f16'] = torch.tensor([1.5, -2.0, 65504.0, 6e-8, float('inf')], dtype=torch.float16)
    sd['bf16'] = torch.randn(2, 3, generator=g).to(torch.bfloat16)
    sd['i64'] = torch.tensor([-2 ** 62, 2 ** 53 + 1, -1, 0], dtype=torch.int64)
    sd['i32'] = torch.tensor([[-2 ** 31, 2 ** 31 - 1]], dtype=torch.int32)
    sd['i16'] = torch.tensor([-300, 300], dtype=torch.int16)
    sd['i8'] = torch.tensor([-128, 127], dtype=torch.int8)
    sd['u8'] = torch.arange(250, 256, dtype=torch.uint8)
    sd['mask'] = torch.tensor([True, False, True])
    sd['scalar'] = torch.tensor(2.5)
    sd['step'] = torch.tensor(7, dtype=torch.int64)
    sd['empty'] = torch.zeros(0, 3)
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    sd['transposed'] = base.t()  # strides (1, 10)
    sd['sliced'] = base[1::2, 2:9:3]  # offset 12, strides (20, 3)
    sd['row_view'] = base[4]  # shares base's storage at offset 40
    sd['base'] = base
    sd['expanded'] = torch.tensor([1.0, 2.0, 3.0]).expand(4, 3)  # stride 0
    sd['half_t'] = torch.arange(12, dtype=torch.float16).reshape(3, 4).t()
    sd['param'] = torch.nn.Parameter(torch.ones(2, 2))  # pickled through _rebuild_parameter
    return sd


def manifest_of(sd):
    out = {}
    for k, t in sd.items():
        t = t.detach()
        e = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data': b64(raw(t))}
        if t.dtype in (torch.float16, torch.bfloat16):
            e['float32'] = b64(raw(t.float()))
        out[k] = e
    return out


def write_refs(d):
    sd = reference_tensors()
    manifest = {'tensors': manifest_of(sd)}
    torch.save(sd, os.path.join(d, 'ref.pth'))
    torch.save(sd, os.path.join(d, 'ref-legacy.pth'), _use_new_zipfile_serialization=False)
    small = collections.OrderedDict((k, sd[k]) for k in ('linear.weight', 'linear.bias', 'mask'))
    torch.save({'model': small, 'epoch': 3}, os.path.join(d, 'nested.pth'))
    torch.save(collections.OrderedDict(('module.' + k, v) for k, v in small.items()), os.path.join(d, 'dataparallel.pth'))
    optimizer = torch.optim.AdamW([torch.nn.Parameter(sd['linear.weight'].clone())], lr=1e-4)
    optimizer.zero_grad()
    optimizer.param_groups[0]['params'][0].sum().backward()
    optimizer.step()
    ckpt = {
        'epoch': 5, 'global_step': 1000, 'pytorch-lightning_version': '1.9.0',
        'state_dict': small,
        'optimizer_states': [optimizer.state_dict()],
        'lr_schedulers': [{'last_epoch': -1, 'base_lrs': [1e-4]}],
        'hyper_parameters': {'config': {'lr': 1e-4, 'betas': (0.9, 0.98), 'tags': {'a', 'b'}}, 'big': -2 ** 40,
                             'huge': 2 ** 70, 'blob': b'\x00\xffab', 'ns': argparse.Namespace(seed=1, name='vilt'),
                             'none': None, 'text': 'caf\u00e9'},
        'callbacks': {'ModelCheckpoint': {'best_model_score': torch.tensor(0.71)}},
    }
    torch.save(ckpt, os.path.join(d, 'lightning.ckpt'))
    manifest['lightning'] = {'epoch': 5, 'global_step': 1000, 'big': -2 ** 40, 'huge': str(2 ** 70),
                             'exp_avg': b64(raw(optimizer.state_dict()['state'][0]['exp_avg']))}
    # safetensors written by hand (independent of the TypeScript writer)
    header, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0
    for k in ('linear.weight', 'f16', 'bf16', 'i64', 'mask', 'scalar', 'empty', 'transposed'):
        t = sd[k]
        b = raw(t)
        code = [c for c, dt in SAFE_CODES.items() if dt == t.dtype][0]
        header[k] = {'dtype': code, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header).encode()
    hj += b' ' * ((8 - len(hj) % 8) % 8)
    with open(os.path.join(d, 'ref.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(hj)) + hj + b''.join(blobs))
    with open(os.path.join(d, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('dir')
    a = p.parse_args()
    errors, checks = [], []
    if os.path.exists(os.path.join(a.dir, 'ts.pth')):
        check_ts(a.dir, errors, checks)
    write_refs(a.dir)
    json.dump({'torch': torch.__version__, 'ts_checks': checks, 'errors': errors}, sys.stdout)


if __name__ == '__main__':
    main()
