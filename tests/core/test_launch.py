"""Cluster launches on one machine: torchrun, SLURM's environment, two nodes over loopback, and a
lost rank that stops the others with its name."""
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, TINY_FGD_EXP, load_ckpt_file
from yolox_fgd.cli.train import apply_launcher, make_parser
from yolox_fgd.core.launch import find_free_port, first_slurm_host, launcher_environment

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def env_for_tools(**extra):
    """The test environment without any launcher's variables, plus ``extra``."""
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    for key in ("YOLOX_FGD_DEBUG", "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID"):
        env.pop(key, None)
    env.update(extra)
    return env


def train_cmd(out, teacher, *extra, name="run"):
    return [os.path.join(REPO, "tools", "train.py"), "-f", TINY_FGD_EXP, "-b", "4", "--device", "cpu", "-expn", name,
            *extra, "output_dir", str(out), "teacher_ckpt", str(teacher), "max_epoch", "2", "eval_interval", "2"]


def run_all(cmds, env, timeout=400):
    procs = [subprocess.Popen(c, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for c in cmds]
    outs = [p.communicate(timeout=timeout)[0] for p in procs]
    return [p.returncode for p in procs], outs


def test_torchrun_and_srun_environments_are_read():
    """torchrun's and srun's variables give the layout; an sbatch script outside srun (no
    SLURM_STEP_ID) and a plain shell are not launches; a missing variable is named."""
    tr = launcher_environment({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2",
                               "GROUP_RANK": "1", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"})
    assert (tr["launcher"], tr["rank"], tr["node_rank"], tr["num_nodes"], tr["master_addr"]) == ("torchrun", 3, 1, 2, "10.0.0.1")
    slurm = {"SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NTASKS": "8", "SLURM_NNODES": "2", "SLURM_NODEID": "1",
             "SLURM_STEP_ID": "0", "SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu[07-08]"}
    sr = launcher_environment(slurm)
    assert (sr["launcher"], sr["rank"], sr["local_world_size"], sr["master_addr"], sr["master_port"]) == \
        ("srun", 5, 4, "gpu07", 24242)
    assert launcher_environment(dict(slurm, MASTER_ADDR="head", MASTER_PORT="1234"))["master_addr"] == "head"
    assert launcher_environment({k: v for k, v in slurm.items() if k != "SLURM_STEP_ID"}) is None
    assert launcher_environment({}) is None
    with pytest.raises(ValueError, match="LOCAL_WORLD_SIZE is not set"):
        launcher_environment({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})
    assert first_slurm_host("node[003-005,9],gpu1") == "node003"
    assert first_slurm_host("head,worker[1-2]") == "head"


def test_options_that_disagree_with_the_launcher_are_refused():
    info = {"launcher": "torchrun", "local_world_size": 2, "num_nodes": 2, "node_rank": 1, "rank": 3,
            "master_addr": "h", "master_port": 1}
    args = make_parser().parse_args(["-d", "4"])
    with pytest.raises(ValueError, match="-d/--devices 4 disagrees with torchrun, which started 2"):
        apply_launcher(args, info)
    args = make_parser().parse_args(["--dist-url", "tcp://h:1"])
    with pytest.raises(ValueError, match="--dist-url is for YOLOX's own launch"):
        apply_launcher(args, info)
    args = make_parser().parse_args(["-d", "2"])
    apply_launcher(args, info)
    assert (args.devices, args.num_machines, args.machine_rank) == (2, 2, 1)


def test_torchrun_two_processes_join_one_group(tmp_path, tiny_data, tiny_teacher_ckpt):
    """torchrun --nproc_per_node 2: one training of two ranks (not two racing ones): the replicas
    stay in sync, rank 0 alone writes the log and the checkpoint."""
    cmd = TORCHRUN + ["--nproc_per_node", "2", "--master_port", str(find_free_port())] + train_cmd(tmp_path, tiny_teacher_ckpt)
    codes, outs = run_all([cmd], env_for_tools())
    assert codes == [0], outs[0][-3000:]
    assert "training on cpu with 2 process(es) (started by torchrun, rank 0)" in outs[0]
    assert "training on cpu with 2 process(es) (started by torchrun, rank 1)" in outs[0]
    log = (tmp_path / "run" / "train_log.txt").read_text()
    assert "replicas in sync: student and FGD parameters identical on 2 ranks" in log
    assert log.count("Training start") == 1
    assert load_ckpt_file(tmp_path / "run" / "latest_ckpt.pth")["start_epoch"] == 2
    assert not [p for p in os.listdir(tmp_path / "run") if p.startswith(".") and p.endswith(".tmp")]


@pytest.mark.parametrize("how", ["torchrun", "yolox"])
def test_two_nodes_on_one_machine(how, tmp_path, tiny_data, tiny_teacher_ckpt):
    """Two 'machines' of one process each meet on 127.0.0.1: two torchrun invocations with
    --nnodes 2 and a c10d rendezvous, or YOLOX's --num_machines/--machine_rank/--dist-url."""
    port = find_free_port()
    if how == "torchrun":
        cmds = [TORCHRUN + ["--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d",
                            "--rdzv_endpoint", f"127.0.0.1:{port}", "--rdzv_id", "yolox_fgd_test"]
                + train_cmd(tmp_path, tiny_teacher_ckpt) for _ in range(2)]
    else:
        cmds = [[sys.executable] + train_cmd(tmp_path, tiny_teacher_ckpt, "-d", "1", "--num_machines", "2",
                                             "--machine_rank", str(r), "--dist-url", f"tcp://127.0.0.1:{port}")
                for r in range(2)]
    codes, outs = run_all(cmds, env_for_tools())
    assert codes == [0, 0], "\n".join(o[-2000:] for o in outs)
    log = (tmp_path / "run" / "train_log.txt").read_text()
    assert "replicas in sync: student and FGD parameters identical on 2 ranks" in log
    assert load_ckpt_file(tmp_path / "run" / "latest_ckpt.pth")["start_epoch"] == 2


def test_a_lost_rank_stops_the_other_naming_it_and_resume_continues(tmp_path, tiny_data, tiny_teacher_ckpt):
    """Rank 1 (the second 'machine') is killed after its 3rd iteration: rank 0 stops within the
    peer timeout with an error naming rank 1 (no hang); --resume on both then finishes."""
    def cmds(*extra):
        port = find_free_port()
        return [[sys.executable] + train_cmd(tmp_path, tiny_teacher_ckpt, "-d", "1", "--num_machines", "2",
                                             "--machine_rank", str(r), "--dist-url", f"tcp://127.0.0.1:{port}",
                                             "--peer-timeout", "8", *extra)
                for r in range(2)]
    start = time.time()
    codes, outs = run_all(cmds(), env_for_tools(YOLOX_FGD_KILL_AT="iter:3@1"), timeout=300)
    assert codes[1] != 0, outs[1][-2000:]
    assert codes[0] == 1 and "lost rank(s) [1]" in outs[0], outs[0][-3000:]
    assert time.time() - start < 240
    assert load_ckpt_file(tmp_path / "run" / "latest_ckpt.pth")["start_epoch"] == 1
    codes, outs = run_all(cmds("--resume"), env_for_tools())
    assert codes == [0, 0], "\n".join(o[-2000:] for o in outs)
    assert load_ckpt_file(tmp_path / "run" / "latest_ckpt.pth")["start_epoch"] == 2


def test_srun_tasks_join_one_group(tmp_path, tiny_data, tiny_teacher_ckpt):
    """What srun gives two tasks on two nodes (SLURM_PROCID/LOCALID/NTASKS/NNODES/NODEID,
    SLURM_STEP_ID, the node list), simulated on this machine: they train as one group of two, the
    master being the first host of SLURM_JOB_NODELIST."""
    port = find_free_port()
    envs = [env_for_tools(SLURM_PROCID=str(r), SLURM_LOCALID="0", SLURM_NTASKS="2", SLURM_NNODES="2",
                          SLURM_NODEID=str(r), SLURM_STEP_ID="0", SLURM_JOB_ID="7",
                          SLURM_JOB_NODELIST="localhost", MASTER_PORT=str(port)) for r in range(2)]
    procs = [subprocess.Popen([sys.executable] + train_cmd(tmp_path, tiny_teacher_ckpt), cwd=REPO, env=e,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for e in envs]
    outs = [p.communicate(timeout=400)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-2000:] for o in outs)
    assert "started by srun, rank 1" in outs[1]
    assert "identical on 2 ranks" in (tmp_path / "run" / "train_log.txt").read_text()


def test_eval_under_torchrun_splits_the_set_and_prints_once(tmp_path, tiny_data):
    """tools/eval.py under torchrun --nproc_per_node 2: rank 0 prints the AP table once, with the
    numbers a single process gives."""
    import torch

    from tests.conftest import TINY_EXP, run_tool
    from yolox_fgd.exp.build import load_exp

    torch.manual_seed(0)
    ckpt = tmp_path / "m.pth"
    torch.save({"model": load_exp(TINY_EXP).get_model().state_dict()}, ckpt)
    args = [os.path.join(REPO, "tools", "eval.py"), "-f", TINY_EXP, "-c", str(ckpt), "-b", "2", "--device", "cpu",
            "test_conf", "0.001"]
    codes, outs = run_all([TORCHRUN + ["--nproc_per_node", "2", "--master_port", str(find_free_port())] + args],
                          env_for_tools())
    assert codes == [0], outs[0][-3000:]
    single = run_tool("eval", *args[1:])
    rows = [[line for line in text.splitlines() if line.startswith("| ") and "tiny_yolox" in line]
            for text in (outs[0], single.stdout)]
    assert len(rows[0]) == 1 and rows[0] == rows[1]
