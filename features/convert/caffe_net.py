"""The layer graph of a Caffe test prototxt, checked against the weights of a .caffemodel.

`plan_net` reads the prototxt layers, keeps the ones the detector outputs depend on, infers each blob's channel
count (and the fixed spatial size of blobs after ROI pooling) and checks every weight blob's shape against what
the prototxt implies. Mismatches raise `NetError` naming the file, the layer and its line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from caffe_proto import CaffeLayer
from prototxt import Msg

# Blob names the BUTD test prototxt gives the detector contract's outputs.
OUTPUT_BLOBS = ('rois', 'cls_prob', 'attr_prob', 'pool5_flat')
OPTIONAL_OUTPUTS = ('attr_prob',)

SUPPORTED = {
    'Convolution', 'BatchNorm', 'Scale', 'ReLU', 'Pooling', 'Eltwise', 'ROIPooling', 'Python', 'Reshape',
    'Softmax', 'InnerProduct', 'ArgMax', 'Embed', 'Flatten', 'Concat', 'Dropout',
}


class NetError(ValueError):
    pass


@dataclass
class Layer:
    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    param: Msg
    line: int
    blobs: list[np.ndarray] = field(default_factory=list)


@dataclass
class BlobInfo:
    channels: int | None
    spatial: tuple[int, ...] | None  # fixed (h, w) after ROI pooling, () for 2-D blobs, None when image-sized


@dataclass
class ProposalConfig:
    feat_stride: int = 16
    scales: tuple[float, ...] = (8, 16, 32)
    ratios: tuple[float, ...] = (0.5, 1, 2)
    # BUTD lib/fast_rcnn/config.py TEST defaults, unchanged by experiments/cfgs/faster_rcnn_end2end_resnet.yml.
    pre_nms_top_n: int = 6000
    post_nms_top_n: int = 300
    nms_thresh: float = 0.7
    min_size: float = 16

    @property
    def num_anchors(self) -> int:
        return len(self.scales) * len(self.ratios)


@dataclass
class NetPlan:
    prototxt: str
    data_blob: str
    im_info_blob: str
    layers: list[Layer]  # only the layers the outputs need, in prototxt order
    outputs: dict[str, str]  # contract output name -> blob name
    proposal: ProposalConfig | None
    blob_info: dict[str, BlobInfo]
    weight_layers: int = 0
    parameters: int = 0
    unused_weights: list[str] = field(default_factory=list)


# ---- small helpers over prototxt parameters ----

def _pair(p: Msg, key: str, default: int) -> tuple[int, int]:
    """Caffe's kernel_size/pad/stride/dilation: repeated value (one for both axes, or h then w) or key_h/key_w."""
    h, w = p.get1(f'{key}_h'), p.get1(f'{key}_w')
    if h is not None or w is not None:
        return int(h if h is not None else default), int(w if w is not None else default)
    values = p.all(key)
    if not values:
        return default, default
    if len(values) == 1:
        return int(values[0]), int(values[0])
    return int(values[0]), int(values[1])


def _sub(layer: Layer, key: str) -> Msg:
    return layer.param.get1(key) or Msg()


def parse_proposal_params(param_str: str) -> dict:
    """The YAML-ish param_str of py-faster-rcnn's ProposalLayer, e.g. "'feat_stride': 16 \\n'scales': [4, 8]"."""
    out: dict = {}
    for m in re.finditer(r"['\"]?(\w+)['\"]?\s*:\s*(?:!!python/tuple\s*)?(\[[^\]]*\]|\([^)]*\)|[-+\d.eE]+)", param_str):
        key, raw = m.group(1), m.group(2)
        if raw[0] in '[(':
            out[key] = tuple(float(v) for v in re.split(r'[,\s]+', raw[1:-1].strip()) if v)
        else:
            out[key] = float(raw)
    return out


def conv_geometry(layer: Layer) -> dict:
    p = _sub(layer, 'convolution_param')
    return {
        'num_output': int(p.get1('num_output', 0)),
        'kernel': _pair(p, 'kernel_size', 1),
        'pad': _pair(p, 'pad', 0),
        'stride': _pair(p, 'stride', 1),
        'dilation': _pair(p, 'dilation', 1),
        'group': int(p.get1('group', 1)),
        'bias': bool(p.get1('bias_term', True)),
    }


def pool_geometry(layer: Layer) -> dict:
    p = _sub(layer, 'pooling_param')
    return {
        'pool': p.get1('pool', 'MAX'),
        'kernel': _pair(p, 'kernel_size', 1),
        'pad': _pair(p, 'pad', 0),
        'stride': _pair(p, 'stride', 1),
        'global': bool(p.get1('global_pooling', False)),
    }


