#!/usr/bin/env python3
"""Write a tiny randomly initialised bottom-up-attention-style detector: a .prototxt in the layout of BUTD's
models/vg/ResNet-101/faster_rcnn_end2end_final/test.prototxt (conv+BatchNorm+Scale, Caffe ResNet bottlenecks
with the stride on the 1x1 conv, RPN with softmax reshapes, Python ProposalLayer, ROIPooling 14x14 at 1/16, a
dilated res5 block, global average pool5, cls_score/bbox_pred, ArgMax -> Embed attribute head) and a matching
.caffemodel serialized with caffe_proto.py. Used by test/convert-detector.test.ts to check the converter.

  python3 features/convert/tiny_net.py --out DIR [--seed 1] [--pth]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from caffe_proto import CaffeLayer, write_caffemodel  # noqa: E402

NUM_CLASSES = 11
NUM_ATTRS = 5


class Builder:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.text: list[str] = []
        self.weights: list[CaffeLayer] = []
        self.channels: dict[str, int] = {'data': 3}

    def layer(self, name, ltype, bottoms, tops, body='', blobs=None):
        lines = ['layer {', f'  name: "{name}"', f'  type: "{ltype}"']
        lines += [f'  bottom: "{b}"' for b in bottoms] + [f'  top: "{t}"' for t in tops]
        if body:
            lines.append('  ' + body)
        lines.append('}')
        self.text.append('\n'.join(lines))
        if blobs:
            self.weights.append(CaffeLayer(name, ltype, [b.astype(np.float32) for b in blobs]))

    def conv(self, name, bottom, top, cout, k, stride=1, pad=0, dilation=1, bias=False, std=None):
        cin = self.channels[bottom]
        std = std if std is not None else np.sqrt(2.0 / (cin * k * k))
        blobs = [self.rng.normal(0, std, (cout, cin, k, k))]
        if bias:
            blobs.append(self.rng.normal(0, 0.1, (cout,)))
        extra = f' dilation: {dilation}' if dilation != 1 else ''
        self.layer(name, 'Convolution', [bottom], [top],
                   f'convolution_param {{ num_output: {cout} kernel_size: {k} pad: {pad} stride: {stride}{extra} '
                   f'bias_term: {"true" if bias else "false"} }}', blobs)
        self.channels[top] = cout

    def bn_scale(self, suffix, blob):
        c = self.channels[blob]
        factor = 0.999  # Caffe's moving-average normaliser: stored mean/var are divided by it
        mean = self.rng.normal(0, 0.2, c) * factor
        var = self.rng.uniform(0.5, 1.5, c) * factor
        self.layer(f'bn{suffix}', 'BatchNorm', [blob], [blob], 'batch_norm_param { use_global_stats: true }',
                   [mean, var, np.array([factor])])
        self.layer(f'scale{suffix}', 'Scale', [blob], [blob], 'scale_param { bias_term: true }',
                   [self.rng.uniform(0.5, 1.5, c), self.rng.normal(0, 0.1, c)])

    def relu(self, blob, name=None):
        self.layer(name or f'{blob}_relu', 'ReLU', [blob], [blob])

    def bottleneck(self, name, bottom, mid, cout, stride, project, dilation=1):
        """Caffe ResNet bottleneck res{name}: branch2a 1x1 (carrying the stride), 2b 3x3, 2c 1x1, + shortcut."""
        top = f'res{name}'
        if project:
            self.conv(f'res{name}_branch1', bottom, f'res{name}_branch1', cout, 1, stride)
            self.bn_scale(f'{name}_branch1', f'res{name}_branch1')
            shortcut = f'res{name}_branch1'
        else:
            shortcut = bottom
        a, b, c = (f'res{name}_branch2{x}' for x in 'abc')
        self.conv(a, bottom, a, mid, 1, stride)
        self.bn_scale(f'{name}_branch2a', a)
        self.relu(a)
        self.conv(b, a, b, mid, 3, 1, pad=dilation, dilation=dilation)
        self.bn_scale(f'{name}_branch2b', b)
        self.relu(b)
        self.conv(c, b, c, cout, 1)
        self.bn_scale(f'{name}_branch2c', c)
        self.layer(top, 'Eltwise', [shortcut, c], [top])
        self.channels[top] = cout
        self.relu(top)

    def inner(self, name, bottom, top, n, dim, std):
        self.layer(name, 'InnerProduct', [bottom], [top], f'inner_product_param {{ num_output: {n} }}',
                   [self.rng.normal(0, std, (n, dim)), self.rng.normal(0, std, (n,))])


def build(seed: int) -> tuple[str, list[CaffeLayer]]:
    b = Builder(np.random.default_rng(seed))
    b.conv('conv1', 'data', 'conv1', 8, 7, 2, pad=3, std=0.0015)  # ~unit activations for pixel values of +-60
    b.bn_scale('_conv1', 'conv1')
    b.relu('conv1')
    b.layer('pool1', 'Pooling', ['conv1'], ['pool1'], 'pooling_param { kernel_size: 3 stride: 2 pool: MAX }')
    b.channels['pool1'] = 8
    b.bottleneck('2a', 'pool1', 4, 16, 1, True)
    b.bottleneck('3a', 'res2a', 6, 24, 2, True)
    b.bottleneck('4a', 'res3a', 8, 32, 2, True)
    b.bottleneck('4b1', 'res4a', 8, 32, 1, False)
    a = 12  # 3 ratios x 4 scales, as BUTD
    b.conv('rpn_conv/3x3', 'res4b1', 'rpn/output', 16, 3, 1, pad=1, bias=True)
    b.relu('rpn/output', 'rpn_relu/3x3')
    b.conv('rpn_cls_score', 'rpn/output', 'rpn_cls_score', 2 * a, 1, bias=True, std=0.5)
    b.conv('rpn_bbox_pred', 'rpn/output', 'rpn_bbox_pred', 4 * a, 1, bias=True, std=0.05)
    b.layer('rpn_cls_score_reshape', 'Reshape', ['rpn_cls_score'], ['rpn_cls_score_reshape'],
            'reshape_param { shape { dim: 0 dim: 2 dim: -1 dim: 0 } }')
    b.layer('rpn_cls_prob', 'Softmax', ['rpn_cls_score_reshape'], ['rpn_cls_prob'])
    b.layer('rpn_cls_prob_reshape', 'Reshape', ['rpn_cls_prob'], ['rpn_cls_prob_reshape'],
            f'reshape_param {{ shape {{ dim: 0 dim: {2 * a} dim: -1 dim: 0 }} }}')
    b.layer('proposal', 'Python', ['rpn_cls_prob_reshape', 'rpn_bbox_pred', 'im_info'], ['rois'],
            'python_param { module: \'rpn.proposal_layer\' layer: \'ProposalLayer\' '
            'param_str: "\'feat_stride\': 16 \\n\'scales\': !!python/tuple [4, 8, 16, 32]" }')
    b.layer('roi_pool5', 'ROIPooling', ['res4b1', 'rois'], ['roipool5'],
            'roi_pooling_param { pooled_w: 14 pooled_h: 14 spatial_scale: 0.0625 }')
    b.channels['roipool5'] = 32
    b.bottleneck('5a', 'roipool5', 10, 40, 1, True, dilation=2)
    b.layer('pool5', 'Pooling', ['res5a'], ['pool5'], 'pooling_param { global_pooling: true pool: AVE }')
    b.layer('pool5_flat', 'Flatten', ['pool5'], ['pool5_flat'], 'flatten_param { axis: 1 }')
    b.inner('cls_score', 'pool5', 'cls_score', NUM_CLASSES, 40, 0.05)
    b.inner('bbox_pred', 'pool5', 'bbox_pred', 4 * NUM_CLASSES, 40, 0.01)
    b.layer('cls_prob', 'Softmax', ['cls_score'], ['cls_prob'])
    b.layer('predicted_cls', 'ArgMax', ['cls_score'], ['predicted_cls'], 'argmax_param { axis: 1 }')
    b.layer('cls_embedding', 'Embed', ['predicted_cls'], ['cls_embedding'],
            f'embed_param {{ num_output: 6 input_dim: {NUM_CLASSES} bias_term: false }}',
            [b.rng.normal(0, 0.5, (NUM_CLASSES, 6))])
    b.layer('cls_embedding_flat', 'Flatten', ['cls_embedding'], ['cls_embedding_flat'], 'flatten_param { axis: 1 }')
    b.layer('concat_pool5', 'Concat', ['pool5_flat', 'cls_embedding_flat'], ['concat_pool5'],
            'concat_param { axis: 1 }')
    b.inner('fc_attr', 'concat_pool5', 'fc_attr', 8, 46, 0.3)
    b.relu('fc_attr', 'relu_attr')
    b.inner('attr_score', 'fc_attr', 'attr_score', NUM_ATTRS, 8, 0.2)
    b.layer('attr_prob', 'Softmax', ['attr_score'], ['attr_prob'])
    header = ('name: "TinyBUTD"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 224 dim: 224 }\n'
              'input: "im_info"\ninput_shape { dim: 1 dim: 3 }\n\n')
    return header + '\n\n'.join(b.text) + '\n', b.weights


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', required=True, help='directory for tiny.prototxt and tiny.caffemodel')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--pth', action='store_true', help='also write tiny.pth with the PyTorch-port parameter names')
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    text, weights = build(args.seed)
    with open(os.path.join(args.out, 'tiny.prototxt'), 'w') as f:
        f.write(text)
    write_caffemodel(os.path.join(args.out, 'tiny.caffemodel'), 'TinyBUTD', weights)
    if args.pth:
        import torch
        from pth_names import to_port_state_dict
        torch.save(to_port_state_dict(weights), os.path.join(args.out, 'tiny.pth'))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
