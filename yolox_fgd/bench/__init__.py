"""The distillation benchmark behind ``tools/distill_bench.py``, one concept per module.

* :mod:`.suites`: the benchmarks (demo, COCO-shaped), their teachers and suites of arms;
* :mod:`.arms`: suites and ``--arm`` specs resolved into checked arms;
* :mod:`.mosaic`: ``--from-mosaic``, arms that start from another arm's last-mosaic checkpoint;
* :mod:`.runner`: training the (arm, seed) grid; finished, failed, interrupted runs;
* :mod:`.statistics`: mean ± std, gains paired by seed, the teacher-student gap closed;
* :mod:`.report`: the teacher's evaluation, the table, the AP curves, the results JSON.
"""
