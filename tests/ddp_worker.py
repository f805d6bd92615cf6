"""A torchrun target for tests/test_ddp.py: ``fit`` on the data of an npz file, rank 0 saves the result.

Usage: ``torchrun --nproc_per_node=N tests/ddp_worker.py JOB.json``; JOB holds {"data": npz path,
"kind", "L", "hparams", "cfg", "ckpt": checkpoint dir, "out": output .pt} and optionally "record": a path
prefix; each rank then writes ``<record>.rank<r>.json``, the frames of every training loss it computed
(``record_training_frames``) and the names of the files it saved.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

from adsorbstudy.generators import ranks
from adsorbstudy.generators.families import build
from adsorbstudy.generators.train import fit
from adsorbstudy.study.runtime import seed_everything

torch.set_num_threads(1)
job = json.loads(open(sys.argv[1]).read())
ranks.init(torch.device("cpu"))
with np.load(job["data"]) as z:
    data = {float(k): z[k] for k in z.files}
seed_everything(job["cfg"]["seed"])
model = build(job["kind"], job["L"], **job["hparams"])
if job.get("record"):
    from test_ddp import record_training_frames

    from adsorbstudy.generators import train

    frames, saves, save = record_training_frames(model), [], train._save
    train._save = lambda path, obj: (saves.append(Path(path).name), save(path, obj))[1]
hist = fit(model, data, job["cfg"], job["ckpt"], progress=False)
if ranks.is_main():
    torch.save({"model": model.state_dict(), "loss": hist["loss"], "world": ranks.world()}, job["out"])
if job.get("record"):
    with open(f"{job['record']}.rank{ranks.rank()}.json", "w") as fh:
        json.dump({"frames": frames, "saves": saves}, fh)
torch.distributed.destroy_process_group()
