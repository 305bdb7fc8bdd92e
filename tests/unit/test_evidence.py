"""Choosing the evidence (rag.evidence), as pure functions: which retrieved papers are sources,
how a paper's sentences are ranked and picked, and how many each source gets. Sentence vectors
are hand-made; the question's vector is [1, 0, ...]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from rag.corpus import Paper
from rag.evidence import (
    RANKED,
    SENTENCE_FEATURES,
    Evidence,
    PaperEvidence,
    SeveralSources,
    candidate_features,
    defines,
    definition_first,
    in_context,
    pick_sentences,
    quote_counts,
    rank_sentences,
    relevant,
    topic_sims,
)
from rag.question import analyse
from rag.retrieval import PaperHit, Retrieval
from rag.text import TermStatistics, content_terms


def hit(name: str, fused: float, sentence: float = 0.0, score: float | None = None) -> PaperHit:
    return PaperHit(name, name, score=fused if score is None else score, fused=fused, sentence=sentence)


def test_a_several_paper_question_takes_papers_close_by_chunk_or_by_sentence() -> None:
    best, by_chunk, by_sentence, far = (
        hit("best", 1.0, 0.60),
        hit("chunk", 0.95, 0.40),
        hit("sent", 0.5, 0.59),
        hit("far", 0.5, 0.4),
    )
    retrieval = Retrieval(
        "Which papers study it?", [best, by_chunk, by_sentence, far], [best, by_chunk, by_sentence, far], 1.0
    )
    chosen = relevant(analyse("Which papers study it?"), retrieval, {}, 0.02, 0.08, 0.025, 3)
    assert {p.paper_id for p in chosen} == {"best", "chunk", "sent"}


def test_a_one_paper_question_cites_only_papers_within_the_margin_of_the_best() -> None:
    papers = [hit("best", 1.0), hit("close", 0.99), hit("closer", 0.995), hit("far", 0.9)]
    retrieval = Retrieval("What is it?", papers, papers, 1.0)
    question = analyse("What is it?")
    assert [p.paper_id for p in relevant(question, retrieval, {}, 0.02, 0.08, 0.025, 3)] == ["best", "close", "closer"]
    assert [p.paper_id for p in relevant(question, retrieval, {}, 0.02, 0.08, 0.025, 2)] == ["best", "close"]
    assert relevant(question, Retrieval("What is it?", [], [], 0.0), {}, 0.02, 0.08, 0.025, 3) == []


def test_quote_counts() -> None:
    assert quote_counts(3, several=False, quote_sentences=3) == [3, 1, 1]
    assert quote_counts(3, several=True, quote_sentences=3) == [2, 2, 2]
    assert quote_counts(0, several=False, quote_sentences=3) == []


def _pick(
    sentences: list[str],
    vectors: list[list[float]],
    question: str,
    n: int,
    parts: Sequence[tuple[str, list[float]]] = (),
) -> list[tuple[int, str]]:
    """`pick_sentences` over one paper, ranked as the answer loop ranks it; each of `parts` is a
    part of the question with its vector, and gets its best sentence."""
    q = analyse(question)
    matrix = np.array(vectors)
    terms = [content_terms(s) for s in sentences]
    vector = np.eye(len(vectors[0]))[0]
    ranked = rank_sentences(q.terms, vector, terms, matrix)
    part_picks = [rank_sentences(content_terms(part), np.array(v), terms, matrix)[0] for part, v in parts]
    return [(i, sentences[i]) for i in pick_sentences(q, ranked, sentences, n, part_picks)]


def test_each_part_of_a_question_gets_its_best_sentence() -> None:
    """The second part shares no word with its answer; its own vector finds it."""
    sentences = [
        "Each layer splits the input into two parallel branches.",
        "With two branches at three levels the network has 8 heads.",
        "Results on CIFAR show that one head beats the baseline.",
    ]
    vectors = [[0.95, 0.31, 0.0], [0.9, 0.44, 0.0], [0.2, 0.1, 0.97]]
    question = "How many heads does the branching network get, and on which image datasets was it tested?"
    parts = [
        ("How many heads does the branching network get", [0.95, 0.31, 0.0]),
        ("on which image datasets was it tested?", [0.0, 0.0, 1.0]),
    ]
    assert _pick(sentences, vectors, question, 2) == [(0, sentences[0]), (1, sentences[1])]
    assert _pick(sentences, vectors, question, 2, parts) == [(i, s) for i, s in enumerate(sentences)]


def test_a_two_part_question_gets_a_sentence_for_each_part() -> None:
    """Two paraphrases of the question's first part lose to one that answers its second part."""
    sentences = [
        "Grokking improves generalization long after overfitting.",
        "Generalization improves suddenly, well past overfitting, by grokking.",
        "Smaller datasets need more optimization steps.",
    ]
    vectors = [[0.95, 0.31], [0.94, 0.34], [0.5, 0.87]]
    question = "When does grokking improve generalization, and how many optimization steps do smaller datasets need?"
    assert _pick(sentences, vectors, question, 2) == [(0, sentences[0]), (2, sentences[2])]  # in abstract order


