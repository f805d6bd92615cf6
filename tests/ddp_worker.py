"""A torchrun target for tests/test_ddp.py: ``fit`` on the data of an npz file, rank 0 saves the result.

Usage: ``torchrun --nproc_per_node=N tests/ddp_worker.py JOB.json``; JOB holds {"data": npz path,
"kind", "L", "hparams", "cfg", "ckpt": checkpoint dir, "out": output .pt}.
"""
import json
import sys

import numpy as np
import torch

from adsorbstudy import distributed as dist
from adsorbstudy.models import build
from adsorbstudy.runtime import seed_everything
from adsorbstudy.train import fit

torch.set_num_threads(1)
job = json.loads(open(sys.argv[1]).read())
dist.init(torch.device("cpu"))
with np.load(job["data"]) as z:
    data = {float(k): z[k] for k in z.files}
seed_everything(job["cfg"]["seed"])
model = build(job["kind"], job["L"], **job["hparams"])
hist = fit(model, data, job["cfg"], job["ckpt"], progress=False)
if dist.is_main():
    torch.save({"model": model.state_dict(), "loss": hist["loss"], "world": dist.world()}, job["out"])
torch.distributed.destroy_process_group()
