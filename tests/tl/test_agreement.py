"""Prediction agreement and mask ensembles on constructed predictions: hand computations, the
independent-errors baselines, identical masks, the grouping rule and missing predictions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from landscape.errors import AnalysisError
from landscape.maskset import MaskSet
from landscape.tl.agreement import agreement
from landscape.tl.ensemble import ensemble
from tests.predicted import LAYOUT, with_predictions


def test_agreement_equals_a_hand_computation():
    labels = [0, 1, 2, 0, 1, 2]
    preds = [
        [0, 1, 2, 0, 1, 1],  # 5 right, wrong on example 5
        [0, 1, 0, 0, 2, 1],  # 3 right, wrong on 2, 4, 5
        [1, 1, 2, 2, 1, 2],  # 4 right, wrong on 0, 3
    ]
    ms = with_predictions(preds, labels)
    agreement(ms, baseline="accuracy")
    pairs = ms.uns["agreement"]["pairs"].set_index(["i", "j"])
    # masks 0 and 1 agree on examples 0, 1, 3, 5
    a01 = pairs.loc[(0, 1)]
    assert a01["agreement"] == pytest.approx(4 / 6) and a01["disagreement"] == pytest.approx(2 / 6)
    # accuracies 5/6 and 3/6; independent errors, 3 classes:
    expected = 1 - (5 / 6 * 3 / 6 + (1 / 6) * (3 / 6) / 2)
    assert a01["expected_disagreement"] == pytest.approx(expected)
    assert a01["normalised_disagreement"] == pytest.approx((2 / 6) / expected)
    assert a01["both_wrong"] == pytest.approx(1 / 6)  # example 5
    assert a01["error_ratio"] == pytest.approx((1 / 6) / (1 / 6 * 3 / 6))
    assert a01["error_jaccard"] == pytest.approx(1 / 3)  # {5} of {2, 4, 5}
    # masks 0 and 2: agree on 1, 2, 4; errors {5} and {0, 3} are disjoint
    a02 = pairs.loc[(0, 2)]
    assert a02["agreement"] == pytest.approx(3 / 6)
    assert a02["both_wrong"] == 0 and a02["error_jaccard"] == 0
    # the structural columns are the masks' Jaccard similarity beside random masks
    sim = 1 - ms.obsp["dist_jaccard"]
    assert a01["jaccard_similarity"] == pytest.approx(sim[0, 1])
    # per network: means over the three pairs, accuracy the mean over masks
    row = ms.uns["agreement"]["table"].iloc[0]
    assert row["n_pairs"] == 3 and row["n_examples"] == 6
    assert row["agreement"] == pytest.approx(pairs["agreement"].mean())
    assert row["accuracy"] == pytest.approx((5 + 3 + 4) / 18)
    matrix = ms.obsp["agreement_test"]
    assert matrix[0, 1] == matrix[1, 0] == pytest.approx(4 / 6) and matrix[1, 1] == 1.0


def test_the_interval_is_a_jackknife_over_masks():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 50)
    preds = np.where(rng.random((5, 50)) < 0.7, labels, rng.integers(0, 4, (5, 50)))
    ms = with_predictions(preds, labels)
    row = agreement(ms).iloc[0]
    a = (preds[:, None] == preds[None]).mean(-1)
    loo = [
        np.mean([a[i, j] for i, j in itertools.combinations(range(5), 2) if k not in (i, j)])
        for k in range(5)
    ]
    se = np.sqrt(4 / 5 * np.sum((np.array(loo) - np.mean(loo)) ** 2))
    from scipy import stats

    half = stats.t.ppf(0.975, 4) * se
    assert row["agreement_ci_low"] == pytest.approx(row["agreement"] - half)
    assert row["agreement_ci_high"] == pytest.approx(row["agreement"] + half)


def test_identical_masks_agree_and_their_ensemble_gains_nothing():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 5, 40)
    logits = rng.normal(size=(40, 5))
    logprob = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    copies = np.repeat(logprob[None], 4, axis=0)
    pred = np.repeat(logits.argmax(-1)[None], 4, axis=0)
    mask = rng.random(LAYOUT.n_weights) < 0.5
    ms = with_predictions(pred, labels, copies, masks=np.repeat(mask[None], 4, axis=0))
    row = agreement(ms).iloc[0]
    assert row["agreement"] == 1.0 and row["disagreement"] == 0.0 and row["normalised_disagreement"] == 0.0
    assert (
        row["error_jaccard"] == 1.0 and row["jaccard_similarity"] == 1.0 and row["structural_diversity"] == 0
    )
    table = ensemble(ms, select_split=None)
    single = (pred[0] == labels).mean()
    assert list(table["k"]) == [1, 2, 3, 4]
    assert (table["acc"] == single).all() and (table["gain"] == 0).all()
    assert np.allclose(table["nll"], table["nll"].iloc[0], rtol=0, atol=1e-12)


def test_the_independent_errors_baseline_is_exact_when_errors_are_independent():
    # accuracies 3/4 and 1/2 over 48 examples, 3 classes, correctness independent: 18 both right,
    # 18 only mask 0, 6 only mask 1, 6 both wrong, and of those, wrong answers agreeing half the
    # time (uniform over the 2 wrong classes)
    labels = np.zeros(48, dtype=int)
    right0 = np.r_[np.ones(36, bool), np.zeros(12, bool)]
    right1 = np.r_[np.ones(18, bool), np.zeros(18, bool), np.ones(6, bool), np.zeros(6, bool)]
    p0 = np.where(right0, 0, 1)
    p1 = np.where(right1, 0, np.r_[np.ones(42, int), [1, 1, 1, 2, 2, 2]])
    p0[42:] = [1, 1, 1, 1, 1, 1]  # both wrong: mask 0 says 1, mask 1 says 1 three times
    ms = with_predictions([p0, p1], labels, networks=[0, 0])
    row = agreement(ms, baseline="accuracy").iloc[0]
    assert row["expected_disagreement"] == pytest.approx(1 - (3 / 4 * 1 / 2 + 1 / 4 * 1 / 2 / 2))
    assert row["normalised_disagreement"] == pytest.approx(1.0, abs=1e-12)
    assert row["error_ratio"] == pytest.approx(1.0, abs=1e-12)


def test_the_confusion_baseline_is_exact_for_classifiers_independent_given_the_class():
    # within each true class every answer of mask 0 meets every answer of mask 1 once: the two
    # are exactly independent given the class, each with its own confusion matrix
    answers = {0: ([0, 0, 0, 1], [0, 2]), 1: ([1, 1, 2, 0, 1], [1, 1, 1, 0]), 2: ([2, 1], [2, 2, 0])}
    labels, p0, p1 = [], [], []
    for y, (a, b) in answers.items():
        for u, v in itertools.product(a, b):
            labels.append(y)
            p0.append(u)
            p1.append(v)
    ms = with_predictions([p0, p1], labels)
    row = agreement(ms, baseline="confusion").iloc[0]
    assert row["normalised_disagreement"] == pytest.approx(1.0, abs=1e-12)
    assert row["error_ratio"] == pytest.approx(1.0, abs=1e-12)
    # the accuracy-only baseline ignores the per-class accuracies: not 1 here
    other = agreement(ms, baseline="accuracy", key_added="plain").iloc[0]
    assert abs(other["normalised_disagreement"] - 1.0) > 0.01
    with pytest.raises(AnalysisError, match="baseline"):
        agreement(ms, baseline="kappa")


def test_pairs_stay_inside_a_network_and_trained_networks_pair_across():
    labels = np.arange(10) % 3
    rng = np.random.default_rng(4)
    preds = rng.integers(0, 3, (5, 10))
    ms = with_predictions(preds, labels, networks=[0, 0, 0, 1, 1])
    table = agreement(ms)
    assert list(table["weight_seed"]) == [0, 1] and list(table["n_pairs"]) == [3, 1]
    assert np.isnan(ms.obsp["agreement_test"][0, 3]) and not np.isnan(ms.obsp["agreement_test"][3, 4])
    summary = ms.uns["agreement"]["summary"].iloc[0]
    assert summary["n_networks"] == 2 and summary["interval"] == "networks"
    # weight-trained networks are each their own network: pairs across weight seeds
    dense = with_predictions(preds, labels, networks=[0, 1, 2, 3, 4], method="dense")
    row = agreement(dense).iloc[0]
    assert row["n_pairs"] == 10 and row["members"] == "independently trained networks"
    assert ensemble(dense)["members"].iloc[0] == "independently trained networks"
    # dense runs of one weight seed (other search seeds: other data orders) share their
    # initialisation: still paired with each other, and named for what they are
    one_init = with_predictions(preds, labels, networks=[0] * 5, method="dense")
    row = agreement(one_init).iloc[0]
    assert row["n_pairs"] == 10 and row["members"] == "networks trained from one initialisation"
    assert set(ensemble(one_init)["members"]) == {"networks trained from one initialisation"}
    mixed = with_predictions(preds, labels, networks=[0, 0, 1, 1, 2], method="dense")
    assert agreement(mixed).iloc[0]["members"] == "networks trained from 3 initialisations"


def test_masks_without_predictions_are_named():
    ms = with_predictions([[0, 1], [1, 1]], [0, 1])
    del ms.obsm["labels_test"]
    with pytest.raises(AnalysisError, match="labels_test"):
        agreement(ms)
    bare = MaskSet.from_dense(np.ones((2, LAYOUT.n_weights), bool), LAYOUT)
    with pytest.raises(AnalysisError, match="run_id"):
        agreement(bare)


def test_ensemble_equals_a_hand_computation():
    labels = np.array([0, 1, 1, 0])
    probs = np.array(
        [
            [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.4, 0.6]],
            [[0.3, 0.7], [0.2, 0.8], [0.45, 0.55], [0.7, 0.3]],
        ]
    )
    logprob = np.log(probs)
    pred = probs.argmax(-1)
    ms = with_predictions(pred, labels, logprob)
    table = ensemble(ms, select_split=None).set_index("k")
    stored = np.log(probs).astype(np.float16).astype(np.float64)
    stored -= np.log(np.exp(stored).sum(-1, keepdims=True))
    mean = np.exp(stored).mean(0)  # [[.6,.4],[.4,.6],[.325,.675],[.55,.45]]: all right
    assert table.loc[2, "acc"] == 1.0
    assert table.loc[2, "nll"] == pytest.approx(-np.mean(np.log(mean[np.arange(4), labels])), rel=1e-12)
    assert table.loc[1, "acc"] == pytest.approx(np.mean([(pred[i] == labels).mean() for i in range(2)]))
    assert table.loc[1, "n_subsets"] == 2 and table.loc[2, "n_subsets"] == 1
    assert np.isnan(table.loc[2, "acc_ci_low"])  # one subset: no interval


def test_the_best_single_mask_is_chosen_on_validation():
    labels = np.array([0, 1, 0, 1])
    preds = [[0, 1, 0, 0], [0, 1, 0, 1], [1, 1, 1, 1]]  # test: mask 1 is best
    val = ([[0, 0], [1, 1], [1, 0]], [0, 0])  # validation: mask 0 is best
    ms = with_predictions(preds, labels, val=val)
    row = ensemble(ms).iloc[0]
    assert row["best_acc"] == pytest.approx(0.75) and row["best_selected_on"] == "val"
    # k = 1: the mean single mask, and its jackknife interval is that of a mean
    single = np.array([0.75, 1.0, 0.5])
    half = row["acc_ci_high"] - row["acc"]
    from scipy import stats

    assert row["acc"] == pytest.approx(single.mean())
    assert half == pytest.approx(stats.t.ppf(0.975, 2) * single.std(ddof=1) / np.sqrt(3))


def test_random_subsets_are_drawn_when_there_are_too_many():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, 30)
    preds = rng.integers(0, 3, (9, 30))
    table = ensemble(with_predictions(preds, labels), max_subsets=20, select_split=None).set_index("k")
    assert table.loc[1, "all_subsets"] and table.loc[1, "n_subsets"] == 9
    assert not table.loc[4, "all_subsets"] and table.loc[4, "n_subsets"] == 20
    again = ensemble(with_predictions(preds, labels), max_subsets=20, select_split=None).set_index("k")
    assert np.array_equal(table["acc"], again["acc"])  # seeded


def test_snapshots_of_earlier_epochs_get_no_predictions_of_the_final_mask(tmp_path):
    import warnings

    import torch

    from landscape.reading import read_runs
    from landscape.snapshots import read_snapshots
    from tests.conftest import search_tiny

    torch.set_num_threads(1)
    search_tiny(tmp_path, search_seeds=range(3), extra=["train.snapshot_every=1"])
    final = read_runs(tmp_path)
    snap = read_snapshots(final)
    assert snap.obs["epoch"].nunique() > 2
    with pytest.warns(UserWarning, match="snapshot\\(s\\) of earlier epochs have no stored test predictions"):
        table = agreement(snap)
    # only the final epoch's snapshots are the stored masks the predictions belong to
    last = int(snap.obs["final_epoch"].iloc[0])
    assert table["epoch"].tolist() == [last]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = agreement(final)
    assert table["agreement"].iloc[0] == direct["agreement"].iloc[0]
    assert table["accuracy"].iloc[0] == direct["accuracy"].iloc[0]
    # final masks beside snapshots (concatenated, say) carry NaN epochs: they keep their predictions
    final.obs["epoch"] = final.obs["final_epoch"] = np.nan
    final.obsm.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert agreement(final)["agreement"].iloc[0] == direct["agreement"].iloc[0]


def test_the_summary_over_networks_stops_at_the_smallest_networks_k():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 40)
    preds = rng.integers(0, 3, (7, 40))
    ms = with_predictions(preds, labels, networks=[0, 0, 0, 0, 0, 1, 1])  # 5 masks and 2
    table = ensemble(ms)
    assert table.groupby("weight_seed")["k"].max().to_dict() == {0: 5, 1: 2}
    summary = ms.uns["ensemble"]["summary"]
    # every K over both networks: a larger K would average one network against two at K = 1
    assert summary["k"].tolist() == [1, 2] and (summary["n_networks"] == 2).all()
    assert (summary["interval"] == "networks").all()
    at2 = table[table["k"] == 2]
    assert summary["acc"].iloc[1] == pytest.approx(at2["acc"].mean())


def test_the_best_mask_is_never_chosen_on_the_split_it_is_scored_on():
    labels = np.array([0, 1, 0, 1])
    preds = [[0, 1, 0, 0], [0, 1, 0, 1], [1, 1, 1, 1]]
    val = ([[0, 0], [1, 1], [1, 0]], [0, 0])
    ms = with_predictions(preds, labels, val=val)
    with pytest.raises(AnalysisError, match="select_split='test'"):
        ensemble(ms, select_split="test")
    ms.obsm["logprob_train"] = ms.obsm["logprob_val"]
    ms.obsm["pred_train"], ms.obsm["labels_train"] = ms.obsm["pred_val"], ms.obsm["labels_val"]
    assert ensemble(ms, select_split="train")["best_selected_on"].iloc[0] == "train"
    # scored on validation with the default selection: no best mask, rather than an error
    scored_on_val = ensemble(ms, split="val")
    assert scored_on_val["best_acc"].isna().all() and scored_on_val["best_selected_on"].isna().all()


@pytest.mark.parametrize("order", [0, 1])
def test_a_group_pooling_trained_networks_with_masks_keeps_each_kind_apart(order):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 20)
    preds = rng.integers(0, 3, (6, 20))
    methods = ["dense", "dense", "edge_popup", "edge_popup", "edge_popup", "edge_popup"]
    networks = [0, 1, 0, 0, 1, 1]
    if order:  # the answer must not depend on which mask comes first
        methods, networks = methods[::-1], networks[::-1]
    ms = with_predictions(preds, labels, networks=networks, method=methods)
    table = agreement(ms, groupby="density")
    net = [None if np.isnan(w) else int(w) for w in table["weight_seed"]]
    units = {(w, r.members): (r.n_masks, r.n_pairs) for w, r in zip(net, table.itertuples())}
    # the two trained networks pair with each other; the masks only within their network
    assert units == {(None, "independently trained networks"): (2, 1), (0, "masks of one network"): (2, 1),
                     (1, "masks of one network"): (2, 1)}  # fmt: skip
    sizes = ensemble(ms, groupby="density", select_split=None).groupby(
        ["members", "weight_seed"], dropna=False
    )
    assert sizes["n_masks"].first().tolist() == [2, 2, 2]
