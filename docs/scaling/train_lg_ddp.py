#!/usr/bin/env python3
"""Trains the official Learnable Groups network (moranli-aca/LearnableGroups-Hand, `nets/Net.py`) on data in
FreiHAND's layout — e.g. Phalanx's synthetic hands written by `writeFreihand` — with PyTorch's
DistributedDataParallel, one process per GPU (or per CPU core with `--nproc_per_node` on a machine without
GPUs). See docs/scaling.md.

  torchrun --standalone --nproc_per_node=8 docs/scaling/train_lg_ddp.py \\
      --official /opt/LearnableGroups-Hand --data /data/phalanx-freihand --out lg-ddp.pth

The release has no training script; this one follows the paper's recipe as Phalanx's training example does:
L1 loss on (u/4, v/4, d) — uv in heatmap pixels, d = (z − z_root)/s with the middle-finger MCP as root and
the MCP–PIP bone as s — Adam with learning rates 1e-1 (selector `meta_S`), 1e-2 (NDDR fusion), 1e-4 (the
rest), and the Concrete temperature τ falling from 5 by 0.1 every `--temperature-every` steps.

Every `--save-every` steps and at the end, rank 0 writes the checkpoint as the release stores its own:
`{'model_state_dict', 'Temperature', 'step'}` — `readTorchStateDict` reads it in Node or a browser, and
`importTorchStateDict(model, tensors, {temperature})` of `@phalanx/learnable-groups` loads it.
`--init FILE` starts from a .pth, e.g. weights trained in Phalanx and written with `writeTorchStateDict`.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

ROOT, REF = 9, 10  # middle-finger MCP and PIP (FreiHAND joint order)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--official', required=True, help='a checkout of moranli-aca/LearnableGroups-Hand')
    p.add_argument('--data', required=True, help="a folder in FreiHAND's layout (writeFreihand)")
    p.add_argument('--out', required=True, help='checkpoint to write (.pth)')
    p.add_argument('--split', default='training')
    p.add_argument('--input-size', type=int, default=256, help='network input S (a multiple of 64)')
    p.add_argument('--groups', type=int, default=3)
    p.add_argument('--no-fusion', action='store_true', help='without the NDDR fusion layer')
    p.add_argument('--planes', type=int, nargs=2, default=[32, 32])
    p.add_argument('--batch', type=int, default=8, help='batch size per process')
    p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--max-steps', type=int, default=0, help='stop after this many steps (0: no limit)')
    p.add_argument('--lr', type=float, default=1e-4, help='learning rate of all but the selector and fusion')
    p.add_argument('--lr-selector', type=float, default=1e-1)
    p.add_argument('--lr-fusion', type=float, default=1e-2)
    p.add_argument('--temperature-every', type=int, default=1000)
    p.add_argument('--z-weight', type=float, default=1.0)
    p.add_argument('--save-every', type=int, default=1000)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--init', default=None, help='a .pth to start from (strict load_state_dict)')
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args()


class FreihandLayout(Dataset):
    """Images resized to S×S (half-pixel centres), with targets (u/4, v/4, d) in the resized image."""

    def __init__(self, root, split, size):
        load = lambda name: np.asarray(json.load(open(os.path.join(root, f'{split}_{name}.json'))), np.float64)
        self.xyz, self.K = load('xyz'), load('K')
        self.root, self.split, self.size = root, split, size

    def __len__(self):
        return len(self.xyz)

    def __getitem__(self, i):
        image = Image.open(os.path.join(self.root, self.split, 'rgb', '%08d.jpg' % i)).convert('RGB')
        w, h = image.size
        if (w, h) != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(image, np.float32) / 255.0).permute(2, 0, 1)
        xyz, K = self.xyz[i], self.K[i]
        p = xyz @ K.T
        uv = p[:, :2] / p[:, 2:]
        uv = (uv + 0.5) * np.array([self.size / w, self.size / h]) - 0.5
        d = (xyz[:, 2] - xyz[ROOT, 2]) / np.linalg.norm(xyz[REF] - xyz[ROOT])
        target = np.concatenate([uv / 4.0, d[:, None]], 1).astype(np.float32)
        return x, torch.from_numpy(target)


def temperature_at(step, every):
    return max(0.1, 5.0 - 0.1 * (step // every))


def save(model, path, step, tau):
    tmp = path + '.tmp'
    torch.save({'model_state_dict': model.state_dict(), 'Temperature': tau, 'step': step}, tmp)
    os.replace(tmp, path)


def main():
    args = parse_args()
    sys.path.insert(0, args.official)
    from nets.Net import Learnable_Groups  # the official network

    use_cuda = torch.cuda.is_available()
    dist.init_process_group('nccl' if use_cuda else 'gloo')
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get('LOCAL_RANK', 0))
    device = torch.device('cuda', local) if use_cuda else torch.device('cpu')
    if use_cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(args.seed)

    net = Learnable_Groups([args.groups, not args.no_fusion], args.input_size, 21, args.planes)
    if args.init:
        ckpt = torch.load(args.init, map_location='cpu')
        state = ckpt.get('model_state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
        net.load_state_dict(state, strict=True)
    net.to(device)
    model = DistributedDataParallel(net, device_ids=[local] if use_cuda else None)

    groups = {'selector': [], 'fusion': [], 'rest': []}
    for name, param in net.named_parameters():
        key = 'selector' if name.startswith('meta_S') else 'fusion' if name.startswith('nddr_layer') else 'rest'
        groups[key].append(param)
    optimizer = torch.optim.Adam([
        {'params': groups['selector'], 'lr': args.lr_selector},
        {'params': groups['fusion'], 'lr': args.lr_fusion},
        {'params': groups['rest'], 'lr': args.lr},
    ])

    data = FreihandLayout(args.data, args.split, args.input_size)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch, sampler=sampler, num_workers=args.workers,
                        pin_memory=use_cuda, drop_last=True)
    weights = torch.tensor([1.0, 1.0, args.z_weight], device=device)
    if rank == 0:
        print(f'{len(data)} samples, {world} processes × batch {args.batch}, input {args.input_size}, '
              f'{"cuda" if use_cuda else "cpu"}', flush=True)

    step, tau = 0, temperature_at(0, args.temperature_every)
    model.train()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for x, target in loader:
            x, target = x.to(device, non_blocking=True), target.to(device, non_blocking=True)
            tau = temperature_at(step, args.temperature_every)
            uv, depth = model(x, tau)
            pred = torch.cat([uv / 4.0, depth.unsqueeze(-1)], -1)
            loss = ((pred - target).abs() * weights).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if rank == 0 and (step % 50 == 0 or step == 1):
                print(f'step {step} epoch {epoch} loss {loss.item():.4f} τ {tau:.2f}', flush=True)
            if rank == 0 and step % args.save_every == 0:
                save(net, args.out, step, tau)
            if args.max_steps and step >= args.max_steps:
                break
        if args.max_steps and step >= args.max_steps:
            break
    if rank == 0:
        save(net, args.out, step, tau)
        print(f'wrote {args.out} after {step} steps (τ {tau:.2f})', flush=True)
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
