#!/usr/bin/python3
"""PyTorch half of the side-by-side training benchmark (bench/run_training.sh).

Builds seed A's "enhanced" CNN exactly as models/enhanced.yaml describes (the network that
bench/nn_throughput.cpp trains on the digitpipe engine) and either measures training
throughput on synthetic batches or the wall-clock time to reach a test accuracy on MNIST.

Usage:
  pytorch_train.py --mode throughput [--precision fp32|bf16] [--batch 128] [--steps 40]
                   [--warmup 5] [--threads 2] [--layout channels_last|nchw]
  pytorch_train.py --mode time-to-accuracy [--target 0.99] [--data data/mnist]
                   [--max-epochs 5] [--seed 1] [--batch 128] [--threads 2] [--limit-train N]

Needs Debian's python3-torch (1.13); no torchvision, no pip.
"""
import argparse
import math
import os
import struct
import sys
import time

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError:
    # A pyenv or venv python3 often shadows Debian's interpreter, which is the one that sees
    # python3-torch: retry there once rather than fail.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath(
            "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    sys.exit("pytorch_train: needs python3-torch (apt-get install -y python3-torch)")

SEED_A_PARAMETERS = 175_722  # Keras' count: batch-norm running mean and variance included
SEED_A_TRAINABLE = 175_082
SEED_A_LR = 5e-4  # seed A's Adam learning rate; bench/nn_throughput.cpp uses the same
KERAS_BN_MOMENTUM = 0.01  # Keras keeps 0.99 of the old running stat, torch keeps 1 - momentum
KERAS_BN_EPS = 1e-3
CLASSES = 10
IMAGE_SIDE = 28
EVALS_PER_EPOCH = 4
# Measured with Debian's 1.13 on 2 threads: inference ran at about 1,350 images/s in batches
# of 128 and 340 in batches of 1000 (mostly system time: large buffers churn the allocator).
EVAL_BATCH = 128


