"""torch.onnx export of a planned Caffe detector with the vlkit contract's input/output names."""
from __future__ import annotations

import os
import secrets
import warnings

import torch

from caffe_net import NetPlan
from torch_net import CaffeDetector

INPUTS = ('image', 'im_info')


def export_onnx(plan: NetPlan, out: str, rois_in: bool = False, opset: int = 13,
                trace_hw: tuple[int, int] = (224, 320)) -> dict:
    model = CaffeDetector(plan, reference=False, rois_in=rois_in).eval()
    h, w = trace_hw
    gen = torch.Generator().manual_seed(0)
    image = torch.randn((1, 3, h, w), generator=gen) * 50
    im_info = torch.tensor([[h, w, 1.0]], dtype=torch.float32)
    args: tuple = (image, im_info)
    input_names = list(INPUTS)
    dynamic = {'image': {2: 'height', 3: 'width'}}
    if rois_in:
        args += (torch.tensor([[0, 0, 0, w - 1, h - 1], [0, w / 4, h / 4, w / 2, h / 2]], dtype=torch.float32),)
        input_names.append('rois_in')
        dynamic['rois_in'] = {0: 'num_rois'}
    output_names = list(plan.outputs.keys())
    for name in output_names:
        dynamic[name] = {0: 'num_rois'}
    tmp = f'{out}.tmp-{os.getpid()}-{secrets.token_hex(4)}'
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch 1.13 flags g.op() in custom symbolics as deprecated (FutureWarning) and warns about traced shape
            # arithmetic (TracerWarning); both are expected here and would only bury the summary.
            warnings.simplefilter('ignore')
            torch.onnx.export(model, args, tmp, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True)
        import onnx
        onnx.checker.check_model(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    info = plan.blob_info
    return {
        'out': out,
        'inputs': input_names,
        'outputs': output_names,
        'classes': info['cls_prob'].channels,
        'attributes': info['attr_prob'].channels if 'attr_prob' in plan.outputs else 0,
        'feature_dim': info['pool5_flat'].channels,
        'weight_layers': plan.weight_layers,
        'parameters': plan.parameters,
        'unused_weight_layers': plan.unused_weights,
        'proposal': None if plan.proposal is None else {
            'feat_stride': plan.proposal.feat_stride, 'scales': list(plan.proposal.scales),
            'pre_nms_top_n': plan.proposal.pre_nms_top_n, 'post_nms_top_n': plan.proposal.post_nms_top_n,
            'nms_thresh': plan.proposal.nms_thresh, 'min_size': plan.proposal.min_size,
        },
    }