def test_a_several_paper_answer_quotes_where_each_paper_names_its_contribution() -> None:
    """ "Which papers ...?" is answered by what the papers are called: the sentence that names the
    paper's own method replaces its second-best sentence; a question about one paper keeps both."""
    sentences = [
        "Predicting the accuracy of an architecture is costly.",
        "Predictors estimate accuracy across search spaces from encodings.",
        "We present our predictor FLAN, built on these encodings.",
    ]
    vectors = [[0.95, 0.31], [0.9, 0.44], [0.3, 0.95]]
    several = "Which papers build predictors of architecture accuracy?"
    one = "How does the predictor estimate architecture accuracy?"
    assert _pick(sentences, vectors, several, 2) == [(0, sentences[0]), (2, sentences[2])]
    assert _pick(sentences, vectors, one, 2) == [(0, sentences[0]), (1, sentences[1])]


@pytest.mark.parametrize(
    ("sentences", "asked", "not_asked"),
    [
        (  # a quantity needs a number, and "(1)" is an enumerator, not a number
            [
                "We design a nested U-structure for salient object detection.",
                "The design has two advantages: (1) more context and (2) more depth.",
                "We also release a small version of the salient object detection model of 4.7 MB.",
            ],
            "How large is the small salient object detection model?",
            "What is the small salient object detection model?",
        ),
        (  # "which method" needs a name the question does not use
            [
                "Training neurons one by one replaces backpropagation.",
                "Each neuron is trained on its own.",
                "The method is compared with Particle Swarm Optimization.",
            ],
            "Which search method is the neuron-by-neuron training compared with?",
            "How are the neurons trained without backpropagation?",
        ),
    ],
    ids=["number", "name"],
)
def test_a_sentence_holding_what_the_question_asks_for_is_added(
    sentences: list[str], asked: str, not_asked: str
) -> None:
    vectors = [[0.95, 0.31], [0.9, 0.44], [0.3, 0.95]]
    assert _pick(sentences, vectors, asked, 1) == [(0, sentences[0]), (2, sentences[2])]
    assert _pick(sentences, vectors, not_asked, 1) == [(0, sentences[0])]


def test_rank_sentences_orders_every_sentence_once() -> None:
    vectors = np.array([[0.1, 0.99], [0.9, 0.44], [0.95, 0.31]])
    ranked = rank_sentences(frozenset(), np.array([1.0, 0.0]), [set(), set(), set()], vectors)
    assert ranked == [2, 1, 0]  # no terms: by cosine alone


def test_a_candidate_is_placed_among_the_others_of_its_question() -> None:
    matches = {"cos": 0.0, "term_cover": 0.0, "asked_cos": 0.0, "part_cos": 0.0, "phrase_cos": 0.0}
    cosines = {(0, 0): 0.2, (0, 1): 0.9, (0, 2): 0.5, (1, 0): 0.7}  # (paper, sentence): cosine
    candidates = [(p, i, {**matches, "cos": c, "term_cover": float(i)}) for (p, i), c in cosines.items()]
    in_context(candidates)
    got = {(p, i): f for p, i, f in candidates}
    # neighbours in the same abstract only; 0 at either end
    assert got[(0, 1)]["prev_cos"] == 0.2 and got[(0, 1)]["next_cos"] == 0.5
    assert got[(0, 0)]["prev_cos"] == 0.0 and got[(0, 2)]["next_cos"] == 0.0
    assert got[(1, 0)]["prev_cos"] == 0.0 and got[(1, 0)]["next_cos"] == 0.0
    # ranks over both papers: 0 is the best, ties share a rank
    assert [got[k]["cos_rank"] for k in cosines] == [3.0, 0.0, 2.0, 1.0]
    assert [got[k]["term_cover_rank"] for k in cosines] == [2.0, 1.0, 0.0, 2.0]
    assert set(SENTENCE_FEATURES) >= {"prev_cos", "next_cos", *RANKED}


