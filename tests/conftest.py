import os
from pathlib import Path

import pytest

os.environ.setdefault("HARKEN_TYPE_CHECK", "1")  # type checks on in tests (off by default at run time)

import torch  # noqa: E402

from harken.core.typed_module import set_type_checking  # noqa: E402

set_type_checking(True)
torch.set_num_threads(2)

DATA = Path(__file__).parent / "data"
NEMO = DATA / "nemo"


@pytest.fixture
def nemo_fixture():
    """Path to a copied NeMo 3.0 fixture folder, e.g. nemo_fixture('quartznet_tiny')."""
    return lambda name: NEMO / name
