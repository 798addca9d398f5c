"""Map a PyTorch port's state dict onto the Caffe layer names of the BUTD test prototxt.

The name scheme is MILVLG/bottom-up-attention.pytorch's (detectron2 modules, weights migrated from the Caffe
model, e.g. bua-caffe-frcn-r101_with_attributes.pth), read from that project's source:

  conv1 / bn_conv1 + scale_conv1            backbone.stem.conv1.weight / backbone.stem.conv1.norm.*
  res{s}{blk}_branch2{a,b,c}                {backbone|roi_heads}.res{s}.{i}.conv{1,2,3}.weight  (.norm.*)
  res{s}{blk}_branch1                       {backbone|roi_heads}.res{s}.{i}.shortcut.weight      (.norm.*)
  rpn_conv/3x3, rpn_cls_score, rpn_bbox_pred proposal_generator.rpn_head.{conv,objectness_logits,anchor_deltas}.*
  cls_score, bbox_pred                      roi_heads.box_predictor.{cls_score,bbox_pred}.*
  cls_embedding, fc_attr, attr_score        roi_heads.box_predictor.{cls_embed,attr_linear1,attr_linear2}.*

where i is the block's position within its stage in the prototxt (res4a -> 0, res4b1 -> 1, ...) and res5 lives
under roi_heads. A frozen batch norm (weight, bias, running_mean, running_var) becomes a Caffe BatchNorm (mean,
var, scale factor 1) followed by a Scale (weight, bias), so the prototxt's eps applies. The same scheme names
detectron2 pickles ({'model': {name: numpy array}}), such as airsplay/py-bottom-up-attention's.
"""
from __future__ import annotations

import pickle
import re

import numpy as np

from caffe_net import NetError
from caffe_proto import CaffeLayer
from prototxt import Msg

_BLOCK = re.compile(r'^res(\d)([a-z]\d*)_branch(1|2[abc])$')
_BRANCH = {'1': 'shortcut', '2a': 'conv1', '2b': 'conv2', '2c': 'conv3'}
_FIXED = {
    'conv1': 'backbone.stem.conv1',
    'rpn_conv/3x3': 'proposal_generator.rpn_head.conv',
    'rpn_cls_score': 'proposal_generator.rpn_head.objectness_logits',
    'rpn_bbox_pred': 'proposal_generator.rpn_head.anchor_deltas',
    'cls_score': 'roi_heads.box_predictor.cls_score',
    'bbox_pred': 'roi_heads.box_predictor.bbox_pred',
    'cls_embedding': 'roi_heads.box_predictor.cls_embed',
    'fc_attr': 'roi_heads.box_predictor.attr_linear1',
    'attr_score': 'roi_heads.box_predictor.attr_linear2',
}


def _block_index(conv_names: list[str]) -> dict[tuple[str, str], int]:
    """(stage, block) -> position of the block within its stage, in prototxt order."""
    index: dict[tuple[str, str], int] = {}
    for name in conv_names:
        m = _BLOCK.match(name)
        if m:
            key = (m.group(1), m.group(2))
            if key not in index:
                index[key] = sum(1 for s, _ in index if s == key[0])
    return index


def _conv_prefix(conv: str, index: dict[tuple[str, str], int]) -> str | None:
    if conv in _FIXED:
        return _FIXED[conv]
    m = _BLOCK.match(conv)
    if not m:
        return None
    stage, block, branch = m.groups()
    root = 'roi_heads' if stage == '5' else 'backbone'
    return f'{root}.res{stage}.{index[(stage, block)]}.{_BRANCH[branch]}'


def _norm_owner(layer_name: str) -> str | None:
    """The convolution a BatchNorm/Scale layer normalises: bn_conv1 -> conv1, scale4b3_branch2a -> res4b3_branch2a."""
    m = re.match(r'^(?:bn|scale)(_conv1|\d[a-z]\d*_branch(?:1|2[abc]))$', layer_name)
    if not m:
        return None
    rest = m.group(1)
    return 'conv1' if rest == '_conv1' else f'res{rest}'