def test_what_the_question_asks_beyond_the_papers_topic_is_matched_apart_from_the_topic() -> None:
    # two sentences on the paper's topic (axis 0) and one on what is asked (axis 1); the question
    # names the topic strongly and asks the rest
    vectors = np.array([[1.0, 0.0, 0.0], [0.98, 0.0, 0.2], [0.6, 0.8, 0.0]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    question = np.array([0.9, 0.44, 0.0])
    question /= np.linalg.norm(question)
    rest, centrality = topic_sims(question, vectors)
    assert int(np.argmax(vectors @ question)) != 2  # by cosine a topic sentence wins
    assert int(np.argmax(rest)) == 2  # by what is left of the question, the answer does
    assert int(np.argmin(centrality)) == 2


def _features(question: str, sentences: list[str]) -> list[dict[str, float]]:
    q = analyse(question)
    vectors = np.eye(len(sentences))
    evidence = Evidence(
        Retrieval(question, [hit("p", 1.0)], [hit("p", 1.0)], 1.0),
        [PaperEvidence(hit("p", 1.0), Paper("p", "A paper", " ".join(sentences)), sentences, vectors, vectors[0])],
    )
    stats = TermStatistics(sentences)
    return [f for _, _, f in candidate_features(q, evidence, stats)]


def test_a_term_few_of_the_papers_sentences_hold_weighs_more_than_its_topic() -> None:
    sentences = [
        "GraphMuse is a library for graph-based music processing.",
        "It builds music graphs from scores.",
        "Experiments on two music prediction tasks show gains.",
    ]
    features = _features("Which music prediction tasks was the music graph library tested on?", sentences)
    cover = [f["local_cover"] for f in features]
    assert cover[2] > 0.5 > cover[0] and cover[2] == max(cover)
    assert features[2]["term_cover"] - features[0]["term_cover"] < cover[2] - cover[0]


@pytest.mark.parametrize(
    ("question", "sentence", "feature"),
    [
        ("How many layers does the network have?", "The best network has eleven hidden layers.", "quantity_word"),
        ("How many pairs does the benchmark hold?", "It holds more than 600k pairs.", "quantity_word"),
        ("Do most networks use a fraction of their space?", "Our analysis shows that most do.", "yes_no_finding"),
        ("Can a network memorise and generalise?", "We show that it is possible to do both.", "yes_no_finding"),
        ("How are the layers implemented?", "They are built using three basic operations.", "means"),
    ],
)
def test_a_sentence_that_gives_what_the_kind_of_question_asks_for_is_marked(
    question: str, sentence: str, feature: str
) -> None:
    plain = "The method is described in this paper."
    given, other = _features(question, [sentence, plain])
    assert given[feature] == 1.0 and other[feature] == 0.0
    # and only for that kind of question
    assert _features("What is the method called?", [sentence, plain])[0][feature] == 0.0


def test_a_several_paper_answer_cites_the_likeliest_members_above_the_bar() -> None:
    candidates = [(hit("a", 0.5), 0.9), (hit("b", 0.9), 0.6), (hit("c", 0.7), 0.5), (hit("d", 1.0), 0.2)]
    assert [h.paper_id for h in SeveralSources(0.45, 5).choose(candidates)] == ["a", "b", "c"]
    assert [h.paper_id for h in SeveralSources(0.45, 2).choose(candidates)] == ["a", "b"]
    assert SeveralSources(0.95, 5).choose(candidates) == []
    assert SeveralSources.from_dict({"threshold": 0.45, "max_sources": 4, "provenance": {}}) == SeveralSources(0.45, 4)


@pytest.mark.parametrize(
    ("sentence", "thing", "score"),
    [
        ("We propose deep operator networks (DeepONets) to learn operators.", "DeepONets", 1.0),
        ("A DeepONet consists of two sub-networks.", "deeponets", 0.75),  # describes, does not introduce
        ("By presenting PredRNN, a new recurrent network, we ...", "PredRNN", 1.0),
        ("We further propose a new curriculum learning strategy to force PredRNN to learn.", "PredRNN", 0.5),
        ("SalUn is the first principled MU approach.", "SalUn", 0.75),
        ("The method that we call saliency unlearning (SalUn) narrows the gap.", "SalUn", 1.0),
        ('We find common features we call "Rosetta Neurons" across models.', "Rosetta Neurons", 1.0),
        ("Experiments show the merits of the proposed SRWM.", "SRWM", 0.5),  # an adjective, no introduction
        ("Results on ImageNet improve by 2%.", "PredRNN", 0.0),
        ("Anything at all.", "", 0.0),
    ],
)
def test_a_sentence_that_defines_what_is_asked_is_told_from_one_that_names_it(
    sentence: str, thing: str, score: float
) -> None:
    assert defines(sentence, thing) == score


def test_the_likeliest_sentence_that_defines_what_is_asked_leads_if_it_is_of_the_best_paper() -> None:
    # candidates 0-3, likeliest first: 2 (paper 0), 0 (paper 0), 3 (paper 1), 1 (paper 0)
    order, papers = [2, 0, 3, 1], [0, 0, 0, 1]
    assert definition_first(order, papers, [0.0, 1.0, 0.5, 0.0]) == [1, 2, 0, 3]
    assert definition_first(order, papers, [1.0, 1.0, 0.5, 0.0]) == [0, 2, 3, 1]  # the likeliest of two
    assert definition_first(order, papers, [0.0, 0.0, 0.5, 1.0]) == order  # another paper's: no change
    assert definition_first([], [], []) == []
    # one that introduces X before a likelier one that only describes it
    assert definition_first(order, papers, [1.0, 0.0, 0.75, 0.0]) == [0, 2, 3, 1]
    assert definition_first(order, papers, [0.75, 0.0, 0.5, 0.0]) == [0, 2, 3, 1]
