"""The forward part of one training step with an auxiliary loss: (main logits, auxiliary loss)."""
import torch

from .ll4al import ranking_loss
from .tod import teacher_logits, tod_consistency_loss


def tod_step(net, x_l):
    """TOD (Huang et al. 2021, eq. 6): the consistency loss of the labeled batch ``x_l`` and of a fresh
    unlabeled batch of the same size from ``net.unlabeled_stream_`` (when the fit has one), with
    the teacher of the net's ``EMATeacher`` hook."""
    from ..hooks.ema import EMATeacher

    teacher = net.hook(EMATeacher).teacher_
    main_l, aux_l = net.module_.forward_heads(x_l)
    unlabeled = {}
    if net.unlabeled_stream_ is not None:
        x_u = net.unlabeled_stream_.next(len(x_l))
        main_u, aux_u = net.module_.forward_heads(x_u)
        unlabeled = {"main_u": main_u, "aux_u": aux_u, "teacher_u": teacher_logits(teacher, x_u)}
    return main_l, tod_consistency_loss(main_l, aux_l, teacher_logits(teacher, x_l), **unlabeled)


def ll4al_step(net, x, y):
    """LL4AL (Yoo & Kweon 2019): the ranking loss of the predicted vs the true per-sample losses; in the
    epochs after 0-based epoch ``ll4al_stop_epoch`` of a fit the stage features are detached (no gradient
    to the backbone), as the reference's ``epoch > epoch_loss``: 121 of 200 epochs shape it for 120."""
    logits, stages = net.module_.forward_with_stages(x)
    if net.fit_epoch_ > net.ll4al_stop_epoch:
        stages = [s.detach() for s in stages]
    target = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    return logits, ranking_loss(net.loss_module_(stages), target, net.ll4al_margin)
