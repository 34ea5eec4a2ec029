"""What a run checks and settles before it trains: the input files, the remedies' names and
parameters, and the strategy the data call for (the frozen-encoder defaults)."""

from __future__ import annotations

from collections.abc import Callable

from longtail.config import (
    OFF,
    ExperimentConfig,
)
from longtail.data.memory import is_memory
from longtail.data.prepare import (
    frozen_documents,
)
from longtail.data.readers import require_path
from longtail.errors import LongtailError
from longtail.models.aggregators import AGGREGATORS
from longtail.registry import spec_name
from longtail.training.probe_phase import parameter_free
from longtail.training.strategies import build_strategy


def check_input_files(config: ExperimentConfig) -> None:
    """A missing training, validation or test file fails before the model is even loaded."""
    for flag, path in (
        ("--data", config.data.train),
        ("--validation-data", config.data.validation),
        ("--test-data", config.data.test),
    ):
        if path and not is_memory(path):  # in-memory tables (the estimator's) are no files
            require_path(path, flag)


#: Tasks whose frozen-encoder head is solved by default on short texts (docs/benchmarks.md: "The
#: frozen head's solver", "... on binary tasks"), and on long documents ("The frozen
#: long-document head"); elsewhere it trains by SGD.
PROBE_TASKS = ("multiclass", "binary")
DOCUMENT_PROBE_TASKS = ("multiclass",)
#: The frozen-encoder default for multiclass short texts when no loss is named: a linear head
#: trained by SGD with plain cross-entropy on class-balanced batches. Picked by the rule fixed in
#: docs/benchmarks.md before its runs ("Every remedy at five seeds on the four multiclass
#: setups"): over R8, R52 and both 20 Newsgroups sets, 16 remedies x 5 seeds, it had the best
#: mean test macro-F1 among the cells that lose MCC to no setup's best by more than 2 SEM (0.741;
#: the solved head 0.739, excluded by its MCC on 20 Newsgroups step). Class-balanced sampling as
#: in Kang et al., ICLR 2020 (arXiv 1910.09217). With a named loss (a weighted one would correct
#: the balance twice) the head is solved instead.
SAMPLED_HEAD = {"strategy": "vanilla", "sampler": "class_balanced", "loss": {"name": "ce"}}


def strategy_for_data(
    config: ExperimentConfig, task: str, documents: bool, log: Callable[[str], None]
) -> ExperimentConfig:
    """What only the data tell. The frozen-encoder default solves the head (the linear probe)
    where that was measured to help: binary short texts, multiclass short texts with a named
    loss, and multiclass long documents, whose chunk embeddings are then pooled by ``mean_max``
    (docs/benchmarks.md). Multiclass short texts without a named loss train it by SGD with plain
    cross-entropy on class-balanced batches (:data:`SAMPLED_HEAD`). On
    Reuters multilabel the probe lost to the SGD head (0.446 against 0.477 macro-F1), and binary
    long documents are unmeasured, so there the head trains by SGD (said in the log). A probe the
    user asked for on long documents needs the frozen path and a weight-free aggregator (its
    documents are then one fixed vector each); otherwise it is refused before any chunk is
    encoded."""
    if documents and task in DOCUMENT_PROBE_TASKS and config.documents_probe_by_default:
        log(
            "long documents on a frozen encoder: each document's chunk embeddings are pooled "
            "(aggregator mean_max) and the linear head is solved (strategy linear_probe), the "
            "default where it was measured; --aggregator or --strategy choose otherwise"
        )
        pooled = config.long_documents.model_copy(update={"aggregator": "mean_max"})
        return config.model_copy(update={"strategy": "linear_probe", "long_documents": pooled})
    if config.probe_by_default and not documents and task == "multiclass" and config.loss is None:
        log(
            "a multiclass task on a frozen encoder: the linear head trains by SGD with plain "
            "cross-entropy on class-balanced batches (--sampler class_balanced --loss ce), the "
            "default picked by the five-seed grid over every remedy (docs/benchmarks.md); "
            "--loss NAME or --strategy linear_probe solves the head instead"
        )
        return config.model_copy(update=SAMPLED_HEAD)
    if config.probe_by_default and (documents or task not in PROBE_TASKS):
        why = "long documents" if documents else f"a {task} task"
        log(
            f"{why}: the head trains by SGD; --encoder frozen solves it (--strategy linear_probe) "
            "by default where that was measured to help (multiclass and binary short texts, "
            "multiclass long documents)"
        )
        return config.model_copy(update={"strategy": "vanilla"})
    if not documents:
        return config
    phases = build_strategy(config.strategy, epochs=config.train.epochs)
    if any(phase.solver == "lbfgs" for phase in phases):
        why = None
        if not frozen_documents(config.model, config.long_documents):
            why = "needs the frozen chunk-embedding path: add --long-mode frozen"
        elif not parameter_free(AGGREGATORS.build(config.long_documents.aggregator, hidden_size=8)):
            why = (
                f"needs an aggregator without weights (mean, max or mean_max), not "
                f"{spec_name(config.long_documents.aggregator)}: add --aggregator mean_max"
            )
        if why:
            raise LongtailError(
                f"--strategy {spec_name(config.strategy)} solves a linear head over one vector "
                f"per document, so on long documents it {why}; or use --strategy vanilla"
            )
    return config


def check_remedies(config: ExperimentConfig) -> None:
    """Fail on a bad strategy / wrapper / auxiliary loss / augmenter before reading any data."""
    from longtail.augment import AUGMENTERS
    from longtail.losses import build_aux_loss
    from longtail.training.sam import SAM_WRAPPERS

    build_strategy(config.strategy, epochs=config.train.epochs)
    for spec, registry in ((config.sam, SAM_WRAPPERS), (config.augment.method, AUGMENTERS)):
        registry.get(str(spec.get("name") if isinstance(spec, dict) else spec or OFF))
    build_aux_loss(config.aux_loss, task="multiclass")  # checks λ and the temperature
