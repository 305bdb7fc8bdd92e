"""What a question asks (rag.question), read once by `analyse`: its terms and names, its parts,
whether it wants several papers, what kind of answer it asks for, its subject, and for a request
for a summary, its topic."""

from __future__ import annotations

import json

import pytest
from summary_phrasings import PHRASINGS

from rag.errors import QuestionError
from rag.question import SEVERAL_FEATURES, SEVERAL_PARAMS, Question, analyse, several_features, topic_phrase, validate


def test_analyse_reads_every_field_once() -> None:
    q = analyse("  How many layers does the DCGAN generator have,   and which datasets   were used? ")
    assert isinstance(q, Question)
    assert q.text == "How many layers does the DCGAN generator have, and which datasets were used?"
    assert q.named == ("DCGAN",)
    assert {"layers", "dcgan", "genera", "datase"} <= q.terms
    assert q.parts == ("How many layers does the DCGAN generator have", "which datasets were used?")
    assert q.quantity and not q.name and not q.person and not q.several
    assert q.topic is None and not q.is_summary_request
    with pytest.raises(AttributeError):
        q.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("question", "quantity", "name", "person"),
    [
        ("What learning rate did the DCGAN authors use?", True, False, False),
        ("Which method is SalUn compared with?", False, True, False),
        ("What is grokking?", False, False, False),
        ("Who proposed DCGANs?", False, False, True),
        ("Which authors introduced DCGANs?", False, True, True),
    ],
)
def test_the_kind_of_answer_asked_for(question: str, quantity: bool, name: bool, person: bool) -> None:
    q = analyse(question)
    assert (q.quantity, q.name, q.person) == (quantity, name, person)


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("What are membership inference attacks?", ("membership", "inference", "attacks")),
        ("How does speculative decoding use a small draft model?", ("speculative", "decoding")),
        ("How do the papers here decode?", ()),
        ("Which decoding is fastest?", ()),
    ],
)
def test_the_subject_of_a_what_is_question(question: str, subject: tuple[str, ...]) -> None:
    assert analyse(question).subject == subject


@pytest.mark.parametrize(
    ("question", "several"),
    [
        ("Which papers use triplet losses?", True),
        ("Is there work on learnable activation functions?", True),
        ("Compare the two neural collapse papers.", True),
        ("Which paper introduces DCGANs?", False),
        ("Which paper studies how GNNs scale?", False),  # "studies" the verb
        ("Which studies report grokking?", True),
        ("How many layers does the looped transformer have?", False),
        # one paper's comparison, or its account of other methods, asks about that paper
        ("How does the proposed pooling layer compare with max pooling on CIFAR-10?", False),
        ("Why do earlier pruning methods that work layer by layer lose accuracy?", False),
        ("Compare the approaches to merging trained models into one.", True),
    ],
)
def test_several_paper_questions(question: str, several: bool) -> None:
    assert analyse(question).several is several


def test_a_question_about_the_collection_is_a_request_for_a_summary() -> None:
    # routed to the summaries by every interface, whatever `several` says
    assert analyse("What does this collection say about grokking?").is_summary_request


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        ("What is grokking?", ["What is grokking?"]),
        (
            "How many heads does it get, and on which datasets was it tested?",
            ["How many heads does it get", "on which datasets was it tested?"],
        ),
        ("Which GPU and how long did training take?", ["Which GPU", "how long did training take?"]),
        (
            "Can one layer approximate anything? Which papers prove it?",
            ["Can one layer approximate anything?", "Which papers prove it?"],
        ),
        ("How do CNNs and transformers compare on ImageNet?", ["How do CNNs and transformers compare on ImageNet?"]),
    ],
)
def test_the_things_a_question_asks(question: str, parts: list[str]) -> None:
    assert analyse(question).parts == tuple(parts)


def test_summary_requests_are_recognised() -> None:
    assert analyse("Summarize what the collection says about grokking").is_summary_request
    assert analyse("Give me an overview of meta-learning").topic == "meta-learning"
    assert not analyse("Which paper proposes a summary statistic?").is_summary_request
    assert (
        topic_phrase("Summarize what the collection says about self-supervised learning.") == "self-supervised learning"
    )
    assert analyse("Summarize what the collection says about grokking").topic == "grokking"


@pytest.mark.parametrize(("request_text", "topic"), PHRASINGS)
def test_the_topic_is_taken_from_every_phrasing(request_text: str, topic: str) -> None:
    assert analyse(request_text).topic == topic


def test_questions_are_validated() -> None:
    assert validate("  What \n is  grokking? ", 100) == "What is grokking?"
    for empty in ("", "   \n\t "):
        with pytest.raises(QuestionError, match="empty"):
            analyse(empty)
    with pytest.raises(QuestionError, match="limit"):
        analyse("why " * 20, max_chars=50)


