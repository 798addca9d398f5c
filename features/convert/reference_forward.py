#!/usr/bin/env python3
"""Run the PyTorch reference forward (Caffe semantics layer by layer, see torch_net.py) of a caffemodel +
prototxt on raw float32 inputs, writing each output as raw little-endian float32 plus shapes.json. The converter
test compares onnxruntime's outputs of the exported model against these.

  python3 features/convert/reference_forward.py --caffemodel M --prototxt P --image x.f32 --shape 1,3,H,W \\
      --im-info H,W,SCALE [--rois-in rois.f32] --out DIR
  python3 features/convert/reference_forward.py --caffemodel M --prototxt P --jobs jobs.json

jobs.json lists several such cases ({"image", "shape", "im_info", "rois_in"?, "out"}), run in one process so
PyTorch is imported once.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _csv(text: str, kind=float) -> list:
    return [kind(v) for v in text.split(',')]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--caffemodel', required=True)
    ap.add_argument('--prototxt', required=True)
    ap.add_argument('--jobs', help='JSON list of cases (instead of the single-case flags below)')
    ap.add_argument('--image', help='raw float32 image tensor')
    ap.add_argument('--shape', help='1,3,H,W')
    ap.add_argument('--im-info', help='H,W,SCALE')
    ap.add_argument('--rois-in', help='raw float32 [R,5] boxes replacing the proposals')
    ap.add_argument('--out', help='output directory')
    args = ap.parse_args(argv)
    if args.jobs:
        with open(args.jobs) as f:
            cases = json.load(f)
    elif args.image and args.shape and args.im_info and args.out:
        cases = [{'image': args.image, 'shape': args.shape, 'im_info': args.im_info, 'rois_in': args.rois_in,
                  'out': args.out}]
    else:
        ap.error('give --jobs, or --image, --shape, --im-info and --out')

    import numpy as np
    import torch

    from caffe_net import plan_net
    from caffe_proto import read_caffemodel
    from prototxt import read_prototxt
    from torch_net import CaffeDetector

    plan = plan_net(read_prototxt(args.prototxt), args.prototxt, read_caffemodel(args.caffemodel), args.caffemodel)
    models = {flag: CaffeDetector(plan, reference=True, rois_in=flag).eval() for flag in (False, True)}
    for case in cases:
        image = torch.from_numpy(np.fromfile(case['image'], dtype='<f4').reshape(_csv(case['shape'], int)))
        inputs = [image, torch.tensor([_csv(case['im_info'])], dtype=torch.float32)]
        if case.get('rois_in'):
            inputs.append(torch.from_numpy(np.fromfile(case['rois_in'], dtype='<f4').reshape(-1, 5)))
        with torch.no_grad():
            outs = models[len(inputs) == 3](*inputs)
        os.makedirs(case['out'], exist_ok=True)
        shapes = {}
        for name, t in zip(plan.outputs.keys(), outs):
            arr = t.numpy().astype('<f4')
            arr.tofile(os.path.join(case['out'], f'{name}.f32'))
            shapes[name] = list(arr.shape)
        with open(os.path.join(case['out'], 'shapes.json'), 'w') as f:
            json.dump(shapes, f)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
