#!/usr/bin/env python3
"""yolox-fgd: Focal and Global Knowledge Distillation (FGD) for Megvii YOLOX 0.3.0.

Install with ``bash tools/setup_env.sh`` (it installs torch, torchvision and yolox==0.3.0 in the
order they need); torch and yolox are deliberately not listed here, so pip never pulls a
multi-GB torch build or yolox's unavailable pinned onnx versions.
"""
from setuptools import find_packages, setup

setup(
    name="yolox-fgd",
    version="0.1.0",
    description="Focal and Global Knowledge Distillation for YOLOX",
    packages=find_packages(include=["yolox_fgd", "yolox_fgd.*"]),
    python_requires=">=3.9",
    install_requires=[],
)
