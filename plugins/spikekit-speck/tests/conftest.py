import warnings

import pytest
import torch

warnings.filterwarnings("ignore", category=UserWarning, module="spikekit.*")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
