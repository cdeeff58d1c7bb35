"""MelGAN training mechanics (SPEC §4): train-one-step cells with dynamic loss scaling, the two
Adam optimizers, and save/restore of the full training state.

One iteration = one generator step on (mel, wav), then one discriminator step on (mel_d, wav_d).
Options (docs/training_recipes.md): a spectral loss added to L_G (src.spectral_loss), and
`generator_warmup_steps` first iterations that are a G step on the spectral loss alone (its own
compiled cell: the discriminator is not run and its optimizer state does not move).
Each step cell scales the loss with `mindspore.amp.DynamicLossScaler`, unscales the gradients,
checks them with `mindspore.amp.all_finite` (works on CPU, GPU and Ascend, unlike the zoo's NPU
float-status ops) and skips the update when they are not finite, which also lowers the scale.

The training loop around these (resume, logging, saving, learning curve) is src/training.py;
checkpoint files and their names are src/checkpoint.py.
"""
import mindspore as ms
import mindspore.nn as nn
import mindspore.ops as ops
from mindspore import amp

from src.checkpoint import load_into, read_checkpoint, save_checkpoint, scalar, tensor_bytes
from src.errors import CheckpointError, ConfigError
from src.loss import DiscriminatorLoss, GeneratorLoss
from src.model import Generator, MultiDiscriminator
from src.features import list_differences
from src.settings import KEY as SETTINGS_KEY, ModelSettings, from_checkpoint_params
from src.spectral_loss import build_spectral_loss

AMP_LEVELS = ("auto", "O0", "O2", "O3")
# Adam's state besides the weights it updates; saved under optimizer_g. / optimizer_d.
_OPT_STATE = ("moment1", "moment2")
_OPT_SCALARS = ("beta1_power", "beta2_power", "global_step")


def resolve_amp_level(amp_level, device_target):
    """`auto` -> O0 (fp32) on CPU, where fp16 runs ~2.2x slower; O2 (fp16, the zoo's) on GPU/Ascend."""
    if amp_level not in AMP_LEVELS:
        # O1 is refused on purpose: MindSpore 2.10's O1 rewrite of nn.LeakyReLU fails (NameError).
        raise ConfigError(f"config: amp_level must be one of {', '.join(AMP_LEVELS)} (O1 fails on nn.LeakyReLU "
                          f"in MindSpore 2.10), got {amp_level!r} (see config.yaml)")
    if amp_level == "auto":
        return "O0" if device_target == "CPU" else "O2"
    return amp_level


