"""Parameters fitted on labelled data, shipped as files next to the scripts that fit them.

    answer_sentence.json    which sentence holds the answer          (fit_sentences.py)
    answerability.json      the answer-or-refuse decision            (fit_answerability.py)
    membership.json         which papers belong in a topic summary   (fit_membership.py)
    several_sources.json    which members a several-paper answer cites (fit_several.py)
    several_kind.json       whether a question asks about several papers (fit_kind.py)

Each file records its provenance: the command, the date, the commit, the sets it was fitted on
and the leave-one-set-out figures of the fit.
"""