# ---- planning ----

def _layers_from(net: Msg, path: str) -> list[Layer]:
    layers = []
    for lp in net.all('layer'):
        include = lp.get1('include')
        if include is not None and include.get1('phase') == 'TRAIN':
            continue
        layers.append(Layer(
            name=lp.get1('name', ''), type=lp.get1('type', ''), bottoms=list(lp.all('bottom')),
            tops=list(lp.all('top')), param=lp, line=lp.line,
        ))
    if not layers:
        if net.all('layers'):
            raise NetError(f'{path}: old V1 "layers" prototxt; only the "layer" format is supported')
        raise NetError(f'{path}: no layers found')
    return layers


def _needed(layers: list[Layer], wanted: set[str]) -> list[Layer]:
    """Layers on which the wanted blobs depend, walking back from the end (in-place layers share a blob name, so
    every earlier writer of a needed blob is kept too)."""
    need = set(wanted)
    keep = []
    for layer in reversed(layers):
        if not set(layer.tops) & need:
            continue
        keep.append(layer)
        need |= set(layer.bottoms)
    keep.reverse()
    return keep


def plan_net(net: Msg, path: str, weights: list[CaffeLayer], weights_path: str) -> NetPlan:
    layers = _layers_from(net, path)
    inputs = list(net.all('input'))
    for layer in layers:
        if layer.type == 'Input':
            inputs.extend(layer.tops)
    layers = [l for l in layers if l.type != 'Input']
    if len(inputs) != 2:
        raise NetError(f'{path}: expected two inputs (image data and im_info), found {inputs}')
    data_blob, im_info_blob = inputs

    produced = {t for l in layers for t in l.tops}
    outputs = {}
    for name in OUTPUT_BLOBS:
        if name in produced:
            outputs[name] = name
        elif name not in OPTIONAL_OUTPUTS:
            raise NetError(f'{path}: no layer produces the blob "{name}" the detector contract needs')

    proposal_layers = [l for l in layers if l.type == 'Python' and 'rois' in l.tops]
    if len(proposal_layers) != 1:
        raise NetError(f'{path}: expected one Python ProposalLayer producing "rois", found {len(proposal_layers)}')
    layers = _needed(layers, set(outputs.values()))

    by_name: dict[str, CaffeLayer] = {}
    for w in weights:
        by_name.setdefault(w.name, w)
    plan = NetPlan(path, data_blob, im_info_blob, layers, outputs, None, {})
    info: dict[str, BlobInfo] = {data_blob: BlobInfo(3, None), im_info_blob: BlobInfo(3, ())}
    last_writer: dict[str, Layer] = {}
    used = set()
    for layer in layers:
        where = f'{path}:{layer.line}: layer "{layer.name}" ({layer.type})'
        if layer.type not in SUPPORTED:
            raise NetError(f'{where}: layer type not supported by the converter')
        for b in layer.bottoms:
            if b not in info:
                raise NetError(f'{where}: bottom blob "{b}" is not produced by any earlier layer')
        ins = [info[b] for b in layer.bottoms]
        layer.blobs = list(by_name[layer.name].blobs) if layer.name in by_name else []
        expected = _check_layer(layer, ins, where, plan, last_writer, weights_path)
        if expected is not None:
            if layer.name not in by_name:
                raise NetError(f'{weights_path}: no weights for layer "{layer.name}" ({where})')
            _check_blobs(layer, expected, where, weights_path)
            used.add(layer.name)
            plan.weight_layers += 1
            plan.parameters += sum(int(b.size) for b in layer.blobs)
        for t, out in zip(layer.tops, _outputs(layer, ins)):
            info[t] = out
            last_writer[t] = layer
    plan.blob_info = info
    plan.unused_weights = [w.name for w in weights if w.name not in used]
    if plan.proposal is None:
        raise NetError(f'{path}: the proposal layer is not on the path to the outputs')
    return plan


def _check_blobs(layer: Layer, expected: list[tuple[int, ...]], where: str, weights_path: str) -> None:
    if len(layer.blobs) != len(expected):
        raise NetError(f'{weights_path}: layer "{layer.name}" has {len(layer.blobs)} weight blobs, '
                       f'the prototxt implies {len(expected)} ({where})')
    for i, (blob, shape) in enumerate(zip(layer.blobs, expected)):
        if tuple(blob.shape) == shape:
            continue
        # Legacy 4-D blob shapes ([1, 1, out, in]) carry the same values.
        if blob.ndim == 4 and blob.size == int(np.prod(shape)) and blob.shape[:4 - len(shape)] == (1,) * (4 - len(shape)):
            layer.blobs[i] = blob.reshape(shape)
            continue
        raise NetError(f'{weights_path}: layer "{layer.name}" blob {i} has shape {list(blob.shape)}, '
                       f'the prototxt implies {list(shape)} ({where})')


