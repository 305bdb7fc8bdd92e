"""The corpus as (title, abstract) pairs, for the held-out checkers (plain Python, no venv)."""

ROOT = __file__.rsplit('/eval/', 1)[0]


def load():
    """Titles and abstracts of corpus/papers.txt, in order; "Subscribe" cut from the first title."""
    body = open(f'{ROOT}/corpus/papers.txt').read().split('\n')[2:]  # two page-chrome lines on top
    while body and body[-1] == '':
        body.pop()
    assert len(body) % 2 == 0
    titles = body[0::2]
    assert titles[0].startswith('Subscribe')
    titles[0] = titles[0][len('Subscribe'):]
    return titles, body[1::2]
