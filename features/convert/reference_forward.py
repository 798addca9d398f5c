#!/usr/bin/env python3
"""Run the PyTorch reference forward (Caffe semantics layer by layer, see torch_net.py) of a caffemodel +
prototxt on raw float32 inputs, writing each output as raw little-endian float32 plus shapes.json. The converter
test compares onnxruntime's outputs of the exported model against these.

  python3 features/convert/reference_forward.py --caffemodel M --prototxt P --image x.f32 --shape 1,3,H,W \\
      --im-info H,W,SCALE [--rois-in rois.f32] --out DIR
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--caffemodel', required=True)
    ap.add_argument('--prototxt', required=True)
    ap.add_argument('--image', required=True, help='raw float32 image tensor')
    ap.add_argument('--shape', required=True, help='1,3,H,W')
    ap.add_argument('--im-info', required=True, help='H,W,SCALE')
    ap.add_argument('--rois-in', help='raw float32 [R,5] boxes replacing the proposals')
    ap.add_argument('--out', required=True)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from caffe_net import plan_net
    from caffe_proto import read_caffemodel
    from prototxt import read_prototxt
    from torch_net import CaffeDetector

    rois_in = args.rois_in is not None
    plan = plan_net(read_prototxt(args.prototxt), args.prototxt, read_caffemodel(args.caffemodel), args.caffemodel)
    model = CaffeDetector(plan, reference=True, rois_in=rois_in).eval()
    shape = [int(v) for v in args.shape.split(',')]
    image = torch.from_numpy(np.fromfile(args.image, dtype='<f4').reshape(shape))
    im_info = torch.tensor([[float(v) for v in args.im_info.split(',')]], dtype=torch.float32)
    inputs = [image, im_info]
    if rois_in:
        inputs.append(torch.from_numpy(np.fromfile(args.rois_in, dtype='<f4').reshape(-1, 5)))
    with torch.no_grad():
        outs = model(*inputs)
    os.makedirs(args.out, exist_ok=True)
    shapes = {}
    for name, t in zip(plan.outputs.keys(), outs):
        arr = t.numpy().astype('<f4')
        arr.tofile(os.path.join(args.out, f'{name}.f32'))
        shapes[name] = list(arr.shape)
    with open(os.path.join(args.out, 'shapes.json'), 'w') as f:
        json.dump(shapes, f)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
