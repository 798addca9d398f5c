"""A PyTorch module that runs a planned Caffe detector graph (see caffe_net.py), for ONNX export and as reference.

Two modes share the layer code:
- export (reference=False): BatchNorm+Scale folded into the preceding convolution; RPN NMS and ROI pooling are
  custom functions whose ONNX symbolics emit NonMaxSuppression and MaxRoiPool.
- reference (reference=True): every layer computed literally as Caffe does (BatchNorm, then Scale), with NMS and
  ROI pooling written out in PyTorch after py-faster-rcnn's py_cpu_nms / Caffe's ROIPoolingLayer. Tests compare
  the exported model in onnxruntime against this mode, so the ONNX operators' semantics are checked, not assumed.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
import torch.onnx.operators

from anchors import generate_anchors
from caffe_net import Layer, NetPlan, ProposalConfig, conv_geometry, pool_geometry, _sub


# ---- NMS ----

def nms_caffe(boxes: torch.Tensor, scores: torch.Tensor, thresh: float, max_out: int) -> torch.Tensor:
    """Greedy NMS with py-faster-rcnn's inclusive-pixel areas ((x2 - x1 + 1) * (y2 - y1 + 1)); indices kept."""
    order = torch.sort(scores, descending=True, stable=True)[1]
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    keep = []
    while order.numel() > 0 and len(keep) < max_out:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest]) + 1).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest]) + 1).clamp(min=0)
        inter = w * h
        ovr = inter / (areas[i] + areas[rest] - inter)
        order = rest[ovr <= thresh]
    return torch.tensor(keep, dtype=torch.int64)


class _untraced:
    """Run a custom function's reference body without recording it: its ONNX symbolic stands in for it, and a
    recorded NMS loop or per-ROI pooling would add thousands of nodes the exporter then has to prune."""

    def __enter__(self):
        self.state = torch._C._get_tracing_state()
        torch._C._set_tracing_state(None)

    def __exit__(self, *exc):
        torch._C._set_tracing_state(self.state)


class OnnxNms(torch.autograd.Function):
    """Exported as ONNX NonMaxSuppression on (x1, y1, x2 + 1, y2 + 1): with the +1 on the far corner, ONNX's
    continuous IoU equals py-faster-rcnn's inclusive-pixel IoU, and its `iou > threshold` suppression matches
    `keep ovr <= thresh`."""

    @staticmethod
    def forward(ctx, boxes, scores, thresh: float, max_out: int):
        with _untraced():
            return nms_caffe(boxes, scores, thresh, max_out)

    @staticmethod
    def symbolic(g, boxes, scores, thresh: float, max_out: int):
        plus = g.op('Constant', value_t=torch.tensor([0, 0, 1, 1], dtype=torch.float32))
        b = g.op('Unsqueeze', g.op('Add', boxes, plus), g.op('Constant', value_t=torch.tensor([0])))
        s = g.op('Unsqueeze', scores, g.op('Constant', value_t=torch.tensor([0, 1])))
        sel = g.op('NonMaxSuppression', b, s,
                   g.op('Constant', value_t=torch.tensor([max_out], dtype=torch.int64)),
                   g.op('Constant', value_t=torch.tensor([thresh], dtype=torch.float32)))
        return g.op('Gather', sel, g.op('Constant', value_t=torch.tensor(2)), axis_i=1)


# ---- ROI pooling ----

def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """C's round(): halves away from zero (torch.round rounds them to even)."""
    a = x.abs()
    f = torch.floor(a)
    return torch.sign(x) * (f + (a - f >= 0.5).to(x.dtype))