def enhanced_cnn():
    """Seed A's enhanced CNN; logits out (the loss applies the softmax)."""
    def conv_bn_relu(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1),
                nn.BatchNorm2d(cout, eps=KERAS_BN_EPS, momentum=KERAS_BN_MOMENTUM),
                nn.ReLU(inplace=True)]

    def pool_drop():
        return [nn.MaxPool2d(2), nn.Dropout(0.25)]

    model = nn.Sequential(
        *conv_bn_relu(1, 32), *conv_bn_relu(32, 32), *pool_drop(),    # 28x28 -> 14x14
        *conv_bn_relu(32, 64), *conv_bn_relu(64, 64), *pool_drop(),   # 14x14 -> 7x7
        *conv_bn_relu(64, 128), *pool_drop(),                         # 7x7 -> 3x3 (floor)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(128, 256), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(256, CLASSES))
    # Keras' defaults (Glorot-uniform kernels, zero biases) rather than torch's Kaiming-uniform,
    # so both engines start from the same distribution.
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def check_parameter_count(model):
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    running = sum(b.numel() for name, b in model.named_buffers()
                  if name.endswith(("running_mean", "running_var")))
    assert trainable + running == SEED_A_PARAMETERS, trainable + running
    assert trainable == SEED_A_TRAINABLE, trainable
    # stderr, so that stdout stays the one result line that run_training.sh parses.
    print(f"pytorch {torch.__version__}: enhanced CNN, {trainable + running:,} parameters "
          f"({trainable:,} trainable), {torch.get_num_threads()} threads, "
          f"oneDNN {'on' if torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled else 'off'}, "
          f"BLAS {blas_info()}", file=sys.stderr)


def blas_info():
    config = torch.__config__.show()
    start = config.find("BLAS_INFO=")
    return config[start + len("BLAS_INFO="):].split(",")[0] if start >= 0 else "unknown"


def make_model(args):
    model = enhanced_cnn()
    check_parameter_count(model)
    # channels_last is what lets 1.13 hand convolutions to oneDNN without reorders each step
    # (the PyTorch figure in shared/FACTS.md was taken this way).
    return model.to(memory_format=args.memory_format)


def train_step(model, optimizer, images, labels, bf16):
    optimizer.zero_grad(set_to_none=True)
    # autocast keeps the master weights and Adam's state in fp32; only the compute runs in bf16.
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(images)
    loss = nn.functional.cross_entropy(logits.float(), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def throughput(args):
    model = make_model(args).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=SEED_A_LR)
    # Synthetic data: the cost of a step does not depend on pixel values or labels.
    images = torch.rand(args.batch, 1, IMAGE_SIDE, IMAGE_SIDE).to(memory_format=args.memory_format)
    labels = torch.arange(args.batch) % CLASSES
    bf16 = args.precision == "bf16"
    for _ in range(args.warmup):  # first steps create oneDNN primitives and warm the allocator
        train_step(model, optimizer, images, labels, bf16)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = train_step(model, optimizer, images, labels, bf16)
    elapsed = time.perf_counter() - start
    print(f"pytorch precision={args.precision} batch={args.batch} threads={args.threads} "
          f"images_per_s={args.batch * args.steps / elapsed:.0f}")
    print(f"pytorch: last loss {loss:.4f}", file=sys.stderr)


def read_idx(path, magic, item_shape):
    """An MNIST IDX file (big-endian header) as a uint8 array of shape (n, *item_shape)."""
    with open(path, "rb") as f:
        data = f.read()
    header = 4 * (2 + len(item_shape))
    fields = struct.unpack(f">{2 + len(item_shape)}I", data[:header])
    if fields[0] != magic or tuple(fields[2:]) != item_shape:
        sys.exit(f"pytorch_train: {path}: not an IDX file of {item_shape} items")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(fields[1], *item_shape)


def load_mnist(directory, split, limit=None):
    images = read_idx(os.path.join(directory, f"{split}-images-idx3-ubyte"), 2051,
                      (IMAGE_SIDE, IMAGE_SIDE))
    labels = read_idx(os.path.join(directory, f"{split}-labels-idx1-ubyte"), 2049, ())
    if limit:
        images, labels = images[:limit], labels[:limit]
    # Seed A scales pixels to [0, 1] and nothing else.
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


@torch.no_grad()
def accuracy(model, images, labels, memory_format):
    model.eval()
    correct = 0
    for i in range(0, len(images), EVAL_BATCH):
        logits = model(images[i:i + EVAL_BATCH].contiguous(memory_format=memory_format))
        correct += (logits.argmax(1) == labels[i:i + EVAL_BATCH]).sum().item()
    model.train()
    return correct / len(images)


def time_to_accuracy(args):
    torch.manual_seed(args.seed)
    train_x, train_y = load_mnist(args.data, "train", args.limit_train)
    test_x, test_y = load_mnist(args.data, "t10k")
    model = make_model(args).train()
    # Seed A's recipe minus what cannot matter within a few epochs or would slow the run:
    # no augmentation, and no ReduceLROnPlateau (it acts on epoch-end plateaus, after 99%).
    # Seed A states no batch size; --batch defaults to the throughput benchmark's 128.
    optimizer = torch.optim.Adam(model.parameters(), lr=SEED_A_LR)
    bf16 = args.precision == "bf16"
    steps_per_epoch = math.ceil(len(train_x) / args.batch)
    eval_steps = {round(k * steps_per_epoch / EVALS_PER_EPOCH)
                  for k in range(1, EVALS_PER_EPOCH + 1)}
    shuffle = torch.Generator().manual_seed(args.seed)
    train_s = eval_s = 0.0
    best = 0.0
    losses = []
    for epoch in range(args.max_epochs):
        order = torch.randperm(len(train_x), generator=shuffle)
        start = time.perf_counter()
        for step in range(steps_per_epoch):
            # Gathering the batch is part of training, as the engine's data feed is.
            idx = order[step * args.batch:(step + 1) * args.batch]
            losses.append(train_step(model, optimizer,
                                     train_x[idx].contiguous(memory_format=args.memory_format),
                                     train_y[idx], bf16))
            if step + 1 not in eval_steps:
                continue
            train_s += time.perf_counter() - start
            eval_start = time.perf_counter()
            acc = accuracy(model, test_x, test_y, args.memory_format)
            eval_s += time.perf_counter() - eval_start
            best = max(best, acc)
            epochs = epoch + (step + 1) / steps_per_epoch
            print(f"pytorch: epoch {epochs:.2f} train loss {sum(losses) / len(losses):.4f} "
                  f"test accuracy {acc:.4f} train {train_s:.1f} s eval {eval_s:.1f} s",
                  file=sys.stderr)
            losses.clear()
            if acc >= args.target:
                print(f"pytorch time_to_accuracy target={args.target} reached={acc:.4f} "
                      f"seconds={train_s:.1f} epochs={epochs:.2f} eval_seconds={eval_s:.1f}")
                return
            start = time.perf_counter()
    # Not reaching the target is a result, not an error: say so on the result line.
    print(f"pytorch time_to_accuracy target={args.target} reached=no best={best:.4f} "
          f"seconds={train_s:.1f} epochs={args.max_epochs:.2f} eval_seconds={eval_s:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["throughput", "time-to-accuracy"], required=True)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layout", choices=["channels_last", "nchw"], default="channels_last")
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--max-epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit-train", type=int, default=None,
                        help="train on the first N images only (a quick check of the mode)")
    args = parser.parse_args()
    if args.batch < 1 or args.steps < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--batch, --steps and --threads must be positive, --warmup not negative")
    # Debian's build starts with one thread: a peer comparison must ask for the same count.
    torch.set_num_threads(args.threads)
    args.memory_format = (torch.channels_last if args.layout == "channels_last"
                          else torch.contiguous_format)
    if args.mode == "throughput":
        throughput(args)
    else:
        time_to_accuracy(args)


if __name__ == "__main__":
    main()
