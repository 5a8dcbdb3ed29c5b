"""Diagnostics of a distillation run: which FGD term pulls on the student how hard, and what the
compared maps look like (issue 11; ``exp.distill_diagnostics_interval``).

On a diagnostic iteration, for the detection loss and each weighted FGD term of each level (as
it enters ``total_loss``), the gradient norm over the student's parameters is taken with
``torch.autograd.grad`` (one extra backward per term: only on those iterations); each FGD term's
norm is reported relative to the detection loss's, with the cosine between the two gradients
(``grad_cos``; ``fgd_grad_rel`` and ``fgd_grad_cos`` for the sum of all FGD terms: a negative
cosine means that imitating the teacher, at this point, works against detection). With them: the RMS of the student's aligned
map and of the teacher's map and the entropy of both channel attentions
(:meth:`yolox_fgd.losses.FGDLoss.map_statistics`). One JSON line per diagnostic iteration goes
to ``<run>/diagnostics.jsonl``; ``tools/plot_diagnostics.py`` draws them.
"""
import json
import os

import torch
from loguru import logger

from .schedule import TERMS

__all__ = ["FGDDiagnostics", "gradient_norm", "read_diagnostics"]


def _gradients(loss, params):
    """``d loss / d params`` as a list (``None`` for parameters the loss does not reach); the
    graph is kept for the real backward."""
    return list(torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True))


def _norm(grads):
    grads = [g for g in grads if g is not None]
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))) \
        if grads else 0.0


def _dot(a, b):
    return float(sum((x.float() * y.float()).sum() for x, y in zip(a, b) if x is not None and y is not None))


def gradient_norm(loss, params, subset=None):
    """L2 norm of ``d loss / d params`` (the graph is kept for the real backward).

    With ``subset`` (indices into ``params``) also the norm over those parameters alone:
    returns ``(norm, subset_norm)``.
    """
    grads = _gradients(loss, params)
    if subset is None:
        return _norm(grads)
    return _norm(grads), _norm([grads[i] for i in subset])


class FGDDiagnostics:
    """Writes one record per diagnostic iteration.

    Args:
        run_dir: folder of ``diagnostics.jsonl`` (``None``: compute and log, write nothing).
    """

    def __init__(self, run_dir):
        self.path = os.path.join(run_dir, "diagnostics.jsonl") if run_dir else None

    def record(self, graph_terms, map_stats, params, epoch, iteration, distill_weight, reached=None):
        """Compute and write the record of one iteration.

        Args:
            graph_terms: ``{"detection": loss, "<term>_<level>": weighted term}`` with graphs (the
                terms as they enter ``total_loss``: weights, scale normalisation and the
                distillation factor applied), and ``"head_kd"`` (``"crosskd"``) with (cross-)head output distillation
                (its own ratio and cosine; not part of ``fgd_grad_*``).
            map_stats: ``{level: {"rms_s", "rms_t", "entropy_c_s", "entropy_c_t"}}``.
            params: the student's trainable parameters.
            reached: indices into ``params`` of those the FGD terms reach (the backbone and PAFPN,
                and the head's stems with the stem tap): ``grad_rel_reached`` compares the two
                gradients there, where the detection gradient is much smaller than over the
                whole model (the head's). ``None``: not computed.
        """
        det_grads = _gradients(graph_terms["detection"], params)
        det = _norm(det_grads)
        det_reached = _norm([det_grads[i] for i in reached or []])
        rel, rel_reached, cos = {}, {}, {}
        fgd_sum = [None] * len(params)
        for name, term in graph_terms.items():
            if name != "detection":
                grads = _gradients(term, params)
                full, part = _norm(grads), _norm([grads[i] for i in reached or []])
                rel[name] = full / det if det > 0 else float("nan")
                rel_reached[name] = part / det_reached if det_reached > 0 else float("nan")
                cos[name] = _dot(grads, det_grads) / (full * det) if full > 0 and det > 0 else float("nan")
                if name.rsplit("_", 1)[0] in TERMS:  # FGD's terms (not head_kd, reported on its own)
                    fgd_sum = [g if acc is None else (acc if g is None else acc + g) for acc, g in zip(fgd_sum, grads)]
        fgd_norm = _norm(fgd_sum)
        record = {
            "epoch": epoch, "iter": iteration, "distill_weight": distill_weight,
            "detection_loss": float(graph_terms["detection"].detach()), "detection_grad_norm": det, "grad_rel": rel,
            "grad_cos": cos, "fgd_grad_rel": fgd_norm / det if det > 0 else float("nan"),
            "fgd_grad_cos": _dot(fgd_sum, det_grads) / (fgd_norm * det) if fgd_norm > 0 and det > 0 else float("nan"),
            "terms": {name: float(term.detach()) for name, term in graph_terms.items() if name != "detection"},
            "maps": {lvl: {k: float(v) for k, v in stats.items()} for lvl, stats in map_stats.items()},
        }
        if reached:
            record["detection_grad_norm_reached"], record["grad_rel_reached"] = det_reached, rel_reached
            # the same cosine against the detection gradient where FGD reaches (FGD's is zero elsewhere)
            dot = _dot([fgd_sum[i] for i in reached], [det_grads[i] for i in reached])
            record["fgd_grad_cos_reached"] = dot / (fgd_norm * det_reached) if fgd_norm > 0 and det_reached > 0 \
                else float("nan")
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")
        levels = ", ".join(
            f"{lvl}: grad/det " + " ".join(f"{t} {rel[f'{t}_{lvl}']:.3g}" for t in TERMS) +
            ("" if not reached else " (where FGD reaches: " +
             " ".join(f"{t} {rel_reached[f'{t}_{lvl}']:.3g}" for t in TERMS) + ")") +
            f", rms s/t {s['rms_s']:.3g}/{s['rms_t']:.3g}, H_c s/t {s['entropy_c_s']:.2f}/{s['entropy_c_t']:.2f}"
            for lvl, s in record["maps"].items())
        logger.info(f"FGD diagnostics at iteration {iteration} (weight {distill_weight:.3g}, detection grad norm "
                    f"{det:.3g}; all FGD terms: grad/det {record['fgd_grad_rel']:.3g}, cosine with the detection "
                    f"gradient {record['fgd_grad_cos']:.3g}): {levels}")
        return record


def read_diagnostics(run_dir):
    """The records of ``run_dir/diagnostics.jsonl`` (list of dicts; empty when absent)."""
    path = os.path.join(run_dir, "diagnostics.jsonl")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