def roi_pool_caffe(feat: torch.Tensor, rois: torch.Tensor, ph: int, pw: int, scale: float) -> torch.Tensor:
    """Caffe ROIPoolingLayer: rounded ROI corners on the feature map, bins floor(i * size / n) .. ceil((i + 1) *
    size / n), clipped to the map, max inside each bin, 0 for an empty bin. All in float32 as in the CUDA kernel."""
    n, c, height, width = feat.shape
    out = feat.new_zeros((rois.shape[0], c, ph, pw))
    scale_t = torch.tensor(scale, dtype=torch.float32)
    corners = _round_half_away(rois[:, 1:5].float() * scale_t).to(torch.int64)
    for r in range(rois.shape[0]):
        b = int(rois[r, 0])
        sw, sh, ew, eh = (int(v) for v in corners[r])
        bin_h = torch.tensor(max(eh - sh + 1, 1), dtype=torch.float32) / torch.tensor(ph, dtype=torch.float32)
        bin_w = torch.tensor(max(ew - sw + 1, 1), dtype=torch.float32) / torch.tensor(pw, dtype=torch.float32)

        def edges(count, bin_size, start, limit):
            i = torch.arange(count, dtype=torch.float32)
            lo = torch.floor(i * bin_size).to(torch.int64) + start
            hi = torch.ceil((i + 1) * bin_size).to(torch.int64) + start
            return lo.clamp(0, limit), hi.clamp(0, limit)

        hs, he = edges(ph, bin_h, sh, height)
        ws, we = edges(pw, bin_w, sw, width)
        rows = torch.arange(height)
        cols = torch.arange(width)
        row_mask = (rows[None, :] >= hs[:, None]) & (rows[None, :] < he[:, None])  # [ph, H]
        col_mask = (cols[None, :] >= ws[:, None]) & (cols[None, :] < we[:, None])  # [pw, W]
        x = feat[b]
        neg = torch.tensor(-math.inf, dtype=x.dtype)
        t = torch.where(col_mask[None, None], x[:, :, None, :], neg).amax(-1)  # [C, H, pw]
        t = torch.where(row_mask[None, :, :, None], t[:, None, :, :], neg).amax(2)  # [C, ph, pw]
        empty = (he <= hs)[:, None] | (we <= ws)[None, :]
        out[r] = torch.where(empty[None], torch.zeros((), dtype=x.dtype), t)
    return out


class OnnxRoiPool(torch.autograd.Function):
    """Exported as ONNX MaxRoiPool, whose onnxruntime CPU kernel follows Caffe's rounding and bins (its running max
    starts at FLT_MIN, so inputs must be >= 0; caffe_net.py checks the pooled blob comes from a ReLU)."""

    @staticmethod
    def forward(ctx, feat, rois, ph: int, pw: int, scale: float):
        with _untraced():
            return roi_pool_caffe(feat, rois, ph, pw, scale)

    @staticmethod
    def symbolic(g, feat, rois, ph: int, pw: int, scale: float):
        return g.op('MaxRoiPool', feat, rois, pooled_shape_i=[ph, pw], spatial_scale_f=scale)


# ---- the network ----

