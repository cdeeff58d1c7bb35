"""MelGAN losses (SPEC §4): least-squares GAN plus feature matching.

The MultiDiscriminator's outputs are a tuple over scales of 7-tuples (6 feature maps, then the
score map): GeneratorLoss takes them whole, DiscriminatorLoss the score maps alone.
"""
import mindspore.nn as nn
import mindspore.ops as ops


def msq(x):
    """Mean over the batch of the sum over (channel, time) of x**2."""
    return ops.mean(ops.sum(ops.square(x), dim=(1, 2)))


class DiscriminatorLoss(nn.Cell):
    """L_D = sum_k msq(s_k(fake)) + msq(s_k(real) - 1), on the score maps s_k (each scale's last
    output); callers pass fake from a detached G. Training's DiscriminatorWithLoss (src/trainer.py)
    computes it on one 2B pass of the discriminator."""

    def construct(self, fake_scores, real_scores):
        loss = 0.0
        for fake, real in zip(fake_scores, real_scores):
            loss = loss + msq(fake) + msq(real - 1.0)
        return loss


class GeneratorLoss(nn.Cell):
    """L_G = adv_weight * sum_k msq(s_k(fake) - 1) + feat_weight * sum_k sum_j mean|f_kj(fake) - f_kj(real)|.

    adv_weight 1 and feat_weight 10 are the zoo's recipe (the multiply by 1 is left out of the graph).
    """

    def __init__(self, feat_weight=10.0, adv_weight=1.0):
        super().__init__()
        self.feat_weight = feat_weight
        self.adv_weight = adv_weight
        self.scale_adv = adv_weight != 1.0

    def construct(self, fake_outputs, real_outputs):
        adv = 0.0
        feat = 0.0
        if self.feat_weight == 0:  # real_outputs may be None: the caller skipped the real pass
            for fake in fake_outputs:
                adv = adv + msq(fake[-1] - 1.0)
            return adv * self.adv_weight
        for fake, real in zip(fake_outputs, real_outputs):
            adv = adv + msq(fake[-1] - 1.0)
            for j in range(len(fake) - 1):
                feat = feat + ops.mean(ops.abs(fake[j] - ops.stop_gradient(real[j])))
        if self.scale_adv:
            adv = adv * self.adv_weight
        return adv + self.feat_weight * feat
