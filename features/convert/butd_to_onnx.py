#!/usr/bin/env python3
"""Convert the bottom-up-attention Faster R-CNN (Caffe .caffemodel, or a PyTorch port's state dict) plus its test
prototxt into an ONNX detector meeting vlkit's contract (features/README.md, features/convert/README.md).

  python3 features/convert/butd_to_onnx.py --caffemodel resnet101_faster_rcnn_final_iter_320000.caffemodel \\
      --prototxt test.prototxt --out butd.onnx

Prints one JSON summary line on stdout; errors go to stderr with exit code 2 (bad input) or 3 (bug).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

EXIT_USAGE = 2


def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog='butd_to_onnx.py', description=__doc__.split('\n\n')[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument('--caffemodel', help='binary Caffe weights (NetParameter protobuf)')
    src.add_argument('--pth', help='state dict of a PyTorch port (.pth via torch.load, or .pkl of numpy arrays)')
    ap.add_argument('--prototxt', required=True, help='the test prototxt describing the layer graph')
    ap.add_argument('--out', required=True, help='ONNX file to write')
    ap.add_argument('--rois-in', action='store_true',
                    help='add a third input rois_in [R,5] (batch index, x1, y1, x2, y2 in resized pixels): given boxes '
                         'replace the RPN proposals, an empty [0,5] tensor keeps them')
    ap.add_argument('--opset', type=int, default=13, help='ONNX opset (default 13)')
    ap.add_argument('--trace-size', default='224,320', help='H,W of the dummy image used for tracing')
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    for p in (args.caffemodel or args.pth, args.prototxt):
        if not os.path.isfile(p):
            print(f'butd_to_onnx: error: {p}: no such file', file=sys.stderr)
            return EXIT_USAGE
    from caffe_net import NetError, plan_net
    from caffe_proto import CaffeModelError, read_caffemodel
    from prototxt import PrototxtError, read_prototxt

    try:
        net = read_prototxt(args.prototxt)
        if args.caffemodel:
            weights, weights_path = read_caffemodel(args.caffemodel), args.caffemodel
        else:
            from pth_names import read_port_state_dict  # torch.load for .pth files
            weights, weights_path = read_port_state_dict(args.pth, net, args.prototxt), args.pth
        plan = plan_net(net, args.prototxt, weights, weights_path)
    except (NetError, CaffeModelError, PrototxtError) as e:
        print(f'butd_to_onnx: error: {e}', file=sys.stderr)
        return EXIT_USAGE
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        print(f'butd_to_onnx: error: {e.name} is not installed for {sys.executable} (Debian: apt-get install '
              'python3-torch python3-onnx)', file=sys.stderr)
        return EXIT_USAGE
    from export import export_onnx
    h, w = (int(v) for v in args.trace_size.split(','))
    summary = export_onnx(plan, args.out, rois_in=args.rois_in, opset=args.opset, trace_hw=(h, w))
    summary['weights'] = weights_path
    print(json.dumps(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