class CaffeDetector(torch.nn.Module):
    def __init__(self, plan: NetPlan, reference: bool = False, rois_in: bool = False):
        super().__init__()
        self.plan = plan
        self.reference = reference
        self.rois_in = rois_in
        self.steps: list[tuple[Layer, dict]] = []
        layers = plan.layers
        skip = set()
        for i, layer in enumerate(layers):
            if i in skip:
                continue
            ws = [torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)) for b in layer.blobs]
            extra: dict = {}
            if layer.type == 'Convolution' and not reference:
                # Fold the in-place BatchNorm (+ Scale) that follows, as Caffe ResNets always have them.
                j = i + 1
                affine = []
                while j < len(layers) and layers[j].type in ('BatchNorm', 'Scale') \
                        and layers[j].bottoms == layer.tops and layers[j].tops == layer.tops and len(affine) < 2:
                    affine.append(layers[j])
                    j += 1
                if affine:
                    w = ws[0].double()
                    b = ws[1].double() if len(ws) > 1 else torch.zeros(w.shape[0], dtype=torch.float64)
                    for a in affine:
                        mul, add = _affine(a)
                        w = w * mul[:, None, None, None]
                        b = b * mul + add
                    ws = [w.float(), b.float()]
                    skip.update(range(i + 1, j))
                    extra['folded'] = [a.name for a in affine]
            for w in ws:
                key = f'w{len(self._buffers)}'
                self.register_buffer(key, w)
                extra.setdefault('weights', []).append(key)
            if layer.type == 'Python':
                cfg: ProposalConfig = plan.proposal
                anchors = generate_anchors(cfg.feat_stride, cfg.ratios, cfg.scales)
                self.register_buffer('anchors', torch.from_numpy(anchors.astype(np.float32)))
            self.steps.append((layer, extra))

    def _w(self, extra: dict) -> list[torch.Tensor]:
        return [getattr(self, k) for k in extra.get('weights', [])]

    def forward(self, image: torch.Tensor, im_info: torch.Tensor, rois_in: torch.Tensor | None = None):
        blobs = {self.plan.data_blob: image, self.plan.im_info_blob: im_info}
        self._given = rois_in
        for layer, extra in self.steps:
            ins = [blobs[b] for b in layer.bottoms]
            outs = self._run(layer, extra, ins)
            for t, o in zip(layer.tops, outs):
                blobs[t] = o
        return tuple(blobs[b] for b in self.plan.outputs.values())

    def _run(self, layer: Layer, extra: dict, ins: list[torch.Tensor]) -> list[torch.Tensor]:
        t = layer.type
        x = ins[0]
        w = self._w(extra)
        if t == 'Convolution':
            g = conv_geometry(layer)
            return [F.conv2d(x, w[0], w[1] if len(w) > 1 else None, g['stride'], g['pad'], g['dilation'], g['group'])]
        if t == 'BatchNorm':
            eps = float(_sub(layer, 'batch_norm_param').get1('eps', 1e-5))
            f = w[2][0]
            inv = torch.where(f == 0, torch.zeros_like(f), 1 / f)
            mean, var = w[0] * inv, w[1] * inv
            return [(x - mean[None, :, None, None]) / torch.sqrt(var + eps)[None, :, None, None]]
        if t == 'Scale':
            shape = (1, -1) + (1,) * (x.dim() - 2)
            y = x * w[0].reshape(shape)
            return [y + w[1].reshape(shape) if len(w) > 1 else y]
        if t == 'ReLU':
            slope = float(_sub(layer, 'relu_param').get1('negative_slope', 0))
            return [F.relu(x) if slope == 0 else F.leaky_relu(x, slope)]
        if t == 'Pooling':
            g = pool_geometry(layer)
            if g['global']:
                return [x.amax((2, 3), keepdim=True) if g['pool'] == 'MAX' else x.mean((2, 3), keepdim=True)]
            return [F.max_pool2d(x, g['kernel'], g['stride'], g['pad'], ceil_mode=True)]
        if t == 'Eltwise':
            y = ins[0]
            for other in ins[1:]:
                y = y + other
            return [y]
        if t == 'ROIPooling':
            p = _sub(layer, 'roi_pooling_param')
            args = (int(p.get1('pooled_h')), int(p.get1('pooled_w')), float(p.get1('spatial_scale')))
            if self.reference:
                return [roi_pool_caffe(x, ins[1], *args)]
            return [OnnxRoiPool.apply(x, ins[1], *args)]
        if t == 'Python':
            rois = self._proposals(*ins)
            if self.rois_in:
                # The contract's rois_in: given boxes replace the proposals; an empty [0,5] rois_in means "use the
                # proposals". Without an If node: keep all proposals only when no box is given.
                n_given = torch.onnx.operators.shape_as_tensor(self._given)[0]
                n_props = torch.onnx.operators.shape_as_tensor(rois)[0]
                rois = torch.cat([self._given, rois[:(n_given == 0).to(torch.int64) * n_props]], dim=0)
            return [rois]
        if t == 'Reshape':
            dims = _sub(layer, 'reshape_param').get1('shape').all('dim')
            shape = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
            return [x.reshape(shape)]
        if t == 'Softmax':
            return [F.softmax(x, dim=1)]
        if t == 'InnerProduct':
            return [F.linear(x.flatten(1), w[0], w[1] if len(w) > 1 else None)]
        if t == 'ArgMax':
            # Caffe stores the index as a float blob of shape [N, 1, 1] (top_k = 1).
            return [torch.argmax(x.flatten(1), dim=1).to(x.dtype).reshape(-1, 1, 1)]
        if t == 'Embed':
            idx = x.flatten().to(torch.int64)
            y = F.embedding(idx, w[0])
            return [y + w[1] if len(w) > 1 else y]
        if t == 'Flatten':
            return [x.flatten(1)]
        if t == 'Concat':
            return [torch.cat(ins, dim=1)]
        if t == 'Dropout':
            return [x]
        raise AssertionError(f'unplanned layer type {t}')

    def _proposals(self, prob: torch.Tensor, deltas: torch.Tensor, im_info: torch.Tensor) -> torch.Tensor:
        """py-faster-rcnn ProposalLayer at test time, for one image."""
        cfg: ProposalConfig = self.plan.proposal
        a = cfg.num_anchors
        height, width = prob.shape[2], prob.shape[3]
        scores = prob[:, a:, :, :].permute(0, 2, 3, 1).reshape(-1)  # rows ordered (h, w, anchor)
        d = deltas.permute(0, 2, 3, 1).reshape(-1, 4)
        sx = torch.arange(width, dtype=torch.float32) * cfg.feat_stride
        sy = torch.arange(height, dtype=torch.float32) * cfg.feat_stride
        yy, xx = torch.meshgrid(sy, sx, indexing='ij')
        shifts = torch.stack([xx, yy, xx, yy], dim=-1).reshape(-1, 1, 4)
        anchors = (shifts + self.anchors[None, :, :]).reshape(-1, 4)

        widths = anchors[:, 2] - anchors[:, 0] + 1.0
        heights = anchors[:, 3] - anchors[:, 1] + 1.0
        ctr_x = anchors[:, 0] + 0.5 * widths
        ctr_y = anchors[:, 1] + 0.5 * heights
        pcx = d[:, 0] * widths + ctr_x
        pcy = d[:, 1] * heights + ctr_y
        pw = torch.exp(d[:, 2]) * widths
        ph = torch.exp(d[:, 3]) * heights
        info = im_info[0]
        zero = torch.zeros((), dtype=torch.float32)
        max_x, max_y = info[1] - 1, info[0] - 1
        x1 = torch.maximum(torch.minimum(pcx - 0.5 * pw, max_x), zero)
        y1 = torch.maximum(torch.minimum(pcy - 0.5 * ph, max_y), zero)
        x2 = torch.maximum(torch.minimum(pcx + 0.5 * pw, max_x), zero)
        y2 = torch.maximum(torch.minimum(pcy + 0.5 * ph, max_y), zero)
        boxes = torch.stack([x1, y1, x2, y2], dim=1)

        min_size = cfg.min_size * info[2]
        keep = torch.nonzero(((x2 - x1 + 1) >= min_size) & ((y2 - y1 + 1) >= min_size)).reshape(-1)
        boxes = boxes[keep]
        scores = scores[keep]
        # ONNX TopK (what sort exports to) puts equal scores in index order, like a stable sort.
        order = torch.sort(scores, descending=True, stable=True)[1] if self.reference else \
            torch.sort(scores, descending=True)[1]
        order = order[:cfg.pre_nms_top_n]
        boxes = boxes[order]
        scores = scores[order]
        if self.reference:
            kept = nms_caffe(boxes, scores, cfg.nms_thresh, cfg.post_nms_top_n)
        else:
            kept = OnnxNms.apply(boxes, scores, cfg.nms_thresh, cfg.post_nms_top_n)
        boxes = boxes[kept]
        return torch.cat([torch.zeros_like(boxes[:, :1]), boxes], dim=1)


def _affine(layer: Layer) -> tuple[torch.Tensor, torch.Tensor]:
    """(multiplier, offset) per channel of an inference-time BatchNorm or Scale layer, in float64."""
    blobs = [torch.from_numpy(np.asarray(b, dtype=np.float64)) for b in layer.blobs]
    if layer.type == 'BatchNorm':
        eps = float(_sub(layer, 'batch_norm_param').get1('eps', 1e-5))
        f = float(blobs[2][0])
        inv = 0.0 if f == 0 else 1.0 / f
        mean, var = blobs[0] * inv, blobs[1] * inv
        mul = 1.0 / torch.sqrt(var + eps)
        return mul, -mean * mul
    mul = blobs[0]
    return mul, blobs[1] if len(blobs) > 1 else torch.zeros_like(mul)