def _conv_out(size: int, k: int, p: int, s: int, d: int) -> int:
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def _pool_out(size: int, k: int, p: int, s: int) -> int:
    # Caffe rounds pooled sizes up, then drops a last window that would start in the padding.
    out = -(-(size + 2 * p - k) // s) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


def _check_layer(layer: Layer, ins: list[BlobInfo], where: str, plan: NetPlan, last_writer: dict[str, Layer],
                 weights_path: str) -> list[tuple[int, ...]] | None:
    """Validate parameters; return the expected weight blob shapes (None for layers without weights)."""
    t = layer.type
    c = ins[0].channels if ins else None

    def need_channels() -> int:
        if c is None:
            raise NetError(f'{where}: cannot infer the input channel count')
        return c

    if t == 'Convolution':
        g = conv_geometry(layer)
        cin = need_channels()
        if g['num_output'] <= 0 or cin % g['group'] or g['num_output'] % g['group']:
            raise NetError(f'{where}: bad num_output/group for {cin} input channels')
        shapes = [(g['num_output'], cin // g['group'], *g['kernel'])]
        return shapes + ([(g['num_output'],)] if g['bias'] else [])
    if t == 'BatchNorm':
        p = _sub(layer, 'batch_norm_param')
        if p.get1('use_global_stats') is False:
            raise NetError(f'{where}: use_global_stats: false (training-mode batch norm) cannot be exported')
        return [(need_channels(),), (need_channels(),), (1,)]
    if t == 'Scale':
        p = _sub(layer, 'scale_param')
        if len(layer.bottoms) != 1 or int(p.get1('axis', 1)) != 1 or int(p.get1('num_axes', 1)) != 1:
            raise NetError(f'{where}: only per-channel Scale with learned weights is supported')
        return [(need_channels(),)] + ([(need_channels(),)] if p.get1('bias_term', False) else [])
    if t == 'InnerProduct':
        p = _sub(layer, 'inner_product_param')
        if p.get1('transpose', False) or int(p.get1('axis', 1)) != 1:
            raise NetError(f'{where}: transpose/axis other than 1 is not supported')
        src = ins[0]
        if src.channels is None or src.spatial is None:
            raise NetError(f'{where}: input size is not fixed (InnerProduct must follow ROI pooling)')
        dim = src.channels * int(np.prod(src.spatial)) if src.spatial else src.channels
        n = int(p.get1('num_output', 0))
        return [(n, dim)] + ([(n,)] if p.get1('bias_term', True) else [])
    if t == 'Embed':
        p = _sub(layer, 'embed_param')
        n, k = int(p.get1('num_output', 0)), int(p.get1('input_dim', 0))
        return [(k, n)] + ([(n,)] if p.get1('bias_term', True) else [])
    if t == 'ReLU':
        return None
    if t == 'Pooling':
        g = pool_geometry(layer)
        if g['pool'] not in ('MAX', 'AVE') or (g['pool'] == 'AVE' and not g['global']):
            raise NetError(f'{where}: only MAX pooling and global AVE pooling are supported')
        return None
    if t == 'Eltwise':
        p = _sub(layer, 'eltwise_param')
        if p.get1('operation', 'SUM') != 'SUM' or p.all('coeff'):
            raise NetError(f'{where}: only Eltwise SUM without coefficients is supported')
        if len({i.channels for i in ins}) != 1:
            raise NetError(f'{where}: inputs have different channel counts {[i.channels for i in ins]}')
        return None
    if t == 'ROIPooling':
        p = _sub(layer, 'roi_pooling_param')
        if int(p.get1('pooled_h', 0)) <= 0 or int(p.get1('pooled_w', 0)) <= 0 or float(p.get1('spatial_scale', 0)) <= 0:
            raise NetError(f'{where}: roi_pooling_param needs pooled_h, pooled_w and spatial_scale')
        # ONNX MaxRoiPool starts each bin's max at the smallest positive float rather than -FLT_MAX, which is the
        # same as Caffe only for inputs >= 0: require the pooled features to come straight from a ReLU.
        src = last_writer.get(layer.bottoms[0])
        if src is None or src.type != 'ReLU' or float(_sub(src, 'relu_param').get1('negative_slope', 0)) != 0:
            raise NetError(f'{where}: the pooled blob "{layer.bottoms[0]}" must be the output of a ReLU '
                           '(ONNX MaxRoiPool matches Caffe only on non-negative inputs)')
        return None
    if t == 'Python':
        pp = _sub(layer, 'python_param')
        if pp.get1('layer') != 'ProposalLayer' or len(layer.bottoms) != 3 or layer.tops != ['rois']:
            raise NetError(f'{where}: only the py-faster-rcnn ProposalLayer (3 bottoms, top "rois") is supported')
        params = parse_proposal_params(pp.get1('param_str', ''))
        cfg = ProposalConfig()
        cfg.feat_stride = int(params.get('feat_stride', cfg.feat_stride))
        cfg.scales = tuple(params.get('scales', cfg.scales))
        cfg.ratios = tuple(params.get('ratios', cfg.ratios))
        a = cfg.num_anchors
        if ins[0].channels not in (None, 2 * a) or ins[1].channels not in (None, 4 * a):
            raise NetError(f'{where}: {a} anchors need {2 * a} score and {4 * a} delta channels, '
                           f'got {ins[0].channels} and {ins[1].channels}')
        plan.proposal = cfg
        return None
    if t == 'Reshape':
        p = _sub(layer, 'reshape_param')
        if p.get1('axis') not in (None, 0) or p.get1('num_axes') not in (None, -1) or not p.get1('shape'):
            raise NetError(f'{where}: only whole-shape Reshape is supported')
        return None
    if t == 'ArgMax':
        p = _sub(layer, 'argmax_param')
        if int(p.get1('axis', -1)) != 1 or int(p.get1('top_k', 1)) != 1 or p.get1('out_max_val', False):
            raise NetError(f'{where}: only ArgMax with axis: 1, top_k: 1 is supported')
        return None
    if t == 'Softmax':
        if int(_sub(layer, 'softmax_param').get1('axis', 1)) != 1:
            raise NetError(f'{where}: only Softmax over axis 1 is supported')
        return None
    if t == 'Flatten':
        p = _sub(layer, 'flatten_param')
        if int(p.get1('axis', 1)) != 1 or int(p.get1('end_axis', -1)) != -1:
            raise NetError(f'{where}: only Flatten from axis 1 to the end is supported')
        return None
    if t == 'Concat':
        p = _sub(layer, 'concat_param')
        if int(p.get1('axis', p.get1('concat_dim', 1))) != 1:
            raise NetError(f'{where}: only Concat over axis 1 is supported')
        return None
    return None  # Dropout: identity at test time


def _outputs(layer: Layer, ins: list[BlobInfo]) -> list[BlobInfo]:
    t = layer.type
    src = ins[0] if ins else BlobInfo(None, None)
    if t == 'Convolution':
        g = conv_geometry(layer)
        sp = None
        if src.spatial:
            sp = tuple(_conv_out(s, k, p, st, d) for s, k, p, st, d in
                       zip(src.spatial, g['kernel'], g['pad'], g['stride'], g['dilation']))
        return [BlobInfo(g['num_output'], sp)]
    if t == 'Pooling':
        g = pool_geometry(layer)
        sp = None
        if g['global']:
            sp = (1, 1)
        elif src.spatial:
            sp = tuple(_pool_out(s, k, p, st) for s, k, p, st in zip(src.spatial, g['kernel'], g['pad'], g['stride']))
        return [BlobInfo(src.channels, sp)]
    if t == 'ROIPooling':
        p = _sub(layer, 'roi_pooling_param')
        return [BlobInfo(src.channels, (int(p.get1('pooled_h')), int(p.get1('pooled_w'))))]
    if t == 'Python':
        return [BlobInfo(5, ())]
    if t == 'InnerProduct':
        return [BlobInfo(int(_sub(layer, 'inner_product_param').get1('num_output')), ())]
    if t == 'Embed':
        return [BlobInfo(int(_sub(layer, 'embed_param').get1('num_output')), ())]
    if t == 'ArgMax':
        return [BlobInfo(1, ())]
    if t == 'Flatten':
        dim = src.channels * int(np.prod(src.spatial)) if src.channels and src.spatial else src.channels
        return [BlobInfo(dim, () if src.spatial is not None else None)]
    if t == 'Concat':
        if any(i.channels is None for i in ins):
            return [BlobInfo(None, src.spatial)]
        return [BlobInfo(sum(i.channels for i in ins), src.spatial)]
    if t == 'Reshape':
        dims = _sub(layer, 'reshape_param').get1('shape').all('dim')
        ch = src.channels if len(dims) > 1 and dims[1] == 0 else (dims[1] if len(dims) > 1 and dims[1] > 0 else None)
        return [BlobInfo(ch, src.spatial)]
    return [BlobInfo(src.channels, src.spatial) for _ in layer.tops]