def check_recipe(cfg):
    """ConfigError (one line naming the key) for recipe keys the trainer cannot honour; returns the
    resolved amp level. Cheap: src.training checks it before any network is built."""
    amp_level = resolve_amp_level(cfg.amp_level, cfg.device_target)
    checks = [
        (cfg.lr_g > 0 and cfg.lr_d > 0, "lr_g and lr_d must be > 0"),
        (0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1, "beta1 and beta2 must be in [0, 1)"),
        (cfg.loss_scale >= 1, "loss_scale must be >= 1"),
        (cfg.loss_scale_factor >= 1 and cfg.loss_scale_window >= 1,
         "loss_scale_factor and loss_scale_window must be >= 1"),
        (min(cfg.stft_loss_weight, cfg.mel_loss_weight, cfg.adv_weight, cfg.feat_weight) >= 0,
         "stft_loss_weight, mel_loss_weight, adv_weight and feat_weight must be >= 0"),
        (cfg.generator_warmup_steps >= 0, "generator_warmup_steps must be >= 0"),
        (cfg.generator_warmup_steps == 0 or cfg.stft_loss_weight > 0 or cfg.mel_loss_weight > 0,
         "generator_warmup_steps needs stft_loss_weight > 0 or mel_loss_weight > 0 "
         "(the warm-up trains G on the spectral loss alone)"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"config: {message} (see config.yaml)")
    return amp_level


class _LeakyReLU(nn.LeakyReLU):
    """nn.LeakyReLU with bit-identical values, computed as x * (1 if x > 0 else alpha).

    nn.LeakyReLU is maximum(alpha * x, x); the CPU kernel of Maximum's gradient keeps two int64
    index buffers per element for the life of the compiled graph (measured: ~0.5 GB over the G and
    D steps at batch 4; switching lowered the peak by ~0.4 GB). This form's gradient is a select
    and a multiply, and a little faster.
    Gradients equal nn.LeakyReLU's except at x == 0 exactly, where this gives alpha (PyTorch's
    convention) instead of MindSpore's tie split (1 + alpha) / 2.
    """

    def construct(self, x):
        slope = ops.select(x > 0, ops.ones_like(x), ops.full_like(x, self.alpha))
        return x * slope


def use_lean_leaky_relu(net):
    """Switch `net`'s nn.LeakyReLU cells (parameter-free) to _LeakyReLU in place, for training on
    MindSpore's CPU backend: same values, ~0.4 GB less resident memory. Parameters, their names and
    the network seen by inference/export (which build their own) are untouched."""
    for _, cell in net.cells_and_names():
        if type(cell) is nn.LeakyReLU:  # pylint: disable=unidiomatic-typecheck
            cell.__class__ = _LeakyReLU
    return net


class GeneratorWithLoss(nn.Cell):
    """L_G of the generator's output on (mel, wav), plus the spectral loss when given, then returned
    as (L_G, spectral term); gradients flow into G only (see ScaledTrainStep)."""

    def __init__(self, generator, discriminator, spectral=None, adv_weight=1.0, feat_weight=10.0):
        super().__init__(auto_prefix=False)  # keep the zoo's parameter names
        self.generator = generator
        self.discriminator = discriminator
        self.loss = GeneratorLoss(feat_weight, adv_weight)
        self.spectral = spectral

    def construct(self, mel, wav):
        # The real features are targets only: computed without gradient (and, measured on CPU,
        # faster and smaller than one 2B pass whose backward would cover the real half too).
        real_outputs = None
        if self.loss.feat_weight != 0:  # only feature matching needs the real features
            real_outputs = ops.stop_gradient(self.discriminator(wav))
        fake = self.generator(mel)
        loss = self.loss(self.discriminator(fake), real_outputs)
        if self.spectral is None:
            return loss
        spectral = self.spectral(fake, wav)
        return loss + spectral, spectral  # the term too, for the log (ScaledTrainStep: no gradient of its own)


class GeneratorSpectralLoss(nn.Cell):
    """The warm-up L_G: the spectral loss of G's output alone (no discriminator in the graph)."""

    def __init__(self, generator, spectral):
        super().__init__(auto_prefix=False)
        self.generator = generator
        self.spectral = spectral

    def construct(self, mel, wav):
        return self.spectral(self.generator(mel), wav)


class DiscriminatorWithLoss(nn.Cell):
    """src.loss.DiscriminatorLoss on a fake waveform produced (without gradient) by the generator,
    and the real one.

    Fake and real go through the discriminator as one batch of 2B, whose score maps are split
    again: the same numbers as two passes (no batch statistics), but MindSpore's CPU convolution
    gradients then need their weight-sized work buffers once instead of twice (measured: this
    graph's memory 2.5 -> 1.7 GB at batch 4).
    """

    def __init__(self, discriminator):
        super().__init__(auto_prefix=False)
        self.discriminator = discriminator
        self.loss = DiscriminatorLoss()

    def construct(self, fake, wav):
        batch = fake.shape[0]
        outputs = self.discriminator(ops.concat((fake, wav), 0))
        fake_scores, real_scores = (), ()
        for scale in outputs:
            fake_scores += (scale[-1][:batch],)
            real_scores += (scale[-1][batch:],)
        return self.loss(fake_scores, real_scores)


class ScaledTrainStep(nn.Cell):
    """One optimizer step of `loss_net` under dynamic loss scaling.

    Returns (outputs, grads_finite, scale_used), `outputs` being the loss net's: the loss, or (loss, term)
    where the net also returns a term of the loss for the log. Gradients are averaged across ranks first
    when `group_size > 1` (MindSpore's DistributedGradReducer), so every rank takes the same decision.
    """

    def __init__(self, loss_net, optimizer, scaler, group_size=1):
        super().__init__(auto_prefix=False)
        self.loss_net = loss_net
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.scaler = scaler
        self.grad = ops.GradOperation(get_by_list=True, sens_param=True)
        self.reducer = nn.DistributedGradReducer(self.weights, mean=True, degree=group_size) \
            if group_size > 1 else nn.Identity()

    def run(self, *inputs):
        outputs = self.loss_net(*inputs)
        loss = outputs[0] if isinstance(outputs, tuple) else outputs
        scale = self.scaler.scale_value
        sens = ops.cast(scale, loss.dtype) * ops.ones_like(loss)
        if isinstance(outputs, tuple):
            # The term's sensitivity is zero and is summed with what the loss sends it: the gradient is the
            # loss's, bit for bit, from the one forward and backward pass (the compiled kernels are the same).
            sens = (sens, ops.zeros_like(outputs[1]))
        grads = self.grad(self.loss_net, self.weights)(*inputs, sens)
        grads = self.reducer(grads)
        grads = self.scaler.unscale(grads)
        finite = amp.all_finite(grads)
        self.scaler.adjust(finite)
        if finite:
            self.optimizer(grads)
        return outputs, finite, scale


class GeneratorTrainStep(ScaledTrainStep):
    def construct(self, mel, wav):
        return self.run(mel, wav)


class DiscriminatorTrainStep(ScaledTrainStep):
    def __init__(self, generator, loss_net, optimizer, scaler, group_size=1):
        super().__init__(loss_net, optimizer, scaler, group_size)
        self.generator = generator

    def construct(self, mel_d, wav_d):
        fake = ops.stop_gradient(self.generator(mel_d))
        return self.run(fake, wav_d)


def _named_scaler(cfg, suffix):
    scaler = amp.DynamicLossScaler(scale_value=float(cfg.loss_scale), scale_factor=int(cfg.loss_scale_factor),
                                   scale_window=int(cfg.loss_scale_window))
    # Distinct names: the two scalers' parameters must not clash (both are called "scale_value").
    scaler.scale_value.name = f"loss_scale{suffix}"
    scaler.counter.name = f"loss_scale_counter{suffix}"
    return scaler


def build_optimizers(generator, discriminator, cfg):
    """Adam for G and for D (SPEC §4: lr 1e-4, betas (0.9, 0.999), no weight decay by default)."""
    opt_g = nn.Adam(generator.trainable_params(), learning_rate=cfg.lr_g, beta1=cfg.beta1, beta2=cfg.beta2,
                    weight_decay=cfg.weight_decay)
    opt_d = nn.Adam(discriminator.trainable_params(), learning_rate=cfg.lr_d, beta1=cfg.beta1, beta2=cfg.beta2,
                    weight_decay=cfg.weight_decay)
    # Both optimizers would own parameters named global_step/beta1_power/...; a name clash breaks a
    # graph holding both, so the discriminator's get their own names.
    for name in _OPT_SCALARS + ("learning_rate",):
        param = getattr(opt_d, name, None)
        if isinstance(param, ms.Parameter):
            param.name = "d_" + param.name
    return opt_g, opt_d


def _optimizer_state(optimizer):
    """(key, Parameter) of an Adam optimizer's state; keys are independent of renaming above."""
    items = []
    for group in _OPT_STATE:
        for weight, moment in zip(optimizer.parameters, getattr(optimizer, group)):
            items.append((f"{group}.{weight.name}", moment))
    for name in _OPT_SCALARS:
        items.append((name, getattr(optimizer, name)))
    return items


class MelGANTrainer:
    """Networks, optimizers, step cells and the checkpointed state of one training run.

    `generator` and `discriminator` are the networks to train (default: the zoo's, built here);
    tests pass a narrower discriminator (src.architecture's DISCRIMINATOR.narrowed). The networks,
    losses and optimizers follow `cfg`; the loop's own keys (steps, saving, ...) are read by
    src.training.train.
    """

    def __init__(self, cfg, group_size=1, generator=None, discriminator=None):
        self.cfg = cfg
        self.group_size = group_size
        self.amp_level = check_recipe(cfg)
        spectral = build_spectral_loss(cfg)
        self.warmup_steps = int(cfg.generator_warmup_steps)
        self.settings = ModelSettings.from_config(cfg)  # saved in every checkpoint: what the model expects
        self.generator = Generator(cfg.leaky_alpha, self.settings.arch()) if generator is None else generator
        self.generator.settings = self.settings
        self.discriminator = MultiDiscriminator() if discriminator is None else discriminator
        if cfg.device_target == "CPU":
            use_lean_leaky_relu(self.generator)
            use_lean_leaky_relu(self.discriminator)
        g_net, d_net = self.generator, self.discriminator
        if self.amp_level != "O0":
            g_net = amp.auto_mixed_precision(g_net, self.amp_level)
            d_net = amp.auto_mixed_precision(d_net, self.amp_level)
        self.opt_g, self.opt_d = build_optimizers(self.generator, self.discriminator, cfg)
        self.scaler_g, self.scaler_d = _named_scaler(cfg, ""), _named_scaler(cfg, "_d")
        self.g_step = GeneratorTrainStep(GeneratorWithLoss(g_net, d_net, spectral, cfg.adv_weight, cfg.feat_weight),
                                         self.opt_g, self.scaler_g, group_size)
        # Same optimizer and scaler as g_step: the warm-up is the first part of G's one training run.
        self.g_warm_step = GeneratorTrainStep(GeneratorSpectralLoss(g_net, spectral), self.opt_g, self.scaler_g,
                                              group_size) if self.warmup_steps > 0 else None
        self.d_step = DiscriminatorTrainStep(g_net, DiscriminatorWithLoss(d_net), self.opt_d, self.scaler_d,
                                             group_size)
        for cell in (self.g_step, self.d_step, self.g_warm_step):
            if cell is not None:
                cell.set_train()
        self.epoch = 1          # the epoch being trained (1-based, as logged)
        self.step = 0           # optimizer iterations completed, over all epochs
        self.skipped = 0        # steps (G or D) skipped for non-finite gradients by this object
        self.cpu_seconds = 0.0  # process CPU time spent training, over all runs (src.training's clock)
        self.spectral_loss = None  # the last step's spectral term of L_G (None when not configured)

    @property
    def in_warmup(self):
        """True while the next iteration is a warm-up one (decided by the step count alone, so a
        resumed run lands in the right phase)."""
        return self.step < self.warmup_steps

    def train_step(self, mel, wav, mel_d, wav_d):
        """One iteration: a G step then a D step (warm-up: the G-only step, loss_D is NaN).
        Returns (loss_G, loss_D) as Python floats; `spectral_loss` is then L_G's spectral term."""
        if self.in_warmup:
            loss_g, finite_g, _ = self.g_warm_step(mel, wav)
            self.skipped += int(not bool(finite_g))
            self.step += 1
            self.spectral_loss = float(loss_g.asnumpy())  # the warm-up's L_G is the spectral loss alone
            return self.spectral_loss, float("nan")
        loss_g, finite_g, _ = self.g_step(mel, wav)
        loss_d, finite_d, _ = self.d_step(mel_d, wav_d)
        self.skipped += int(not bool(finite_g)) + int(not bool(finite_d))
        self.step += 1
        if isinstance(loss_g, tuple):  # (L_G, its spectral term)
            loss_g, spectral = loss_g
            self.spectral_loss = float(spectral.asnumpy())
        return float(loss_g.asnumpy()), float(loss_d.asnumpy())

    @property
    def loss_scale(self):
        return float(self.scaler_g.scale_value.asnumpy())

    @property
    def loss_scale_d(self):
        return float(self.scaler_d.scale_value.asnumpy())

    # ---- checkpoints ----
    def checkpoint_items(self):
        """mindspore.save_checkpoint's list input: G and D under zoo names, then optimizer states."""
        items = [{"name": p.name, "data": p} for p in self.generator.get_parameters()]
        items += [{"name": p.name, "data": p} for p in self.discriminator.get_parameters()]
        for prefix, opt in (("optimizer_g.", self.opt_g), ("optimizer_d.", self.opt_d)):
            items += [{"name": prefix + key, "data": param} for key, param in _optimizer_state(opt)]
        return items

    def checkpoint_bytes(self):
        """About the size of a checkpoint file: the bytes of every tensor it holds."""
        return tensor_bytes(item["data"] for item in self.checkpoint_items())

    def save(self, path):
        save_checkpoint(self.checkpoint_items(), path, append_dict={
            SETTINGS_KEY: self.settings.to_json(),
            "epoch": int(self.epoch), "step": int(self.step), "train_cpu_seconds": float(self.cpu_seconds),
            "generator_warmup_steps": int(self.warmup_steps),  # for the record; the config decides
            "loss_scale": self.loss_scale, "loss_scale_d": self.loss_scale_d,
            "loss_scale_counter": int(self.scaler_g.counter.asnumpy()),
            "loss_scale_counter_d": int(self.scaler_d.counter.asnumpy()),
        })

    def restore(self, path, params=None):
        """Load a checkpoint (`params`: its contents, when already read with read_checkpoint).
        A full training checkpoint resumes everything (returns "resume"); a generator-only one
        (like the zoo's public file) loads G, and D when it holds it, for fine-tuning ("finetune").
        Every missing or misshapen entry is found before anything is loaded."""
        params = read_checkpoint(path) if params is None else params
        check_settings(params, path, self.settings)
        if not is_training_checkpoint(params):
            load_into(self.generator, params, path, "generator")
            if any(k.startswith("dis1.") for k in params):
                load_into(self.discriminator, params, path, "discriminator")
            return "finetune"
        states = [(param, _state_value(params, prefix + key, param, path))
                  for prefix, opt in (("optimizer_g.", self.opt_g), ("optimizer_d.", self.opt_d))
                  for key, param in _optimizer_state(opt)]
        load_into(self.generator, params, path, "generator")
        load_into(self.discriminator, params, path, "discriminator")
        for param, value in states:
            _assign(param, value.asnumpy())
        self.epoch = int(scalar(params, "epoch", 1))
        self.step = int(scalar(params, "step", 0))
        self.cpu_seconds = float(scalar(params, "train_cpu_seconds", 0.0))
        scale = scalar(params, "loss_scale", self.cfg.loss_scale)
        for scaler, suffix in ((self.scaler_g, ""), (self.scaler_d, "_d")):
            _assign(scaler.scale_value, float(scalar(params, "loss_scale" + suffix, scale)))
            _assign(scaler.counter, int(scalar(params, "loss_scale_counter" + suffix, 0)))
        return "resume"


def _assign(param, value):
    """Write `value` into `param` in place. Parameter.set_data swaps the tensor instead, and a step
    already compiled keeps updating the old one for scalar state (measured: Adam's beta powers and
    global_step after restoring a trainer that had trained), so a restore would be lost."""
    ops.assign(param, ms.Tensor(value, param.dtype))


def check_settings(params, path, settings):
    """CheckpointError naming each setting in which the checkpoint (the zoo's when it says nothing)
    differs from `settings`, the config's: resuming or fine-tuning needs the same features and network."""
    diff = settings.differences(from_checkpoint_params(params, path))
    if diff:
        raise CheckpointError(f"{path}: trained with other settings than the config's: "
                              f"{list_differences(diff, 'config')}; pass the config it was trained with "
                              f"(--config_path) or start a new run")


def is_training_checkpoint(params):
    """A full training state (resumable), not a generator-only file (SPEC §7)."""
    return any(k.startswith("optimizer_g.") for k in params)


def _state_value(params, name, param, path):
    """The checkpoint's tensor for optimizer state `name`; missing or misshapen is an error."""
    if name not in params:
        raise CheckpointError(f"{path}: optimizer state '{name}' missing from the checkpoint")
    value = params[name]
    value = value.data if isinstance(value, ms.Parameter) else value
    if tuple(value.shape) != tuple(param.shape):
        raise CheckpointError(f"{path}: optimizer state '{name}' has shape {tuple(value.shape)}, "
                              f"expected {tuple(param.shape)}")
    return value