def test_the_several_paper_decision_reads_its_cues_as_fitted() -> None:
    data = json.loads(SEVERAL_PARAMS.read_text(encoding="utf-8"))
    assert tuple(data["features"]) == SEVERAL_FEATURES
    assert data["provenance"]["command"] == "python -m rag.params.fit_kind"
    cues = several_features("Which papers compare the approaches in this collection?")
    assert set(cues) == set(SEVERAL_FEATURES)
    assert cues["paper_nouns"] == cues["which_plural"] == cues["collection"] == 1.0
    assert cues["singular"] == cues["named"] == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "faster rcnn w/ vgg-16, how many fps does it run at on a gpu",
        "the supermask paper - what pruning rate do they reach",
    ],
)
def test_a_question_typed_without_its_mark_is_not_a_bare_topic(text: str) -> None:
    assert not analyse(text).is_summary_request
    assert analyse("pruning of recurrent networks").is_summary_request  # a bare topic still is


@pytest.mark.parametrize(
    ("request_text", "topic"),
    [
        ("what do these papers say abt diffusion models", "diffusion models"),
        ("Summarize what the papers do with medical scans, such as outlining organs in 3D", "medical scans"),
        # "like" within a topic belongs to it; after a comma it starts the examples
        (
            "What do these papers say about wide networks behaving like Gaussian processes?",
            "wide networks behaving like Gaussian processes",
        ),
        ("overview of activation functions, like GELU or PReLU", "activation functions"),
        # a topic as shown starts with its noun
        ("Summarise results on the expressive power of transformers", "expressive power of transformers"),
        ("Summarize the adversarial robustness of neural networks", "adversarial robustness of neural networks"),
    ],
)
def test_the_topic_of_requests_as_people_type_them(request_text: str, topic: str) -> None:
    assert analyse(request_text).topic == topic


@pytest.mark.parametrize("text", ["paper on crypto trading bots w/ NNs", "spiking net for self driving paper"])
def test_a_bare_text_asking_for_one_paper_is_a_question(text: str) -> None:
    assert not analyse(text).is_summary_request
    assert analyse("papers on crypto trading bots").topic == "crypto trading bots"  # several papers: a summary


@pytest.mark.parametrize(
    "text",
    [
        "u2net model size",
        "usb fixmatch gpu days",
        "conv kernel machine cifar10 acc",
        "resnet accuracy on imagenet",  # what it is measured on may follow
        "gumbel softmax trick explained",  # asks what something is
    ],
)
def test_a_bare_text_asking_for_a_measure_or_a_meaning_is_a_question(text: str) -> None:
    assert not analyse(text).is_summary_request
    # a plural measure ends a topic, and a measure may start one
    assert analyse("adaptive learning rates for transformers").topic == "adaptive learning rates for transformers"
    assert analyse("error bounds for deep nets").topic == "error bounds for deep nets"


@pytest.mark.parametrize(
    ("text", "premise"),
    [
        ("Why is GELU worse than ReLU?", -1),
        ("why do diffusion models beat GANs", 1),
        ("Why does the aligner not improve timing errors?", -1),  # a denial turns it over
        ("So why does depth help less here?", -1),
        ("In the paper on why graph networks lose information, does depth help?", 0),  # a clause, not the ask
        ("What makes GELU better than ReLU?", 0),
    ],
)
def test_a_why_question_reads_the_direction_it_takes_as_given(text: str, premise: int) -> None:
    assert analyse(text).premise == premise


@pytest.mark.parametrize(
    ("text", "thing"),
    [
        ("What is NorMuon?", "NorMuon"),
        ("what's a KAN", "KAN"),
        ("What does NorMuon do?", "NorMuon"),
        ("NorMuon: what is it?", "NorMuon"),
        ("what is meant by benign overfitting", "benign overfitting"),
        ("what's over-squashing in gnns", "over-squashing"),  # the context is not the thing
        ("explain MEDUSA in medical imaging", "MEDUSA"),
        ("NorMuon?", "NorMuon"),
        ("What is the learning rate of DCGAN?", ""),  # a property, not a thing
        ("How does NorMuon work?", ""),
        ("summarize the work on grokking", ""),  # a summary request
        ("RLHF explained?", "RLHF"),
        ("antn stands for what", "antn"),
        ("So what is NorMuon, in simple terms?", "NorMuon"),
        ("what does layer norm do in transformers", "layer norm"),
        ("Neural Turing Machines?", "Neural Turing Machines"),
        # longer texts ask something else of a thing (session 18: these were read as definitions)
        ("What is the reason for freezing the hidden layer of a network at random values?", ""),
        ("Depending on the activation function, which classifiers do wide networks become?", ""),
        ("What datasets was UniPlane tested on?", ""),
        ("UniFormer top-1 on Kinetics-400?", ""),
        ("UniVoxel per-scene training time?", ""),
        ("whats in here on random features models?", ""),
    ],
)
def test_what_a_what_is_question_asks_to_have_defined(text: str, thing: str) -> None:
    assert analyse(text).defined == thing


@pytest.mark.parametrize(
    ("text", "read_as"),
    [
        ("what does grokking mean", "What is grokking?"),
        ("explain MEDUSA in medical imaging", "What is MEDUSA in medical imaging?"),
        ("whats JULE", "What is JULE?"),
        ("So what is NorMuon, in simple terms?", "What is NorMuon?"),
        ("How does NorMuon work?", "How does NorMuon work?"),
    ],
)
def test_a_definition_question_is_read_in_one_form_whatever_its_wording(text: str, read_as: str) -> None:
    question = analyse(text)
    assert question.read_as == read_as and question.text == text
    assert question.terms == analyse(read_as).terms  # "mean", "explain", "whats" are no topic