def _load(path: str) -> dict[str, np.ndarray]:
    if path.endswith('.pkl'):
        with open(path, 'rb') as f:
            obj = pickle.load(f, encoding='latin1')
    else:
        import torch
        obj = torch.load(path, map_location='cpu')
    if isinstance(obj, dict) and 'model' in obj and isinstance(obj['model'], dict):
        obj = obj['model']
    if not isinstance(obj, dict):
        raise NetError(f'{path}: expected a state dict (name -> tensor), got {type(obj).__name__}')
    out = {}
    for k, v in obj.items():
        key = k[len('module.'):] if k.startswith('module.') else k
        out[key] = v.detach().cpu().numpy() if hasattr(v, 'detach') else np.asarray(v)
    return out


def read_port_state_dict(path: str, net: Msg, prototxt_path: str) -> list[CaffeLayer]:
    """The port's tensors as Caffe layers named after the prototxt, ready for caffe_net.plan_net."""
    state = _load(path)
    layers = net.all('layer')
    index = _block_index([l.get1('name', '') for l in layers if l.get1('type') == 'Convolution'])

    def take(key: str, layer: str) -> np.ndarray:
        if key not in state:
            near = sorted(k for k in state if k.split('.')[:2] == key.split('.')[:2])[:5]
            raise NetError(f'{path}: no tensor "{key}" for layer "{layer}" of {prototxt_path}'
                           + (f' (similar: {", ".join(near)})' if near else ''))
        return np.asarray(state[key], dtype=np.float32)

    out: list[CaffeLayer] = []
    for l in layers:
        name, ltype = l.get1('name', ''), l.get1('type', '')
        if ltype in ('Convolution', 'InnerProduct', 'Embed'):
            prefix = _conv_prefix(name, index)
            if prefix is None:
                raise NetError(f'{prototxt_path}:{l.line}: layer "{name}" has no known name in the PyTorch port')
            blobs = [take(f'{prefix}.weight', name)]
            if f'{prefix}.bias' in state:
                blobs.append(take(f'{prefix}.bias', name))
            out.append(CaffeLayer(name, ltype, blobs))
        elif ltype in ('BatchNorm', 'Scale'):
            owner = _norm_owner(name)
            prefix = _conv_prefix(owner, index) if owner else None
            if prefix is None:
                raise NetError(f'{prototxt_path}:{l.line}: layer "{name}" has no known name in the PyTorch port')
            norm = f'{prefix}.norm'
            if ltype == 'BatchNorm':
                blobs = [take(f'{norm}.running_mean', name), take(f'{norm}.running_var', name), np.ones(1, np.float32)]
            else:
                blobs = [take(f'{norm}.weight', name), take(f'{norm}.bias', name)]
            out.append(CaffeLayer(name, ltype, blobs))
    return out


def to_port_state_dict(weights: list[CaffeLayer]) -> dict:
    """The inverse mapping, to write test checkpoints in the port's layout (torch tensors)."""
    import torch
    index = _block_index([w.name for w in weights if w.type == 'Convolution'])
    by_name = {w.name: w for w in weights}
    state = {}
    for w in weights:
        if w.type in ('Convolution', 'InnerProduct', 'Embed'):
            prefix = _conv_prefix(w.name, index)
            state[f'{prefix}.weight'] = torch.from_numpy(w.blobs[0])
            if len(w.blobs) > 1:
                state[f'{prefix}.bias'] = torch.from_numpy(w.blobs[1])
        elif w.type == 'BatchNorm':
            owner = _norm_owner(w.name)
            norm = f'{_conv_prefix(owner, index)}.norm'
            f = float(w.blobs[2][0])
            scale = by_name[w.name.replace('bn', 'scale', 1)]
            state[f'{norm}.running_mean'] = torch.from_numpy(w.blobs[0] / f)
            state[f'{norm}.running_var'] = torch.from_numpy(w.blobs[1] / f)
            state[f'{norm}.weight'] = torch.from_numpy(scale.blobs[0])
            state[f'{norm}.bias'] = torch.from_numpy(scale.blobs[1])
    return state
