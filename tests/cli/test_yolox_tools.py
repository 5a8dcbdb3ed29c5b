"""YOLOX's own tools read a distilled student: TorchScript export of an FGD run's checkpoint."""
import os
import subprocess
import sys

import torch

from tests.conftest import REPO, TINY_EXP, TINY_FGD_EXP, run_tool
from yolox_fgd.exp.build import load_exp


def test_yolox_export_torchscript_reads_a_distilled_student(tmp_path, tiny_data, tiny_teacher_ckpt):
    """python -m yolox.tools.export_torchscript -f <student exp> -c <FGD run checkpoint> writes a
    TorchScript model whose output equals the student's in eager mode."""
    run = run_tool("train", "-f", TINY_FGD_EXP, "-b", "4", "--device", "cpu", "-expn", "d", "output_dir", tmp_path,
                   "teacher_ckpt", tiny_teacher_ckpt, "max_epoch", "1")
    assert run.returncode == 0, run.stderr[-2000:]
    ckpt = tmp_path / "d" / "latest_ckpt.pth"
    out = tmp_path / "student.torchscript.pt"
    env = dict(os.environ, PYTHONPATH=REPO)
    res = subprocess.run([sys.executable, "-m", "yolox.tools.export_torchscript", "-f", TINY_EXP, "-c", str(ckpt),
                          "--output-name", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    scripted = torch.jit.load(str(out))
    model = load_exp(TINY_EXP).get_model()
    model.load_state_dict(torch.load(ckpt, map_location="cpu", weights_only=True)["model"])
    model.eval().head.decode_in_inference = False  # what the exporter does
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(scripted(x), model(x), atol=1e-5)
