"""Parameters fitted on labelled data, shipped as files next to the scripts that fit them.

    answerability.json      the answer-or-refuse decision   (fit_answerability.py)

Each file records its provenance: the command, the date, the commit, the sets it was fitted on
and the leave-one-set-out figures of the fit.
"""
